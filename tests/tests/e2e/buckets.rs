#![allow(clippy::unwrap_used)]
//! Bucket-level operations.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Tag, Tagging};
use cairn_tests::*;

async fn bucket_names(client: &aws_sdk_s3::Client) -> Vec<String> {
    let resp = client.list_buckets().send().await.unwrap();
    resp.buckets()
        .iter()
        .map(|b| b.name().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn list_create_head_delete_buckets() {
    let server = Server::start_default().await;
    let c = server.client();

    assert!(
        bucket_names(&c).await.is_empty(),
        "fresh server has buckets"
    );

    create_bucket(&c, "zeta").await;
    create_bucket(&c, "alpha").await;
    create_bucket(&c, "beta-1.2").await;

    let names = bucket_names(&c).await;
    assert_eq!(
        names,
        vec!["alpha", "beta-1.2", "zeta"],
        "ListBuckets sorted by name"
    );
    let resp = c.list_buckets().send().await.unwrap();
    for b in resp.buckets() {
        assert!(
            b.creation_date().is_some(),
            "bucket {:?} has no CreationDate",
            b.name()
        );
    }

    c.head_bucket().bucket("alpha").send().await.unwrap();
    assert_err(c.head_bucket().bucket("nope").send().await, 404, &[]);

    c.delete_bucket().bucket("beta-1.2").send().await.unwrap();
    assert_eq!(bucket_names(&c).await, vec!["alpha", "zeta"]);
    assert_err(c.head_bucket().bucket("beta-1.2").send().await, 404, &[]);

    // The deleted name can be reused.
    create_bucket(&c, "beta-1.2").await;
    c.head_bucket().bucket("beta-1.2").send().await.unwrap();
}

#[tokio::test]
async fn create_bucket_with_location_constraint() {
    let server = Server::start_default().await;
    let c = server.client();
    c.create_bucket()
        .bucket("located")
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket with LocationConstraint: {}", describe(&e)));
    c.head_bucket().bucket("located").send().await.unwrap();

    let loc = c
        .get_bucket_location()
        .bucket("located")
        .send()
        .await
        .unwrap();
    let loc = loc.location_constraint().map(|l| l.as_str().to_string());
    // us-east-1 is reported as an empty LocationConstraint by S3; accept the explicit name too.
    assert!(
        matches!(loc.as_deref(), None | Some("") | Some("us-east-1")),
        "unexpected location {loc:?}"
    );
}

#[tokio::test]
async fn get_bucket_location() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "where").await;
    let loc = c
        .get_bucket_location()
        .bucket("where")
        .send()
        .await
        .unwrap();
    let loc = loc.location_constraint().map(|l| l.as_str().to_string());
    assert!(
        matches!(loc.as_deref(), None | Some("") | Some("us-east-1")),
        "unexpected location {loc:?}"
    );
    assert_err(
        c.get_bucket_location().bucket("missing").send().await,
        404,
        &["NoSuchBucket"],
    );
}

#[tokio::test]
async fn bucket_already_owned_by_you() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "twice").await;
    put(&c, "twice", "k", b"keep me".to_vec()).await;
    assert_err(
        c.create_bucket().bucket("twice").send().await,
        409,
        &["BucketAlreadyOwnedByYou"],
    );
    // Re-creating must not wipe the bucket.
    assert_eq!(get_bytes(&c, "twice", "k").await, b"keep me");
    assert_eq!(bucket_names(&c).await, vec!["twice"]);
}

#[tokio::test]
async fn invalid_bucket_names() {
    let server = Server::start_default().await;
    let c = server.client();
    for name in [
        "UPPER",
        "a",
        "ab",
        "bad_name",
        "-leading-dash",
        "trailing-dash-",
        "double..dot",
        "192.168.1.1",
        &"x".repeat(64),
    ] {
        assert_err(
            c.create_bucket().bucket(name).send().await,
            400,
            &["InvalidBucketName"],
        );
    }
    assert!(
        bucket_names(&c).await.is_empty(),
        "an invalid bucket was created"
    );
    // Boundary-valid names work.
    for name in ["abc", &"y".repeat(63), "with.dots-and-1"] {
        create_bucket(&c, name).await;
    }
    assert_eq!(bucket_names(&c).await.len(), 3);
}

#[tokio::test]
async fn delete_bucket_errors() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "full").await;
    put(&c, "full", "obj", b"data".to_vec()).await;

    assert_err(
        c.delete_bucket().bucket("full").send().await,
        409,
        &["BucketNotEmpty"],
    );
    // Nothing was touched.
    c.head_bucket().bucket("full").send().await.unwrap();
    assert_eq!(get_bytes(&c, "full", "obj").await, b"data");

    assert_err(
        c.delete_bucket().bucket("never-existed").send().await,
        404,
        &["NoSuchBucket"],
    );

    // A bucket with only an in-progress multipart upload: S3 allows deleting it
    // only when no objects exist; we just need the empty case to work.
    c.delete_object()
        .bucket("full")
        .key("obj")
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("full").send().await.unwrap();
    assert!(bucket_names(&c).await.is_empty());
    assert_err(
        c.delete_bucket().bucket("full").send().await,
        404,
        &["NoSuchBucket"],
    );
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn sorted_tags(tags: &[Tag]) -> Vec<(String, String)> {
    let mut v: Vec<_> = tags
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn bucket_tagging() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "tagged").await;

    assert_err(
        c.get_bucket_tagging().bucket("tagged").send().await,
        404,
        &["NoSuchTagSet"],
    );

    c.put_bucket_tagging()
        .bucket("tagged")
        .tagging(
            Tagging::builder()
                .tag_set(tag("env", "test"))
                .tag_set(tag("team", "storage & ops"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = c
        .get_bucket_tagging()
        .bucket("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted_tags(got.tag_set()),
        vec![
            ("env".to_string(), "test".to_string()),
            ("team".to_string(), "storage & ops".to_string())
        ]
    );

    // PUT replaces the whole set.
    c.put_bucket_tagging()
        .bucket("tagged")
        .tagging(
            Tagging::builder()
                .tag_set(tag("only", "one"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = c
        .get_bucket_tagging()
        .bucket("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted_tags(got.tag_set()),
        vec![("only".to_string(), "one".to_string())]
    );

    c.delete_bucket_tagging()
        .bucket("tagged")
        .send()
        .await
        .unwrap();
    assert_err(
        c.get_bucket_tagging().bucket("tagged").send().await,
        404,
        &["NoSuchTagSet"],
    );

    assert_err(
        c.get_bucket_tagging().bucket("missing").send().await,
        404,
        &["NoSuchBucket"],
    );
}

/// Starts a multipart upload of `key` and uploads one part of `data`.
async fn start_upload(c: &aws_sdk_s3::Client, bucket: &str, key: &str, data: Vec<u8>) -> String {
    let up = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    c.upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .part_number(1)
        .body(body(data))
        .send()
        .await
        .unwrap();
    id
}

/// S3 deletes a bucket whose only content is multipart uploads in progress, and
/// the uploads with it; their parts' chunks become garbage. With objects too, the
/// bucket is not empty and nothing is touched.
#[tokio::test]
async fn delete_bucket_with_only_uploads_deletes_them() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB).gc(0, 1)).await;
    let c = server.client();
    create_bucket(&c, "keep").await;
    put(&c, "keep", "obj", b"data".to_vec()).await;
    let kept_upload = start_upload(&c, "keep", "big", payload(1, 2 * MIB)).await;
    assert_err(
        c.delete_bucket().bucket("keep").send().await,
        409,
        &["BucketNotEmpty"],
    );
    let uploads = c
        .list_multipart_uploads()
        .bucket("keep")
        .send()
        .await
        .unwrap();
    assert_eq!(
        uploads.uploads().len(),
        1,
        "the refused delete kept the upload"
    );
    assert_eq!(get_bytes(&c, "keep", "obj").await, b"data");

    create_bucket(&c, "scratch").await;
    let id1 = start_upload(&c, "scratch", "a", payload(2, 3 * MIB)).await;
    let id2 = start_upload(&c, "scratch", "b/c", payload(3, 3 * MIB)).await;
    // An upload without parts goes too.
    c.create_multipart_upload()
        .bucket("scratch")
        .key("empty")
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("scratch").send().await.unwrap();
    assert_eq!(bucket_names(&c).await, vec!["keep".to_string()]);
    assert_err(
        c.list_multipart_uploads().bucket("scratch").send().await,
        404,
        &["NoSuchBucket"],
    );

    // A bucket of the same name starts without the old uploads, which are gone.
    create_bucket(&c, "scratch").await;
    let uploads = c
        .list_multipart_uploads()
        .bucket("scratch")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
    for (key, id) in [("a", &id1), ("b/c", &id2)] {
        assert_err(
            c.upload_part()
                .bucket("scratch")
                .key(key)
                .upload_id(id)
                .part_number(2)
                .body(body(b"late".to_vec()))
                .send()
                .await,
            404,
            &["NoSuchUpload"],
        );
    }

    // The deleted parts' chunks are collected; the other bucket's stay.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let kept_chunks = 2; // 2 MiB part of "keep"/"big" in 1 MiB chunks ("obj" is inline)
    loop {
        let (n, _) = server.chunk_files();
        if n == kept_chunks {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} chunk files left, expected {kept_chunks}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let parts = c
        .list_parts()
        .bucket("keep")
        .key("big")
        .upload_id(&kept_upload)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1);
}

/// ListBuckets pages by `max-buckets` with a continuation token, and filters by
/// `prefix` and `bucket-region`.
#[tokio::test]
async fn list_buckets_paginated() {
    let server = Server::start_default().await;
    let c = server.client();
    let names = ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e", "zz-other"];
    for n in names.iter().rev() {
        create_bucket(&c, n).await;
    }

    for (prefix, want) in [(None, &names[..]), (Some("pg-"), &names[..5])] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let r = c
                .list_buckets()
                .max_buckets(2)
                .set_prefix(prefix.map(str::to_string))
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
            pages += 1;
            assert!(r.buckets().len() <= 2, "page of {}", r.buckets().len());
            assert_eq!(r.prefix(), prefix);
            seen.extend(r.buckets().iter().map(|b| b.name().unwrap().to_string()));
            token = r.continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
            assert!(pages < 10, "pagination does not end");
        }
        assert_eq!(seen, want, "prefix {prefix:?}");
        assert_eq!(pages, want.len().div_ceil(2), "prefix {prefix:?}");
    }

    // Without max-buckets: everything, no token.
    let r = c.list_buckets().send().await.unwrap();
    assert_eq!(r.buckets().len(), names.len());
    assert_eq!(r.continuation_token(), None);

    let r = c.list_buckets().bucket_region(REGION).send().await.unwrap();
    assert_eq!(r.buckets().len(), names.len());
    let r = c
        .list_buckets()
        .bucket_region("xx-none-1")
        .send()
        .await
        .unwrap();
    assert!(r.buckets().is_empty());

    for bad in [0, 10_001] {
        assert_err(
            c.list_buckets().max_buckets(bad).send().await,
            400,
            &["InvalidArgument"],
        );
    }
    assert_err(
        c.list_buckets().continuation_token("%%%").send().await,
        400,
        &["InvalidArgument"],
    );
}
