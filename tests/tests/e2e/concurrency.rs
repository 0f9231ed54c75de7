#![allow(clippy::unwrap_used)]
//! Concurrent clients: atomic overwrites, no torn reads, parallel uploads.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overwrites_same_key() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "race").await;
    let mut tasks = Vec::new();
    let mut md5s = HashSet::new();
    for t in 0..8u64 {
        let bodies: Vec<Vec<u8>> = (0..4)
            .map(|i| payload(t * 100 + i, 2 * MIB + 1000 * t as usize))
            .collect();
        for b in &bodies {
            md5s.insert(md5_hex(b));
        }
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for b in bodies {
                put(&c, "race", "hot", b).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let resp = c
        .get_object()
        .bucket("race")
        .key("hot")
        .send()
        .await
        .unwrap();
    let etag = resp.e_tag().unwrap().to_string();
    let len = resp.content_length().unwrap();
    let data = resp.body.collect().await.unwrap().into_bytes();
    let md5 = md5_hex(&data);
    assert!(
        md5s.contains(&md5),
        "final content is not one of the bodies written"
    );
    assert_eq!(
        etag,
        format!("\"{md5}\""),
        "ETag does not match the content"
    );
    assert_eq!(len, data.len() as i64);
    assert_eq!(list_keys(&c, "race").await, vec!["hot"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_never_see_torn_objects() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "torn").await;
    let a = payload(1, 3 * MIB + 17);
    let b = payload(2, 3 * MIB + 17);
    let (ma, mb) = (md5_hex(&a), md5_hex(&b));
    put(&c, "torn", "obj", a.clone()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let writer = {
        let c = c.clone();
        let stop = stop.clone();
        let (a, b) = (a.clone(), b.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let body = if n.is_multiple_of(2) {
                    b.clone()
                } else {
                    a.clone()
                };
                put(&c, "torn", "obj", body).await;
                n += 1;
            }
            n
        })
    };
    let mut readers = Vec::new();
    for r in 0..3 {
        let c = c.clone();
        let stop = stop.clone();
        let reads = reads.clone();
        let (ma, mb) = (ma.clone(), mb.clone());
        let (a, b) = (a.clone(), b.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                if r == 2 {
                    // Ranged read across a chunk boundary.
                    let resp = c
                        .get_object()
                        .bucket("torn")
                        .key("obj")
                        .range(format!("bytes={}-{}", MIB - 100, 2 * MIB + 100))
                        .send()
                        .await
                        .unwrap();
                    let etag = resp.e_tag().unwrap().to_string();
                    let got = resp.body.collect().await.unwrap().into_bytes();
                    let expected = if etag == format!("\"{ma}\"") {
                        &a[MIB - 100..=2 * MIB + 100]
                    } else if etag == format!("\"{mb}\"") {
                        &b[MIB - 100..=2 * MIB + 100]
                    } else {
                        panic!("unexpected ETag {etag}");
                    };
                    assert!(
                        got.as_ref() == expected,
                        "ranged read does not match its ETag"
                    );
                } else {
                    let resp = c
                        .get_object()
                        .bucket("torn")
                        .key("obj")
                        .send()
                        .await
                        .unwrap();
                    let etag = resp.e_tag().unwrap().to_string();
                    let got = resp.body.collect().await.unwrap().into_bytes();
                    let m = md5_hex(&got);
                    assert!(m == ma || m == mb, "torn read: content is neither version");
                    assert_eq!(
                        etag,
                        format!("\"{m}\""),
                        "ETag and body from different versions"
                    );
                }
                reads.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let writes = writer.await.unwrap();
    for r in readers {
        r.await.unwrap();
    }
    let reads = reads.load(Ordering::SeqCst);
    assert!(
        writes > 2 && reads > 2,
        "too little activity: {writes} writes, {reads} reads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_parallel_puts_different_keys() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "par").await;
    let mut tasks = Vec::new();
    for i in 0..48u64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let size = match i % 4 {
                0 => 0,
                1 => 1000,
                2 => 70_000,
                _ => MIB + 1,
            };
            let data = payload(i, size);
            put(&c, "par", &format!("key-{i:02}"), data).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let keys = list_keys(&c, "par").await;
    assert_eq!(keys.len(), 48);
    for i in 0..48u64 {
        let size = match i % 4 {
            0 => 0,
            1 => 1000,
            2 => 70_000,
            _ => MIB + 1,
        };
        assert_eq!(
            get_bytes(&c, "par", &format!("key-{i:02}")).await,
            payload(i, size),
            "key-{i:02}"
        );
    }
    // Parallel deletes.
    let mut tasks = Vec::new();
    for i in 0..48u64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.delete_object()
                .bucket("par")
                .key(format!("key-{i:02}"))
                .send()
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(list_keys(&c, "par").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_part_uploads() {
    const PART: usize = 5 * MIB;
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "ppu").await;
    let id = c
        .create_multipart_upload()
        .bucket("ppu")
        .key("obj")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let sem = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for n in 1..=8i32 {
        let c = c.clone();
        let id = id.clone();
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let size = if n == 8 { 123_456 } else { PART };
            let data = payload(n as u64, size);
            let e = c
                .upload_part()
                .bucket("ppu")
                .key("obj")
                .upload_id(&id)
                .part_number(n)
                .body(streaming_body(data))
                .send()
                .await
                .unwrap_or_else(|e| panic!("part {n}: {}", describe(&e)));
            (n, e.e_tag().unwrap().to_string())
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await.unwrap());
    }
    parts.sort();
    let lp = c
        .list_parts()
        .bucket("ppu")
        .key("obj")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(lp.parts().len(), 8);
    c.complete_multipart_upload()
        .bucket("ppu")
        .key("obj")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(
                    parts
                        .iter()
                        .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build())
                        .collect(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut whole = Vec::new();
    for n in 1..=8u64 {
        whole.extend_from_slice(&payload(n, if n == 8 { 123_456 } else { PART }));
    }
    let got = get_bytes(&c, "ppu", "obj").await;
    assert!(got == whole, "parallel multipart content differs");
}
