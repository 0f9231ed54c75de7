#![allow(clippy::unwrap_used)]
//! Multipart uploads.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use cairn_tests::*;
use md5::{Digest, Md5};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

const PART: usize = 5 * MIB;

async fn create(c: &Client, bucket: &str, key: &str) -> String {
    c.create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateMultipartUpload: {}", describe(&e)))
        .upload_id()
        .expect("UploadId")
        .to_string()
}

async fn upload_part(
    c: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    n: i32,
    data: Vec<u8>,
) -> String {
    c.upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(body(data))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPart {n}: {}", describe(&e)))
        .e_tag()
        .expect("part ETag")
        .to_string()
}

fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build())
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn multipart_basic() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "mpu").await;

    let id = c
        .create_multipart_upload()
        .bucket("mpu")
        .key("big/object")
        .content_type("application/octet-stream-custom")
        .metadata("origin", "multipart")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();

    let p1 = payload(1, PART);
    let p2 = payload(2, PART + 12345);
    let p3 = payload(3, 1000);
    let e1 = upload_part(&c, "mpu", "big/object", &id, 1, p1.clone()).await;
    let e3 = upload_part(&c, "mpu", "big/object", &id, 3, p3.clone()).await;
    let e2 = upload_part(&c, "mpu", "big/object", &id, 2, p2.clone()).await;
    assert_eq!(e1, etag_of(&p1), "part ETag is MD5 of the part");
    assert_eq!(e2, etag_of(&p2));
    assert_eq!(e3, etag_of(&p3));

    // Re-uploading a part replaces it.
    let p3b = payload(33, 2000);
    let e3 = upload_part(&c, "mpu", "big/object", &id, 3, p3b.clone()).await;
    assert_eq!(e3, etag_of(&p3b));

    let lp = c
        .list_parts()
        .bucket("mpu")
        .key("big/object")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let listed: Vec<(i32, i64, String)> = lp
        .parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap(),
                p.size().unwrap(),
                p.e_tag().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (1, p1.len() as i64, e1.clone()),
            (2, p2.len() as i64, e2.clone()),
            (3, p3b.len() as i64, e3.clone()),
        ]
    );
    assert_eq!(lp.upload_id(), Some(id.as_str()));

    // ListParts paging.
    let lp = c
        .list_parts()
        .bucket("mpu")
        .key("big/object")
        .upload_id(&id)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    assert_eq!(lp.parts().len(), 2);
    assert_eq!(lp.is_truncated(), Some(true));
    let marker = lp.next_part_number_marker().unwrap().to_string();
    let lp = c
        .list_parts()
        .bucket("mpu")
        .key("big/object")
        .upload_id(&id)
        .part_number_marker(marker)
        .send()
        .await
        .unwrap();
    assert_eq!(lp.parts().len(), 1);
    assert_eq!(lp.parts()[0].part_number(), Some(3));

    let lu = c
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    let ups: Vec<(String, String)> = lu
        .uploads()
        .iter()
        .map(|u| {
            (
                u.key().unwrap().to_string(),
                u.upload_id().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ups, vec![("big/object".to_string(), id.clone())]);

    // Not visible as an object before completion.
    assert_err(
        c.get_object().bucket("mpu").key("big/object").send().await,
        404,
        &["NoSuchKey"],
    );
    assert!(list_keys(&c, "mpu").await.is_empty());

    let done = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big/object")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1), (2, e2), (3, e3)]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Complete: {}", describe(&e)));
    let etag = done.e_tag().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with("-3\""),
        "multipart ETag {etag} does not end with -3"
    );
    assert_eq!(etag.len(), 32 + 2 + 2, "ETag format \"<32 hex>-3\": {etag}");

    let mut whole = p1.clone();
    whole.extend_from_slice(&p2);
    whole.extend_from_slice(&p3b);
    let get = c
        .get_object()
        .bucket("mpu")
        .key("big/object")
        .send()
        .await
        .unwrap();
    assert_eq!(get.e_tag(), Some(etag.as_str()));
    assert_eq!(get.content_length(), Some(whole.len() as i64));
    assert_eq!(get.content_type(), Some("application/octet-stream-custom"));
    assert_eq!(
        get.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("multipart")
    );
    let got = get.body.collect().await.unwrap().into_bytes();
    assert!(got.as_ref() == whole.as_slice(), "multipart body differs");

    // Ranged read across the part boundary.
    let r = c
        .get_object()
        .bucket("mpu")
        .key("big/object")
        .range(format!("bytes={}-{}", PART - 5, PART + 4))
        .send()
        .await
        .unwrap();
    let got = r.body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), &whole[PART - 5..PART + 5]);

    let lu = c
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert!(lu.uploads().is_empty(), "completed upload still listed");
    assert_eq!(list_keys(&c, "mpu").await, vec!["big/object"]);
}

#[tokio::test]
async fn multipart_etag_matches_s3_formula() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "mpu").await;
    let id = create(&c, "mpu", "k").await;
    let p1 = payload(5, PART);
    let p2 = payload(6, 777);
    let e1 = upload_part(&c, "mpu", "k", &id, 1, p1.clone()).await;
    let e2 = upload_part(&c, "mpu", "k", &id, 2, p2.clone()).await;
    let done = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1), (2, e2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        done.e_tag(),
        Some(multipart_etag([p1.as_slice(), p2.as_slice()]).as_str())
    );
}

#[tokio::test]
async fn multipart_single_small_part_and_gaps() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "mpu").await;

    // A single part may be smaller than 5 MiB.
    let id = create(&c, "mpu", "one").await;
    let p = payload(7, 10);
    let e = upload_part(&c, "mpu", "one", &id, 1, p.clone()).await;
    let done = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("one")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e)]))
        .send()
        .await
        .unwrap();
    assert!(done.e_tag().unwrap().ends_with("-1\""));
    assert_eq!(get_bytes(&c, "mpu", "one").await, p);

    // Part numbers need not be contiguous; unlisted parts are dropped.
    let id = create(&c, "mpu", "gaps").await;
    let a = payload(8, PART);
    let b = payload(9, PART);
    let d = payload(10, 100);
    let ea = upload_part(&c, "mpu", "gaps", &id, 2, a.clone()).await;
    let _eb = upload_part(&c, "mpu", "gaps", &id, 5, b.clone()).await;
    let ed = upload_part(&c, "mpu", "gaps", &id, 9, d.clone()).await;
    c.complete_multipart_upload()
        .bucket("mpu")
        .key("gaps")
        .upload_id(&id)
        .multipart_upload(completed(&[(2, ea), (9, ed)]))
        .send()
        .await
        .unwrap();
    let mut whole = a.clone();
    whole.extend_from_slice(&d);
    assert_eq!(get_bytes(&c, "mpu", "gaps").await, whole);
}

#[tokio::test]
async fn multipart_abort() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "mpu").await;
    let id = create(&c, "mpu", "aborted").await;
    let e1 = upload_part(&c, "mpu", "aborted", &id, 1, payload(1, MIB)).await;

    c.abort_multipart_upload()
        .bucket("mpu")
        .key("aborted")
        .upload_id(&id)
        .send()
        .await
        .unwrap();

    assert_err(
        c.upload_part()
            .bucket("mpu")
            .key("aborted")
            .upload_id(&id)
            .part_number(2)
            .body(body(b"late".to_vec()))
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    assert_err(
        c.list_parts()
            .bucket("mpu")
            .key("aborted")
            .upload_id(&id)
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    assert_err(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("aborted")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, e1)]))
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    assert_err(
        c.abort_multipart_upload()
            .bucket("mpu")
            .key("aborted")
            .upload_id(&id)
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    let lu = c
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert!(lu.uploads().is_empty());
    assert_err(
        c.get_object().bucket("mpu").key("aborted").send().await,
        404,
        &["NoSuchKey"],
    );
}

#[tokio::test]
async fn list_multipart_uploads_many() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "mpu").await;
    let mut expected = Vec::new();
    for k in ["b/x", "a/y", "a/z", "c"] {
        let id = create(&c, "mpu", k).await;
        expected.push((k.to_string(), id));
    }
    // Two uploads for the same key.
    let id = create(&c, "mpu", "c").await;
    expected.push(("c".to_string(), id));

    let lu = c
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    let mut got: Vec<(String, String)> = lu
        .uploads()
        .iter()
        .map(|u| {
            (
                u.key().unwrap().to_string(),
                u.upload_id().unwrap().to_string(),
            )
        })
        .collect();
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, vec!["a/y", "a/z", "b/x", "c", "c"], "sorted by key");
    got.sort();
    expected.sort();
    assert_eq!(got, expected);

    let lu = c
        .list_multipart_uploads()
        .bucket("mpu")
        .prefix("a/")
        .send()
        .await
        .unwrap();
    assert_eq!(lu.uploads().len(), 2);
    let lu = c
        .list_multipart_uploads()
        .bucket("mpu")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = lu
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().unwrap())
        .collect();
    assert_eq!(prefixes, vec!["a/", "b/"]);
    assert_eq!(lu.uploads().len(), 2);
}

#[tokio::test]
async fn upload_part_copy() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "src").await;
    create_bucket(&c, "dst").await;
    let src = payload(20, 6 * MIB + 100);
    put(&c, "src", "source object", src.clone()).await;

    let id = create(&c, "dst", "assembled").await;
    let r1 = c
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .part_number(1)
        .copy_source("src/source%20object")
        .copy_source_range(format!("bytes=0-{}", PART - 1))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPartCopy 1: {}", describe(&e)));
    let e1 = r1.copy_part_result().unwrap().e_tag().unwrap().to_string();
    assert_eq!(e1, etag_of(&src[..PART]));
    // Whole-object copy as part 2 (no range).
    let r2 = c
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .part_number(2)
        .copy_source("src/source%20object")
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPartCopy 2: {}", describe(&e)));
    let e2 = r2.copy_part_result().unwrap().e_tag().unwrap().to_string();
    assert_eq!(e2, etag_of(&src));
    // Regular part 3.
    let tail = payload(21, PART);
    let e3 = upload_part(&c, "dst", "assembled", &id, 3, tail.clone()).await;
    // Last part: the remainder of the source (smaller than 5 MiB).
    let r4 = c
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .part_number(4)
        .copy_source("src/source%20object")
        .copy_source_range(format!("bytes={}-{}", PART, src.len() - 1))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPartCopy 4: {}", describe(&e)));
    let e4 = r4.copy_part_result().unwrap().e_tag().unwrap().to_string();
    assert_eq!(e4, etag_of(&src[PART..]));

    // Copy range beyond the source is rejected.
    let bad = c
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .part_number(5)
        .copy_source("src/source%20object")
        .copy_source_range(format!("bytes={}-{}", src.len(), src.len() + 10))
        .send()
        .await;
    match bad {
        Ok(_) => panic!("UploadPartCopy with a range beyond the source succeeded"),
        Err(e) => {
            let st = err_status(&e);
            assert!(
                (st == 400 || st == 416)
                    && ["InvalidRange", "InvalidArgument"].contains(&err_code(&e).as_str()),
                "range beyond source: {}",
                describe(&e)
            );
        }
    }

    c.complete_multipart_upload()
        .bucket("dst")
        .key("assembled")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1), (2, e2), (3, e3), (4, e4)]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Complete: {}", describe(&e)));

    let mut whole = src[..PART].to_vec();
    whole.extend_from_slice(&src);
    whole.extend_from_slice(&tail);
    whole.extend_from_slice(&src[PART..]);
    let got = get_bytes(&c, "dst", "assembled").await;
    assert!(
        got.len() == whole.len(),
        "length {} != {}",
        got.len(),
        whole.len()
    );
    assert!(got == whole, "UploadPartCopy result differs");
    // Source untouched.
    assert_eq!(get_bytes(&c, "src", "source object").await, src);
}

#[tokio::test]
async fn entity_too_small() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "mpu").await;
    let id = create(&c, "mpu", "small").await;
    let e1 = upload_part(&c, "mpu", "small", &id, 1, payload(1, MIB)).await;
    let e2 = upload_part(&c, "mpu", "small", &id, 2, payload(2, MIB)).await;
    assert_err(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("small")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, e1.clone()), (2, e2.clone())]))
            .send()
            .await,
        400,
        &["EntityTooSmall"],
    );
    assert_err(
        c.get_object().bucket("mpu").key("small").send().await,
        404,
        &["NoSuchKey"],
    );
    // The upload is still usable after a failed completion: complete with part 1 only.
    c.complete_multipart_upload()
        .bucket("mpu")
        .key("small")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1)]))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Complete after EntityTooSmall: {}", describe(&e)));
    assert_eq!(get_bytes(&c, "mpu", "small").await, payload(1, MIB));
}

#[tokio::test]
async fn invalid_part() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "mpu").await;
    put(&c, "mpu", "k", b"previous".to_vec()).await;
    let id = create(&c, "mpu", "k").await;
    let e1 = upload_part(&c, "mpu", "k", &id, 1, payload(1, PART)).await;
    let e2 = upload_part(&c, "mpu", "k", &id, 2, payload(2, 100)).await;

    // Wrong ETag for part 2.
    assert_err(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[
                (1, e1.clone()),
                (2, "\"00000000000000000000000000000000\"".to_string()),
            ]))
            .send()
            .await,
        400,
        &["InvalidPart"],
    );
    // Part that was never uploaded.
    assert_err(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, e1.clone()), (3, e2.clone())]))
            .send()
            .await,
        400,
        &["InvalidPart"],
    );
    assert_eq!(get_bytes(&c, "mpu", "k").await, b"previous");

    // Descending order.
    assert_err(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(2, e2.clone()), (1, e1.clone())]))
            .send()
            .await,
        400,
        &["InvalidPartOrder"],
    );
    assert_eq!(get_bytes(&c, "mpu", "k").await, b"previous");

    // The right list still completes.
    c.complete_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1), (2, e2)]))
        .send()
        .await
        .unwrap();
    let mut whole = payload(1, PART);
    whole.extend_from_slice(&payload(2, 100));
    assert_eq!(get_bytes(&c, "mpu", "k").await, whole);
}

#[tokio::test]
async fn invalid_part_order() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "mpu").await;
    let id = create(&c, "mpu", "order").await;
    let mut parts = Vec::new();
    for n in 1..=3 {
        parts.push((
            n,
            upload_part(&c, "mpu", "order", &id, n, payload(n as u64, PART)).await,
        ));
    }
    let desc: Vec<(i32, String)> = parts.iter().rev().cloned().collect();
    assert_err(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("order")
            .upload_id(&id)
            .multipart_upload(completed(&desc))
            .send()
            .await,
        400,
        &["InvalidPartOrder"],
    );
    // Duplicate part numbers are not ascending either.
    let dup = vec![parts[0].clone(), parts[0].clone(), parts[2].clone()];
    assert_err(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("order")
            .upload_id(&id)
            .multipart_upload(completed(&dup))
            .send()
            .await,
        400,
        &["InvalidPartOrder"],
    );
    assert_err(
        c.get_object().bucket("mpu").key("order").send().await,
        404,
        &["NoSuchKey"],
    );
}

#[tokio::test]
async fn large_multipart_upload() {
    const PARTS: usize = 21;
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "large").await;
    let id = create(&c, "large", "105MiB").await;

    let mut rng = StdRng::seed_from_u64(0xCA1F);
    let mut whole_md5 = Md5::new();
    let mut parts = Vec::new();
    for n in 1..=PARTS {
        let mut data = vec![0u8; PART];
        rng.fill_bytes(&mut data);
        whole_md5.update(&data);
        let e = upload_part(&c, "large", "105MiB", &id, n as i32, data).await;
        parts.push((n as i32, e));
    }
    let expected_md5 = hex::encode(whole_md5.finalize());

    let done = c
        .complete_multipart_upload()
        .bucket("large")
        .key("105MiB")
        .upload_id(&id)
        .multipart_upload(completed(&parts))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Complete: {}", describe(&e)));
    let etag = done.e_tag().unwrap().to_string();
    assert!(etag.ends_with(&format!("-{PARTS}\"")), "ETag {etag}");

    let head = c
        .head_object()
        .bucket("large")
        .key("105MiB")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some((PARTS * PART) as i64));

    let mut resp = c
        .get_object()
        .bucket("large")
        .key("105MiB")
        .send()
        .await
        .unwrap();
    let mut md5 = Md5::new();
    let mut total = 0usize;
    while let Some(chunk) = resp.body.try_next().await.unwrap() {
        total += chunk.len();
        md5.update(&chunk);
    }
    assert_eq!(total, PARTS * PART);
    assert_eq!(hex::encode(md5.finalize()), expected_md5, "content MD5");
}
