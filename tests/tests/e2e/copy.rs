#![allow(clippy::unwrap_used)]
//! CopyObject.

use std::collections::HashMap;

use aws_sdk_s3::types::MetadataDirective;
use aws_sdk_s3::Client;
use cairn_tests::*;

fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn setup(c: &Client) -> Vec<u8> {
    create_bucket(c, "src").await;
    create_bucket(c, "dst").await;
    let data = payload(42, 2 * MIB + 333);
    c.put_object()
        .bucket("src")
        .key("orig")
        .content_type("image/png")
        .cache_control("max-age=60")
        .metadata("owner", "alice")
        .metadata("version", "1")
        .body(body(data.clone()))
        .send()
        .await
        .unwrap();
    data
}

#[tokio::test]
async fn copy_object_copy_directive() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    let data = setup(&c).await;

    let resp = c
        .copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("src/orig")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CopyObject: {}", describe(&e)));
    let r = resp.copy_object_result().expect("CopyObjectResult");
    assert_eq!(r.e_tag(), Some(etag_of(&data).as_str()));
    assert!(r.last_modified().is_some());

    let head = c
        .head_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(
        head.metadata().cloned().unwrap_or_default(),
        meta(&[("owner", "alice"), ("version", "1")])
    );
    assert_eq!(head.e_tag(), Some(etag_of(&data).as_str()));
    assert_eq!(get_bytes(&c, "dst", "copy").await, data);

    // Explicit COPY directive; new metadata in the request is ignored.
    c.copy_object()
        .bucket("dst")
        .key("copy2")
        .copy_source("src/orig")
        .metadata_directive(MetadataDirective::Copy)
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket("dst")
        .key("copy2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata().cloned().unwrap_or_default(),
        meta(&[("owner", "alice"), ("version", "1")])
    );

    // Source is independent of the copy.
    c.delete_object()
        .bucket("src")
        .key("orig")
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "dst", "copy").await, data);
    assert_eq!(get_bytes(&c, "dst", "copy2").await, data);
}

#[tokio::test]
async fn copy_object_replace_directive() {
    let server = Server::start_default().await;
    let c = server.client();
    let data = setup(&c).await;

    c.copy_object()
        .bucket("dst")
        .key("replaced")
        .copy_source("src/orig")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/csv")
        .metadata("owner", "bob")
        .metadata("new", "yes")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CopyObject REPLACE: {}", describe(&e)));
    let head = c
        .head_object()
        .bucket("dst")
        .key("replaced")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/csv"));
    assert_eq!(
        head.cache_control(),
        None,
        "REPLACE must drop the old Cache-Control"
    );
    assert_eq!(
        head.metadata().cloned().unwrap_or_default(),
        meta(&[("owner", "bob"), ("new", "yes")])
    );
    assert_eq!(get_bytes(&c, "dst", "replaced").await, data);

    // Source metadata untouched.
    let head = c
        .head_object()
        .bucket("src")
        .key("orig")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(
        head.metadata().cloned().unwrap_or_default(),
        meta(&[("owner", "alice"), ("version", "1")])
    );
}

#[tokio::test]
async fn copy_same_key_replace() {
    let server = Server::start_default().await;
    let c = server.client();
    let data = setup(&c).await;

    c.copy_object()
        .bucket("src")
        .key("orig")
        .copy_source("src/orig")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/pdf")
        .metadata("version", "2")
        .send()
        .await
        .unwrap_or_else(|e| panic!("self-copy REPLACE: {}", describe(&e)));
    let head = c
        .head_object()
        .bucket("src")
        .key("orig")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/pdf"));
    assert_eq!(
        head.metadata().cloned().unwrap_or_default(),
        meta(&[("version", "2")])
    );
    assert_eq!(get_bytes(&c, "src", "orig").await, data);

    // Copying an object onto itself without changing anything is illegal in S3.
    assert_err(
        c.copy_object()
            .bucket("src")
            .key("orig")
            .copy_source("src/orig")
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    assert_eq!(get_bytes(&c, "src", "orig").await, data);
}

#[tokio::test]
async fn copy_source_conditions() {
    let server = Server::start_default().await;
    let c = server.client();
    let data = setup(&c).await;
    let etag = etag_of(&data);

    assert_err(
        c.copy_object()
            .bucket("dst")
            .key("nope")
            .copy_source("src/orig")
            .copy_source_if_match("\"ffffffffffffffffffffffffffffffff\"")
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    assert_err(
        c.copy_object()
            .bucket("dst")
            .key("nope")
            .copy_source("src/orig")
            .copy_source_if_none_match(&etag)
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    assert!(
        list_keys(&c, "dst").await.is_empty(),
        "failed copy created an object"
    );

    c.copy_object()
        .bucket("dst")
        .key("yes")
        .copy_source("src/orig")
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "dst", "yes").await, data);
}

#[tokio::test]
async fn copy_errors_and_special_keys() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;

    assert_err(
        c.copy_object()
            .bucket("bkt")
            .key("dst")
            .copy_source("bkt/missing")
            .send()
            .await,
        404,
        &["NoSuchKey"],
    );
    assert_err(
        c.copy_object()
            .bucket("bkt")
            .key("dst")
            .copy_source("nobucket/x")
            .send()
            .await,
        404,
        &["NoSuchBucket"],
    );
    assert!(list_keys(&c, "bkt").await.is_empty());

    // URL-encoded copy source with spaces and unicode.
    let key = "dir with space/ünïcödé+plus.txt";
    put(&c, "bkt", key, b"special".to_vec()).await;
    let encoded = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2F", "/");
    c.copy_object()
        .bucket("bkt")
        .key("copied ключ")
        .copy_source(format!("bkt/{encoded}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("copy of special key: {}", describe(&e)));
    assert_eq!(get_bytes(&c, "bkt", "copied ключ").await, b"special");

    // Empty object copy.
    put(&c, "bkt", "empty", Vec::new()).await;
    c.copy_object()
        .bucket("bkt")
        .key("empty-copy")
        .copy_source("bkt/empty")
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "bkt", "empty-copy").await, Vec::<u8>::new());
}

#[tokio::test]
async fn copy_multipart_object() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    let p1 = payload(1, 5 * MIB);
    let p2 = payload(2, MIB + 1);
    let id = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let mut parts = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let e = c
            .upload_part()
            .bucket("bkt")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(body(p.clone()))
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
        .bucket("bkt")
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
    c.copy_object()
        .bucket("bkt")
        .key("mp-copy")
        .copy_source("bkt/mp")
        .send()
        .await
        .unwrap_or_else(|e| panic!("copy multipart object: {}", describe(&e)));
    let mut whole = p1;
    whole.extend_from_slice(&p2);
    assert_eq!(get_bytes(&c, "bkt", "mp-copy").await, whole);
}
