#![allow(clippy::unwrap_used)]
//! Object PUT/GET/HEAD/DELETE, ranges, header round trips, tagging.

use std::collections::HashMap;

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::primitives::DateTimeFormat;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, Tag, Tagging};
use cairn_tests::*;

async fn check_roundtrip(c: &aws_sdk_s3::Client, bucket: &str, key: &str, data: Vec<u8>) {
    let len = data.len();
    let expected_etag = etag_of(&data);
    let put_etag = put(c, bucket, key, data.clone()).await;
    assert_eq!(put_etag, expected_etag, "PUT ETag for {len} bytes");

    let resp = c.get_object().bucket(bucket).key(key).send().await.unwrap();
    assert_eq!(
        resp.content_length(),
        Some(len as i64),
        "GET Content-Length"
    );
    assert_eq!(resp.e_tag(), Some(expected_etag.as_str()), "GET ETag");
    let got = resp.body.collect().await.unwrap().into_bytes();
    assert!(got.len() == len, "GET body length {} != {len}", got.len());
    assert!(
        got.as_ref() == data.as_slice(),
        "GET body differs for {len} bytes"
    );

    let head = c
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.content_length(),
        Some(len as i64),
        "HEAD Content-Length"
    );
    assert_eq!(head.e_tag(), Some(expected_etag.as_str()), "HEAD ETag");
    assert!(head.last_modified().is_some(), "HEAD Last-Modified");
}

#[tokio::test]
async fn put_get_sizes_default_chunk() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "sizes").await;
    let sizes = [
        0,
        1,
        1000,
        64 * KIB - 1,
        64 * KIB,
        64 * KIB + 1,
        DEFAULT_CHUNK - 1,
        DEFAULT_CHUNK,
        DEFAULT_CHUNK + 1,
    ];
    for (i, size) in sizes.into_iter().enumerate() {
        let data = payload(i as u64 + 1, size);
        check_roundtrip(&c, "sizes", &format!("obj-{size}"), data).await;
    }
}

#[tokio::test]
async fn put_get_multi_chunk() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "multi").await;
    for (i, size) in [MIB - 1, MIB, MIB + 1, 2 * MIB, 5 * MIB + MIB / 2]
        .into_iter()
        .enumerate()
    {
        let data = payload(100 + i as u64, size);
        check_roundtrip(&c, "multi", &format!("o{size}"), data).await;
    }
}

#[tokio::test]
async fn put_streaming_aws_chunked_body() {
    // A streaming body makes the SDK use aws-chunked with signed chunks and a
    // trailing CRC32 checksum.
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "stream").await;
    for (i, size) in [0, 1, 65_535, 65_536, 200_000, 3 * MIB + 17]
        .into_iter()
        .enumerate()
    {
        let data = payload(200 + i as u64, size);
        let key = format!("s{size}");
        let resp = c
            .put_object()
            .bucket("stream")
            .key(&key)
            .body(streaming_body(data.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("streaming PUT {size}: {}", describe(&e)));
        assert_eq!(resp.e_tag(), Some(etag_of(&data).as_str()));
        let got = get_bytes(&c, "stream", &key).await;
        assert!(
            got == data,
            "streaming PUT of {size} bytes read back differently"
        );
        let head = c
            .head_object()
            .bucket("stream")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.content_encoding(),
            None,
            "the aws-chunked transfer coding must not be stored as Content-Encoding"
        );
    }

    // A user Content-Encoding sent together with aws-chunked is kept, without aws-chunked.
    let data = payload(300, 100_000);
    c.put_object()
        .bucket("stream")
        .key("gz")
        .content_encoding("gzip")
        .body(streaming_body(data.clone()))
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket("stream")
        .key("gz")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(get_bytes(&c, "stream", "gz").await, data);
}

async fn get_range(
    c: &aws_sdk_s3::Client,
    key: &str,
    range: &str,
) -> (Vec<u8>, Option<String>, Option<i64>) {
    let resp = c
        .get_object()
        .bucket("ranges")
        .key(key)
        .range(range)
        .send()
        .await
        .unwrap_or_else(|e| panic!("range {range}: {}", describe(&e)));
    let cr = resp.content_range().map(str::to_string);
    let cl = resp.content_length();
    let body = resp.body.collect().await.unwrap().into_bytes().to_vec();
    (body, cr, cl)
}

#[tokio::test]
async fn range_gets() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "ranges").await;
    let size = 5 * MIB + MIB / 2;
    let data = payload(7, size);
    put(&c, "ranges", "big", data.clone()).await;

    let cases: Vec<(String, usize, usize)> = vec![
        ("bytes=0-0".into(), 0, 0),
        ("bytes=0-99".into(), 0, 99),
        ("bytes=1-1".into(), 1, 1),
        // across the first chunk boundary
        (format!("bytes={}-{}", MIB - 10, MIB + 9), MIB - 10, MIB + 9),
        // exactly one whole chunk
        (format!("bytes={}-{}", MIB, 2 * MIB - 1), MIB, 2 * MIB - 1),
        // spanning several chunks
        (
            format!("bytes={}-{}", MIB / 2, 4 * MIB + 3),
            MIB / 2,
            4 * MIB + 3,
        ),
        // suffix
        ("bytes=-100".into(), size - 100, size - 1),
        ("bytes=-1".into(), size - 1, size - 1),
        // open-ended
        (format!("bytes={}-", 5 * MIB), 5 * MIB, size - 1),
        (format!("bytes={}-", size - 1), size - 1, size - 1),
        // end beyond size is clamped
        (
            format!("bytes={}-{}", size - 5, size + 1000),
            size - 5,
            size - 1,
        ),
        // suffix longer than the object returns the whole object
        (format!("bytes=-{}", size + 10), 0, size - 1),
    ];
    for (range, start, end) in cases {
        let (body, cr, cl) = get_range(&c, "big", &range).await;
        assert_eq!(
            cr.as_deref(),
            Some(format!("bytes {start}-{end}/{size}").as_str()),
            "Content-Range for {range}"
        );
        assert_eq!(
            cl,
            Some((end - start + 1) as i64),
            "Content-Length for {range}"
        );
        assert!(body == data[start..=end], "body for {range} differs");
    }

    // Small (possibly inline) object.
    let small = b"0123456789".to_vec();
    put(&c, "ranges", "small", small.clone()).await;
    let (body, cr, _) = get_range(&c, "small", "bytes=2-5").await;
    assert_eq!(body, b"2345");
    assert_eq!(cr.as_deref(), Some("bytes 2-5/10"));
    let (body, _, _) = get_range(&c, "small", "bytes=-3").await;
    assert_eq!(body, b"789");
    let (body, _, _) = get_range(&c, "small", "bytes=7-").await;
    assert_eq!(body, b"789");
}

#[tokio::test]
async fn invalid_range() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "ranges").await;
    let data = payload(8, 2 * MIB + 5);
    put(&c, "ranges", "obj", data.clone()).await;
    put(&c, "ranges", "small", b"hello".to_vec()).await;

    for (key, range) in [
        ("obj", format!("bytes={}-", data.len())),
        (
            "obj",
            format!("bytes={}-{}", data.len() + 10, data.len() + 20),
        ),
        ("small", "bytes=5-".to_string()),
        ("small", "bytes=100-200".to_string()),
    ] {
        assert_err(
            c.get_object()
                .bucket("ranges")
                .key(key)
                .range(&range)
                .send()
                .await,
            416,
            &["InvalidRange"],
        );
    }
    // Object untouched.
    assert_eq!(get_bytes(&c, "ranges", "obj").await, data);
}

#[tokio::test]
async fn response_header_overrides() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "ovr").await;
    c.put_object()
        .bucket("ovr")
        .key("doc")
        .content_type("text/plain")
        .body(body(b"override me".to_vec()))
        .send()
        .await
        .unwrap();

    let expires = DateTime::from_secs(1_900_000_000);
    let resp = c
        .get_object()
        .bucket("ovr")
        .key("doc")
        .response_content_type("application/x-custom")
        .response_content_disposition("attachment; filename=\"report.txt\"")
        .response_content_encoding("identity")
        .response_content_language("fr-CA")
        .response_cache_control("no-store")
        .response_expires(expires)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.content_type(), Some("application/x-custom"));
    assert_eq!(
        resp.content_disposition(),
        Some("attachment; filename=\"report.txt\"")
    );
    assert_eq!(resp.content_encoding(), Some("identity"));
    assert_eq!(resp.content_language(), Some("fr-CA"));
    assert_eq!(resp.cache_control(), Some("no-store"));
    assert_eq!(
        resp.expires_string(),
        Some(expires.fmt(DateTimeFormat::HttpDate).unwrap().as_str())
    );
    let got = resp.body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), b"override me");

    // Overrides are per request only: stored metadata unchanged.
    let head = c
        .head_object()
        .bucket("ovr")
        .key("doc")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.content_disposition(), None);
}

#[tokio::test]
async fn header_and_metadata_roundtrip() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "meta").await;
    let expires = DateTime::from_secs(1_893_456_000); // 2030-01-01T00:00:00Z
    let data = b"{\"compressed\":false}".to_vec();
    #[allow(deprecated)]
    let req = c
        .put_object()
        .bucket("meta")
        .key("dir/file.json")
        .content_type("application/json; charset=utf-8")
        .content_encoding("gzip")
        .content_disposition("inline; filename=\"file.json\"")
        .content_language("en-US")
        .cache_control("max-age=3600, public")
        .expires(expires)
        .metadata("color", "blue")
        .metadata("multi-word-key", "Hello World")
        .metadata("empty", "")
        .metadata("numbers", "12345");
    req.body(body(data.clone())).send().await.unwrap();

    let expected_meta: HashMap<String, String> = [
        ("color", "blue"),
        ("multi-word-key", "Hello World"),
        ("empty", ""),
        ("numbers", "12345"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let expires_str = expires.fmt(DateTimeFormat::HttpDate).unwrap();

    let head = c
        .head_object()
        .bucket("meta")
        .key("dir/file.json")
        .send()
        .await
        .unwrap();
    let get = c
        .get_object()
        .bucket("meta")
        .key("dir/file.json")
        .send()
        .await
        .unwrap();

    macro_rules! check {
        ($r:expr, $what:expr) => {
            assert_eq!(
                $r.content_type(),
                Some("application/json; charset=utf-8"),
                "{} Content-Type",
                $what
            );
            assert_eq!(
                $r.content_encoding(),
                Some("gzip"),
                "{} Content-Encoding",
                $what
            );
            assert_eq!(
                $r.content_disposition(),
                Some("inline; filename=\"file.json\""),
                "{} Content-Disposition",
                $what
            );
            assert_eq!(
                $r.content_language(),
                Some("en-US"),
                "{} Content-Language",
                $what
            );
            assert_eq!(
                $r.cache_control(),
                Some("max-age=3600, public"),
                "{} Cache-Control",
                $what
            );
            assert_eq!(
                $r.expires_string(),
                Some(expires_str.as_str()),
                "{} Expires",
                $what
            );
            let meta: HashMap<String, String> = $r.metadata().cloned().unwrap_or_default();
            assert_eq!(meta, expected_meta, "{} x-amz-meta-*", $what);
            assert_eq!(
                $r.content_length(),
                Some(data.len() as i64),
                "{} length",
                $what
            );
            assert_eq!($r.e_tag(), Some(etag_of(&data).as_str()), "{} ETag", $what);
        };
    }
    check!(head, "HEAD");
    check!(get, "GET");
    let got = get.body.collect().await.unwrap().into_bytes();
    assert_eq!(got.as_ref(), data.as_slice());

    // Default content type when none is given.
    put(&c, "meta", "plain", b"x".to_vec()).await;
    let head = c
        .head_object()
        .bucket("meta")
        .key("plain")
        .send()
        .await
        .unwrap();
    assert!(head.content_type().is_some(), "no default Content-Type");
    assert!(head.metadata().map(|m| m.is_empty()).unwrap_or(true));
}

#[tokio::test]
async fn overwrite_replaces_object() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "owb").await;
    let a = payload(1, 3 * MIB);
    let b = payload(2, 100);
    c.put_object()
        .bucket("owb")
        .key("k")
        .metadata("v", "1")
        .body(body(a.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "owb", "k").await, a);
    put(&c, "owb", "k", b.clone()).await;
    let head = c.head_object().bucket("owb").key("k").send().await.unwrap();
    assert_eq!(head.content_length(), Some(100));
    assert!(
        head.metadata().map(|m| m.is_empty()).unwrap_or(true),
        "old metadata survived overwrite"
    );
    assert_eq!(get_bytes(&c, "owb", "k").await, b);
    put(&c, "owb", "k", a.clone()).await;
    assert_eq!(get_bytes(&c, "owb", "k").await, a);
    assert_eq!(list_keys(&c, "owb").await, vec!["k"]);
}

#[tokio::test]
async fn keys_with_special_characters() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "chars").await;
    let keys = [
        "with space",
        "plus+sign",
        "percent%20literal",
        "unicode/ключ/日本語/é",
        "question?mark",
        "hash#tag",
        "amp&eq=",
        "semi;colon:",
        "tilde~star*",
        "quote'\"",
        "dir//double/slash",
        "/leading-slash",
        "trailing/",
        "dots/../x",
        "brackets[]{}",
        "back\\slash",
    ];
    for (i, key) in keys.iter().enumerate() {
        let data = format!("content of {i}").into_bytes();
        put(&c, "chars", key, data.clone()).await;
        assert_eq!(get_bytes(&c, "chars", key).await, data, "key {key:?}");
    }
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(list_keys(&c, "chars").await, expected);
    for key in keys {
        c.delete_object()
            .bucket("chars")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    assert!(list_keys(&c, "chars").await.is_empty());
}

#[tokio::test]
async fn delete_object_idempotent() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "del").await;
    put(&c, "del", "a", b"aaa".to_vec()).await;
    put(&c, "del", "b", b"bbb".to_vec()).await;

    c.delete_object()
        .bucket("del")
        .key("a")
        .send()
        .await
        .unwrap();
    assert_err(
        c.get_object().bucket("del").key("a").send().await,
        404,
        &["NoSuchKey"],
    );
    // Deleting again / deleting a key that never existed succeeds.
    c.delete_object()
        .bucket("del")
        .key("a")
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket("del")
        .key("never-existed")
        .send()
        .await
        .unwrap();
    assert_eq!(list_keys(&c, "del").await, vec!["b"]);
    assert_eq!(get_bytes(&c, "del", "b").await, b"bbb");

    assert_err(
        c.delete_object().bucket("nobucket").key("a").send().await,
        404,
        &["NoSuchBucket"],
    );
}

fn ids(keys: &[&str]) -> Vec<ObjectIdentifier> {
    keys.iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect()
}

#[tokio::test]
async fn delete_objects_batch() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "batch").await;
    for k in ["k1", "k2", "k3", "k4", "k5", "dir/k6"] {
        put(&c, "batch", k, k.as_bytes().to_vec()).await;
    }

    let resp = c
        .delete_objects()
        .bucket("batch")
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["k1", "k3", "dir/k6", "missing"])))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.errors().is_empty(), "errors: {:?}", resp.errors());
    let mut deleted: Vec<String> = resp
        .deleted()
        .iter()
        .map(|d| d.key().unwrap_or_default().to_string())
        .collect();
    deleted.sort();
    assert_eq!(deleted, vec!["dir/k6", "k1", "k3", "missing"]);
    assert_eq!(list_keys(&c, "batch").await, vec!["k2", "k4", "k5"]);

    // Quiet mode: no <Deleted> entries for successes.
    let resp = c
        .delete_objects()
        .bucket("batch")
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["k2", "k4"])))
                .quiet(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.errors().is_empty(), "errors: {:?}", resp.errors());
    assert!(
        resp.deleted().is_empty(),
        "quiet mode returned deleted entries: {:?}",
        resp.deleted()
    );
    assert_eq!(list_keys(&c, "batch").await, vec!["k5"]);
    assert_eq!(get_bytes(&c, "batch", "k5").await, b"k5");

    assert_err(
        c.delete_objects()
            .bucket("nobucket")
            .delete(
                Delete::builder()
                    .set_objects(Some(ids(&["x"])))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
        404,
        &["NoSuchBucket"],
    );
}

fn tags(pairs: &[(&str, &str)]) -> Tagging {
    let mut b = Tagging::builder();
    for (k, v) in pairs {
        b = b.tag_set(Tag::builder().key(*k).value(*v).build().unwrap());
    }
    b.build().unwrap()
}

fn sorted(t: &[Tag]) -> Vec<(String, String)> {
    let mut v: Vec<_> = t
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    v.sort();
    v
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn object_tagging() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "tags").await;
    let data = payload(3, 100_000);

    // Tags given on PUT via x-amz-tagging.
    c.put_object()
        .bucket("tags")
        .key("obj")
        .tagging("project=cairn&stage=test")
        .body(body(data.clone()))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object_tagging()
        .bucket("tags")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted(got.tag_set()),
        pairs(&[("project", "cairn"), ("stage", "test")])
    );
    let head = c
        .head_object()
        .bucket("tags")
        .key("obj")
        .send()
        .await
        .unwrap();
    let get = c
        .get_object()
        .bucket("tags")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(get.tag_count(), Some(2), "GET x-amz-tagging-count");
    drop(head);

    // PutObjectTagging replaces the set.
    c.put_object_tagging()
        .bucket("tags")
        .key("obj")
        .tagging(tags(&[("a", "1"), ("b", "two words"), ("c", "")]))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object_tagging()
        .bucket("tags")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted(got.tag_set()),
        pairs(&[("a", "1"), ("b", "two words"), ("c", "")])
    );
    // Body untouched.
    assert_eq!(get_bytes(&c, "tags", "obj").await, data);

    c.delete_object_tagging()
        .bucket("tags")
        .key("obj")
        .send()
        .await
        .unwrap();
    let got = c
        .get_object_tagging()
        .bucket("tags")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert!(
        got.tag_set().is_empty(),
        "tags after delete: {:?}",
        got.tag_set()
    );
    assert_eq!(get_bytes(&c, "tags", "obj").await, data);

    assert_err(
        c.get_object_tagging()
            .bucket("tags")
            .key("missing")
            .send()
            .await,
        404,
        &["NoSuchKey"],
    );
    assert_err(
        c.put_object_tagging()
            .bucket("tags")
            .key("missing")
            .tagging(tags(&[("a", "1")]))
            .send()
            .await,
        404,
        &["NoSuchKey"],
    );
}
