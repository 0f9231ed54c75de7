#![allow(clippy::unwrap_used)]
//! Content-addressed chunk deduplication and garbage collection.

use std::time::{Duration, Instant};

use cairn_tests::*;
use md5::{Digest, Md5};

/// Poll until `pred(chunk_files)` holds or `timeout` passes; returns the last value.
async fn wait_chunks(
    server: &Server,
    timeout: Duration,
    pred: impl Fn((usize, u64)) -> bool,
) -> (usize, u64) {
    let deadline = Instant::now() + timeout;
    loop {
        let v = server.chunk_files();
        if pred(v) || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn md5_of_object(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let mut resp = c.get_object().bucket(bucket).key(key).send().await.unwrap();
    let mut h = Md5::new();
    while let Some(chunk) = resp.body.try_next().await.unwrap() {
        h.update(&chunk);
    }
    hex::encode(h.finalize())
}

#[tokio::test]
async fn identical_objects_share_chunks_and_gc_reclaims() {
    const SIZE: usize = 64 * MIB;
    let mut server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "dedup").await;

    let data = bytes::Bytes::from(payload(0xD0D0, SIZE));
    let md5 = md5_hex(&data);
    put(&c, "dedup", "first", data.clone()).await;
    put(&c, "dedup", "second", data.clone()).await;
    drop(data);

    let (count, total) = server.chunk_files();
    assert_eq!(
        count,
        SIZE / DEFAULT_CHUNK,
        "expected one set of 16 chunk files, found {count} ({total} bytes)"
    );
    assert!(
        total >= (SIZE as u64) * 95 / 100 && total <= (SIZE as u64) * 105 / 100,
        "chunk files total {total} bytes, expected ≈ {SIZE} (not 2×)"
    );
    assert_eq!(md5_of_object(&c, "dedup", "first").await, md5);
    assert_eq!(md5_of_object(&c, "dedup", "second").await, md5);

    c.delete_object()
        .bucket("dedup")
        .key("first")
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket("dedup")
        .key("second")
        .send()
        .await
        .unwrap();

    server.restart_with(ServerOpts::new().gc(0, 1)).await;
    let (count, total) = wait_chunks(&server, Duration::from_secs(15), |(n, _)| n == 0).await;
    assert_eq!(
        count, 0,
        "unreferenced chunk files not collected within 15 s ({total} bytes left)"
    );
    let c = server.client();
    assert!(list_keys(&c, "dedup").await.is_empty());
}

#[tokio::test]
async fn gc_never_removes_referenced_chunks() {
    const SIZE: usize = 8 * MIB + 12_345;
    let server = Server::start(ServerOpts::new().chunk_size(MIB).gc(0, 1)).await;
    let c = server.client();
    create_bucket(&c, "gcb").await;
    let data = payload(77, SIZE);
    put(&c, "gcb", "a", data.clone()).await;
    put(&c, "gcb", "b", data.clone()).await;
    let (count_before, _) = server.chunk_files();
    assert_eq!(
        count_before,
        SIZE.div_ceil(MIB),
        "chunk files for {SIZE} bytes"
    );

    c.delete_object()
        .bucket("gcb")
        .key("a")
        .send()
        .await
        .unwrap();
    // Several GC cycles.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        server.chunk_files().0,
        count_before,
        "GC removed chunks still referenced by b"
    );
    assert_eq!(get_bytes(&c, "gcb", "b").await, data);

    // Chunks shared between an object and an in-flight re-upload of the same data.
    put(&c, "gcb", "c", data.clone()).await;
    c.delete_object()
        .bucket("gcb")
        .key("b")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(get_bytes(&c, "gcb", "c").await, data);

    // Partial overlap: same first 4 MiB, different rest.
    let mut d = data.clone();
    for byte in d[4 * MIB..].iter_mut() {
        *byte = byte.wrapping_add(1);
    }
    put(&c, "gcb", "d", d.clone()).await;
    let (count, _) = server.chunk_files();
    assert_eq!(
        count,
        SIZE.div_ceil(MIB) + (SIZE - 4 * MIB).div_ceil(MIB),
        "first 4 chunks shared between c and d"
    );
    c.delete_object()
        .bucket("gcb")
        .key("c")
        .send()
        .await
        .unwrap();
    let (count, _) = wait_chunks(&server, Duration::from_secs(15), |(n, _)| {
        n == SIZE.div_ceil(MIB)
    })
    .await;
    assert_eq!(count, SIZE.div_ceil(MIB), "only d's chunks remain");
    assert_eq!(get_bytes(&c, "gcb", "d").await, d);

    c.delete_object()
        .bucket("gcb")
        .key("d")
        .send()
        .await
        .unwrap();
    let (count, _) = wait_chunks(&server, Duration::from_secs(15), |(n, _)| n == 0).await;
    assert_eq!(count, 0, "chunks left after deleting every object");
}

#[tokio::test]
async fn gc_keeps_chunks_of_overwritten_then_restored_data() {
    // Overwrite an object, then write the original content again under another key
    // while GC is running; reads must never fail.
    let server = Server::start(ServerOpts::new().chunk_size(MIB).gc(0, 1)).await;
    let c = server.client();
    create_bucket(&c, "gcb").await;
    let v1 = payload(1, 3 * MIB);
    let v2 = payload(2, 3 * MIB);
    for round in 0..6 {
        put(&c, "gcb", "k", v1.clone()).await;
        put(&c, "gcb", "k", v2.clone()).await;
        put(&c, "gcb", "other", v1.clone()).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(get_bytes(&c, "gcb", "k").await, v2, "round {round}: k");
        assert_eq!(
            get_bytes(&c, "gcb", "other").await,
            v1,
            "round {round}: other"
        );
        c.delete_object()
            .bucket("gcb")
            .key("other")
            .send()
            .await
            .unwrap();
    }
    let (count, _) = wait_chunks(&server, Duration::from_secs(15), |(n, _)| n == 3).await;
    assert_eq!(count, 3, "only v2's chunks remain");
    assert_eq!(get_bytes(&c, "gcb", "k").await, v2);
}

#[tokio::test]
async fn multipart_parts_dedup_with_plain_objects() {
    // A multipart upload whose parts are chunk-aligned reuses the chunks of an
    // identical plain object.
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "ddd").await;
    let data = payload(3, 10 * MIB);
    put(&c, "ddd", "plain", data.clone()).await;
    assert_eq!(server.chunk_files().0, 10);

    let id = c
        .create_multipart_upload()
        .bucket("ddd")
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let mut parts = Vec::new();
    for (n, range) in [(1, 0..5 * MIB), (2, 5 * MIB..10 * MIB)] {
        let e = c
            .upload_part()
            .bucket("ddd")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(body(data[range].to_vec()))
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .to_string();
        parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(e)
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket("ddd")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "ddd", "mp").await, data);
    assert_eq!(
        server.chunk_files().0,
        10,
        "multipart parts not deduplicated"
    );
}

#[tokio::test]
async fn gc_keeps_parts_of_pending_uploads_and_reclaims_aborted() {
    const PART: usize = 5 * MIB;
    let server = Server::start(ServerOpts::new().chunk_size(MIB).gc(0, 1)).await;
    let c = server.client();
    create_bucket(&c, "pend").await;
    let id = c
        .create_multipart_upload()
        .bucket("pend")
        .key("slow")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let p1 = payload(1, PART);
    let e1 = c
        .upload_part()
        .bucket("pend")
        .key("slow")
        .upload_id(&id)
        .part_number(1)
        .body(body(p1.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    assert_eq!(server.chunk_files().0, 5);
    // Several GC passes while the upload is pending.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        server.chunk_files().0,
        5,
        "GC removed chunks of a pending upload's part"
    );
    let p2 = payload(2, 1000);
    let e2 = c
        .upload_part()
        .bucket("pend")
        .key("slow")
        .upload_id(&id)
        .part_number(2)
        .body(body(p2.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    c.complete_multipart_upload()
        .bucket("pend")
        .key("slow")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(e1)
                        .build(),
                )
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(2)
                        .e_tag(e2)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("complete after GC passes: {}", describe(&e)));
    let mut whole = p1;
    whole.extend_from_slice(&p2);
    assert_eq!(get_bytes(&c, "pend", "slow").await, whole);
    let (with_object, _) = server.chunk_files();

    // An aborted upload's chunks are reclaimed.
    let id = c
        .create_multipart_upload()
        .bucket("pend")
        .key("aborted")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    c.upload_part()
        .bucket("pend")
        .key("aborted")
        .upload_id(&id)
        .part_number(1)
        .body(body(payload(3, PART)))
        .send()
        .await
        .unwrap();
    assert_eq!(server.chunk_files().0, with_object + 5);
    c.abort_multipart_upload()
        .bucket("pend")
        .key("aborted")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let (count, _) = wait_chunks(&server, Duration::from_secs(15), |(n, _)| n == with_object).await;
    assert_eq!(count, with_object, "aborted upload's chunks not reclaimed");
    assert_eq!(get_bytes(&c, "pend", "slow").await, whole);
}

/// An upload slower than the grace period: with `--gc-grace 0` and a pass every
/// second, a PUT that streams its body over ~5 s must commit with every chunk
/// present (its chunks are pinned while it runs), and once deleted, its chunks
/// are collected (the pins were released at commit).
#[tokio::test]
async fn an_upload_slower_than_the_grace_period_keeps_its_chunks() {
    use futures::StreamExt;
    const SIZE: usize = 6 * MIB;
    let server = Server::start(ServerOpts::new().chunk_size(MIB).gc(0, 1)).await;
    let c = server.client();
    create_bucket(&c, "slow").await;
    let data = payload(91, SIZE);
    let url = server.url("slow/big");
    let signed = sign_request("PUT", &url, &[], PayloadMode::Unsigned);
    let pieces: Vec<bytes::Bytes> = data
        .chunks(256 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    // 24 pieces, one every 200 ms: the first chunks are ~5 s old at commit.
    let slow = futures::stream::iter(pieces).then(|p| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok::<_, std::io::Error>(p)
    });
    let mut rb = server
        .http()
        .put(&url)
        .header("content-length", SIZE.to_string())
        .body(reqwest::Body::wrap_stream(slow));
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 200, "slow PUT refused: {text}");
    // Several passes after the commit: every chunk is still there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        get_bytes(&c, "slow", "big").await,
        data,
        "a committed object lost chunks"
    );
    c.delete_object()
        .bucket("slow")
        .key("big")
        .send()
        .await
        .unwrap();
    let (count, _) = wait_chunks(&server, Duration::from_secs(20), |(n, _)| n == 0).await;
    assert_eq!(count, 0, "chunks of a deleted object stayed pinned");
}
