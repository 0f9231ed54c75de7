#![allow(clippy::unwrap_used)]
//! Reading an object by part: GetObject / HeadObject with `partNumber`, and
//! GetObjectAttributes (ETag, Checksum, ObjectParts paging, StorageClass,
//! ObjectSize).

use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    ObjectAttributes,
};
use aws_sdk_s3::Client;
use cairn_tests::*;

/// Uploads `parts` as a multipart object (CRC32 composite checksum); returns its ETag.
async fn multipart_object(c: &Client, bucket: &str, key: &str, parts: &[Vec<u8>]) -> String {
    let id = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(body(data.clone()))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .set_checksum_crc32(r.checksum_crc32().map(str::to_string))
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string()
}

/// A signed GET or HEAD: status and the named response headers.
async fn raw(server: &Server, method: &str, path: &str, names: &[&str]) -> (u16, Vec<String>) {
    let url = server.url(path);
    let signed = sign_request(method, &url, &[], PayloadMode::Bytes(b""));
    let mut rb = server.http().request(method.parse().unwrap(), &url);
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let values = names
        .iter()
        .map(|n| {
            resp.headers()
                .get(*n)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        })
        .collect();
    (status, values)
}

fn three_parts() -> Vec<Vec<u8>> {
    vec![
        payload(11, 5 * MIB + 7),
        payload(12, 5 * MIB + 1000),
        payload(13, 333),
    ]
}

#[tokio::test]
async fn get_and_head_by_part_number() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "parts").await;
    let parts = three_parts();
    let total: usize = parts.iter().map(Vec::len).sum();
    let etag = multipart_object(&c, "parts", "mp", &parts).await;
    assert_eq!(etag, multipart_etag(parts.iter().map(|p| p.as_slice())));

    let mut start = 0;
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let end = start + data.len() - 1;
        let range = format!("bytes {start}-{end}/{total}");
        let r = c
            .get_object()
            .bucket("parts")
            .key("mp")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(r.content_length(), Some(data.len() as i64), "part {n}");
        assert_eq!(r.content_range(), Some(range.as_str()), "part {n}");
        assert_eq!(r.parts_count(), Some(3), "part {n}");
        assert_eq!(
            r.e_tag(),
            Some(etag.as_str()),
            "the object's ETag, part {n}"
        );
        let got = r.body.collect().await.unwrap().into_bytes();
        assert!(got == data[..], "bytes of part {n}");

        let h = c
            .head_object()
            .bucket("parts")
            .key("mp")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(h.content_length(), Some(data.len() as i64), "HEAD part {n}");
        assert_eq!(h.content_range(), Some(range.as_str()), "HEAD part {n}");
        assert_eq!(h.parts_count(), Some(3));
        assert_eq!(h.e_tag(), Some(etag.as_str()));
        for method in ["GET", "HEAD"] {
            let (status, h) = raw(
                &server,
                method,
                &format!("parts/mp?partNumber={n}"),
                &["content-length", "x-amz-mp-parts-count"],
            )
            .await;
            assert_eq!(status, 206, "{method} part {n}");
            assert_eq!(h, [data.len().to_string(), "3".to_string()], "{method}");
        }
        start = end + 1;
    }

    // Past the last part: 416 InvalidPartNumber; outside 1..=10000: 400.
    assert_err(
        c.get_object()
            .bucket("parts")
            .key("mp")
            .part_number(4)
            .send()
            .await,
        416,
        &["InvalidPartNumber"],
    );
    let (status, _) = raw(&server, "HEAD", "parts/mp?partNumber=4", &[]).await;
    assert_eq!(status, 416);
    for bad in [0, 10_001] {
        assert_err(
            c.get_object()
                .bucket("parts")
                .key("mp")
                .part_number(bad)
                .send()
                .await,
            400,
            &["InvalidArgument"],
        );
    }
    // With a Range as well: refused.
    assert_err(
        c.get_object()
            .bucket("parts")
            .key("mp")
            .part_number(1)
            .range("bytes=0-1")
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );

    // A single-PUT object is one part.
    let single = payload(14, 70_000);
    put(&c, "parts", "single", single.clone()).await;
    let r = c
        .get_object()
        .bucket("parts")
        .key("single")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.content_length(), Some(single.len() as i64));
    assert_eq!(r.e_tag(), Some(etag_of(&single).as_str()));
    assert_eq!(r.parts_count(), None);
    assert!(r.body.collect().await.unwrap().into_bytes() == single[..]);
    assert_err(
        c.get_object()
            .bucket("parts")
            .key("single")
            .part_number(2)
            .send()
            .await,
        416,
        &["InvalidPartNumber"],
    );

    // Part 1 of an empty object: the empty object, 200.
    put(&c, "parts", "empty", Vec::new()).await;
    for method in ["GET", "HEAD"] {
        let (status, h) = raw(
            &server,
            method,
            "parts/empty?partNumber=1",
            &["content-length", "content-range"],
        )
        .await;
        assert_eq!(
            (status, h),
            (200, vec!["0".into(), String::new()]),
            "{method}"
        );
    }
}

#[tokio::test]
async fn get_object_attributes() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "attrs").await;
    let parts = three_parts();
    let total: usize = parts.iter().map(Vec::len).sum();
    let etag = multipart_object(&c, "attrs", "mp", &parts).await;
    let head = c
        .head_object()
        .bucket("attrs")
        .key("mp")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    let composite = head.checksum_crc32().unwrap().to_string();

    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::StorageClass,
        ObjectAttributes::ObjectSize,
    ];
    let r = c
        .get_object_attributes()
        .bucket("attrs")
        .key("mp")
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.e_tag().map(|e| e.trim_matches('"')),
        Some(etag.trim_matches('"'))
    );
    assert_eq!(r.object_size(), Some(total as i64));
    assert_eq!(r.storage_class().map(|s| s.as_str()), Some("STANDARD"));
    assert!(r.last_modified().is_some());
    let sum = r.checksum().expect("Checksum");
    assert_eq!(sum.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(sum.checksum_type(), Some(&ChecksumType::Composite));
    let op = r.object_parts().expect("ObjectParts");
    assert_eq!(op.total_parts_count(), Some(3));
    assert_eq!(op.is_truncated(), Some(false));
    let sizes: Vec<(i32, i64)> = op
        .parts()
        .iter()
        .map(|p| (p.part_number().unwrap(), p.size().unwrap()))
        .collect();
    let want: Vec<(i32, i64)> = (1..).zip(parts.iter().map(|p| p.len() as i64)).collect();
    assert_eq!(sizes, want);

    // Paging the parts.
    let r = c
        .get_object_attributes()
        .bucket("attrs")
        .key("mp")
        .object_attributes(ObjectAttributes::ObjectParts)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    let op = r.object_parts().unwrap();
    assert_eq!(op.parts().len(), 2);
    assert_eq!(op.is_truncated(), Some(true));
    assert_eq!(op.next_part_number_marker(), Some("2"));
    assert!(
        r.e_tag().is_none() && r.object_size().is_none(),
        "only what was asked"
    );
    let r = c
        .get_object_attributes()
        .bucket("attrs")
        .key("mp")
        .object_attributes(ObjectAttributes::ObjectParts)
        .part_number_marker("2")
        .send()
        .await
        .unwrap();
    let op = r.object_parts().unwrap();
    assert_eq!(op.parts().len(), 1);
    assert_eq!(op.parts()[0].part_number(), Some(3));
    assert_eq!(op.is_truncated(), Some(false));

    // A single-PUT object has no parts.
    let data = payload(15, 1234);
    put(&c, "attrs", "single", data.clone()).await;
    let r = c
        .get_object_attributes()
        .bucket("attrs")
        .key("single")
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.object_size(), Some(1234));
    assert_eq!(
        r.e_tag().map(|e| e.trim_matches('"')),
        Some(md5_hex(&data).as_str())
    );
    assert!(r.object_parts().is_none());

    assert_err(
        c.get_object_attributes()
            .bucket("attrs")
            .key("missing")
            .object_attributes(ObjectAttributes::Etag)
            .send()
            .await,
        404,
        &["NoSuchKey"],
    );
}
