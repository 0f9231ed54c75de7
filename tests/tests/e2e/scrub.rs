//! Bit rot where no replica can repair it (`cairn server`, R = 1): a chunk file
//! with 4 bytes flipped is never served — the GET fails with an error response,
//! not bad bytes — and the scrub moves it aside and reports the object it
//! belongs to (bucket, key, version) in `/metrics` and the log. The cluster
//! variant (repair from replicas) is `tests/tests/scrub.rs`; under
//! `CAIRN_TEST_CLUSTER` this test is skipped, with the reason printed.

use cairn_tests::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn corrupt_chunk_without_replica_is_refused_and_reported() {
    if test_cluster_size().is_some() {
        eprintln!("skipped: single-node behaviour; clusters are covered by tests/tests/scrub.rs");
        return;
    }
    let server = Server::start(ServerOpts::new().node_args(&[
        "--scrub-interval",
        "2",
        "--scrub-bandwidth",
        "0",
    ]))
    .await;
    let c = server.client();
    create_bucket(&c, "rotten").await;
    let data = payload(0x5C2B, 2 * MIB);
    put(&c, "rotten", "photos/cat.jpg", data.clone()).await;
    let intact = payload(0x1D, 2 * MIB);
    put(&c, "rotten", "intact", intact.clone()).await;
    let id = &chunk_ids_of(&data, DEFAULT_CHUNK)[0];
    let path = server
        .data_dir
        .join("chunks")
        .join(&id[0..2])
        .join(&id[2..4])
        .join(id);
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[1000..1004] {
        *b ^= 0xFF;
    }
    std::fs::write(&path, &bytes).unwrap();

    let started = Instant::now();
    let resp = c
        .get_object()
        .bucket("rotten")
        .key("photos/cat.jpg")
        .send()
        .await;
    let err = match resp {
        Ok(r) => {
            let body = r.body.collect().await.map(|b| b.into_bytes());
            panic!(
                "GET of a corrupt chunk answered 200 (body: {:?} bytes, equal: {:?})",
                body.as_ref().map(|b| b.len()).ok(),
                body.as_ref().map(|b| b[..] == data[..]).ok()
            );
        }
        Err(e) => e,
    };
    let status = err.raw_response().map(|r| r.status().as_u16());
    println!(
        "GET failed after {:?}: {} (HTTP {status:?})",
        started.elapsed(),
        describe(&err)
    );
    assert_eq!(status, Some(500), "{}", describe(&err));
    assert_eq!(get_bytes(&c, "rotten", "intact").await, intact);

    let gauge = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let affected = format!(
        "cairn_scrub_affected_object{{bucket=\"rotten\",key=\"photos/cat.jpg\",version=\"\",chunk=\"{id}\"}} 1"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = server
            .http()
            .get(server.url("metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(&affected) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no affected object in /metrics:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("reported {:?} after the corruption", started.elapsed());
    assert_eq!(gauge(&text, "cairn_scrub_corrupt_found_total"), Some(1.0));
    assert_eq!(gauge(&text, "cairn_scrub_unrepairable_total"), Some(1.0));
    assert_eq!(gauge(&text, "cairn_scrub_repaired_total"), Some(0.0));
    assert_eq!(gauge(&text, "cairn_scrub_unrepaired_chunks"), Some(1.0));
    assert!(!path.exists(), "the corrupt file is still in place");
    let quarantined = std::fs::read_dir(server.data_dir.join("chunks").join("quarantine"))
        .unwrap()
        .count();
    assert_eq!(quarantined, 1);
    let log = server.log_tail(256 * 1024);
    assert!(
        log.lines().any(|l| l.contains("rotten")
            && l.contains("photos/cat.jpg")
            && l.contains("no replica can give back")),
        "the log does not name the object:\n{log}"
    );
    // Still refused (the chunk is now missing), the other object still served.
    assert!(c
        .get_object()
        .bucket("rotten")
        .key("photos/cat.jpg")
        .send()
        .await
        .is_err());
    assert_eq!(get_bytes(&c, "rotten", "intact").await, intact);
}
