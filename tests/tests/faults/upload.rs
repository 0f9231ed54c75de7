//! Scenario 8: the gateway is killed (SIGKILL) in the middle of a large PUT whose
//! chunks are already landing on the nodes. The object must never become
//! visible, and its orphaned chunks must be collected once the GC grace period
//! (5 s here, `cairn node --gc-grace`) and the in-memory pin of a write in flight
//! (`PIN_WINDOW`, 60 s: the node cannot tell a dead writer from a slow one) have
//! passed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::{load_for, Fault, CHUNK, READBACK};
use cairn_tests::*;

const GRACE: u64 = 5;

/// The ids of `ids` that some node holds.
fn present(f: &Fault, ids: &[String]) -> BTreeSet<String> {
    let holders = f.cluster.chunk_holders();
    ids.iter()
        .filter(|id| holders.contains_key(*id))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s8_gateway_killed_mid_upload() {
    let f_opts = ServerOpts::new().gc(GRACE, 1);
    let mut f = Fault::launch(f_opts).await;
    let v = f.verifier("s8").await;
    load_for(4).await;

    // A 12 MiB PUT streamed slowly (one chunk every 100 ms).
    let data = Bytes::from(payload(0x0DEAD, 96 * CHUNK));
    let ids = chunk_ids_of(&data, CHUNK);
    let url = format!("{}/fault-s8/big", f.cluster.endpoint());
    let len = data.len().to_string();
    let signed = sign_request(
        "PUT",
        &url,
        &[("content-length", &len)],
        PayloadMode::Unsigned,
    );
    let pieces: Vec<Bytes> = (0..96)
        .map(|i| data.slice(i * CHUNK..(i + 1) * CHUNK))
        .collect();
    let body = futures::stream::unfold(pieces.into_iter(), |mut it| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        it.next().map(|b| (Ok::<Bytes, std::io::Error>(b), it))
    });
    let mut req = reqwest::Client::new()
        .put(&url)
        .header("content-length", &len)
        .body(reqwest::Body::wrap_stream(body));
    for (k, val) in signed {
        req = req.header(k, val);
    }
    let upload = tokio::spawn(req.send());

    let start = Instant::now();
    while present(&f, &ids).len() < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the upload's chunks never reached the nodes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f.cluster.kill9_gateway();
    let orphans = present(&f, &ids);
    println!(
        "gateway killed with {} of the upload's {} chunks stored",
        orphans.len(),
        ids.len()
    );
    let res = upload.await.expect("upload task");
    assert!(
        res.as_ref().map_or(true, |r| !r.status().is_success()),
        "the interrupted PUT was acknowledged: {res:?}"
    );
    f.cluster.start_gateway().await;
    v.wait_writes(
        20,
        Duration::from_secs(30),
        "writes after the gateway restart",
    )
    .await;

    // Never visible, not even half.
    let c = f.cluster.client();
    let head = c.head_object().bucket("fault-s8").key("big").send().await;
    assert!(head.is_err(), "the interrupted object is visible: {head:?}");
    assert!(
        !list_keys(&c, "fault-s8").await.contains(&"big".to_string()),
        "the interrupted object is listed"
    );

    // The orphaned chunks go once the grace period has passed.
    let start = Instant::now();
    let limit = cairn_node::storage::chunk_store::PIN_WINDOW.max(Duration::from_secs(GRACE))
        + Duration::from_secs(20);
    loop {
        let left = present(&f, &ids);
        if left.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "{} orphaned chunks of the interrupted upload still stored {limit:?} after the kill",
            left.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "orphaned chunks collected {:?} after the kill (grace {GRACE} s, pin window 60 s)",
        start.elapsed()
    );
    load_for(3).await;
    let s = v.finish("8 gateway killed mid-upload", READBACK).await;
    s.assert_clean(100);
}
