//! Versioning with aws-sdk-s3: enabling and suspending, version ids on every write,
//! reads, copies, tags and deletes by version, delete markers, ListObjectVersions
//! order and paging, bucket deletion with versions left, and garbage collection
//! that keeps every chunk a version still needs.

use aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_s3::Client;
use cairn_tests::*;
use std::time::Duration;

pub async fn set_versioning(c: &Client, bucket: &str, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutBucketVersioning: {}", describe(&e)));
}

/// PUT returning the version id the answer carries.
pub async fn put_version(c: &Client, bucket: &str, key: &str, data: &[u8]) -> String {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {bucket}/{key}: {}", describe(&e)));
    out.version_id()
        .unwrap_or_else(|| panic!("PUT {bucket}/{key} in a versioned bucket: no version id"))
        .to_string()
}

pub async fn get_version(c: &Client, bucket: &str, key: &str, version: &str) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {bucket}/{key}?versionId={version}: {}", describe(&e)));
    assert_eq!(out.version_id(), Some(version));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Every (key, version id, is latest, is delete marker) of a bucket, paging by
/// `page` entries; in listing order (markers and versions merged by position).
pub async fn all_versions(
    c: &Client,
    bucket: &str,
    page: i32,
) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let resp = c
            .list_object_versions()
            .bucket(bucket)
            .max_keys(page)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListObjectVersions: {}", describe(&e)));
        let mut rows: Vec<(String, String, bool, bool)> = resp
            .versions()
            .iter()
            .map(|v| {
                let (k, id) = (
                    v.key().unwrap_or_default(),
                    v.version_id().unwrap_or_default(),
                );
                (
                    k.to_string(),
                    id.to_string(),
                    v.is_latest() == Some(true),
                    false,
                )
            })
            .chain(resp.delete_markers().iter().map(|m| {
                let (k, id) = (
                    m.key().unwrap_or_default(),
                    m.version_id().unwrap_or_default(),
                );
                (
                    k.to_string(),
                    id.to_string(),
                    m.is_latest() == Some(true),
                    true,
                )
            }))
            .collect();
        assert!(rows.len() <= page as usize, "page over max-keys: {rows:?}");
        // Within a key, newer versions first: version ids sort by age, except the
        // null version, which keeps its place by the time it was written.
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(order_key(&b.1).cmp(&order_key(&a.1))));
        out.extend(rows);
        if resp.is_truncated() != Some(true) {
            break;
        }
        key_marker = resp.next_key_marker().map(String::from);
        version_marker = resp.next_version_id_marker().map(String::from);
        assert!(key_marker.is_some(), "truncated page without NextKeyMarker");
    }
    out
}

/// Sort key of a version id within one page: its sequence (null: oldest).
fn order_key(id: &str) -> String {
    if id == "null" {
        String::new()
    } else {
        id.to_string()
    }
}

#[tokio::test]
async fn versions_are_kept_read_and_deleted_by_id() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "ver").await;
    let status = c
        .get_bucket_versioning()
        .bucket("ver")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.status(),
        None,
        "never-enabled buckets report no status"
    );
    // Written before versioning: becomes the null version.
    let plain = c
        .put_object()
        .bucket("ver")
        .key("k")
        .body(body(b"v0".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.version_id(), None, "no version id before versioning");

    set_versioning(&c, "ver", BucketVersioningStatus::Enabled).await;
    let status = c
        .get_bucket_versioning()
        .bucket("ver")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));
    let v1 = put_version(&c, "ver", "k", b"v1").await;
    let v2 = put_version(&c, "ver", "k", b"v2-longer").await;
    assert_ne!(v1, v2);
    assert_eq!(get_bytes(&c, "ver", "k").await, b"v2-longer");
    assert_eq!(get_version(&c, "ver", "k", &v1).await, b"v1");
    assert_eq!(get_version(&c, "ver", "k", "null").await, b"v0");
    let head = c
        .head_object()
        .bucket("ver")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (head.content_length(), head.version_id()),
        (Some(2), Some(v1.as_str()))
    );
    let latest = c.head_object().bucket("ver").key("k").send().await.unwrap();
    assert_eq!(latest.version_id(), Some(v2.as_str()));

    let listed = all_versions(&c, "ver", 1000).await;
    assert_eq!(
        listed,
        vec![
            ("k".into(), v2.clone(), true, false),
            ("k".into(), v1.clone(), false, false),
            ("k".into(), "null".into(), false, false),
        ]
    );

    // DELETE without a version id writes a delete marker.
    let del = c
        .delete_object()
        .bucket("ver")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del
        .version_id()
        .expect("the marker's version id")
        .to_string();
    let err = c
        .get_object()
        .bucket("ver")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (err_status(&err), err_code(&err).as_str()),
        (404, "NoSuchKey")
    );
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
    assert_eq!(raw.headers().get("x-amz-version-id"), Some(marker.as_str()));
    assert!(
        list_keys(&c, "ver").await.is_empty(),
        "a marker hides the key"
    );
    assert_err(
        c.get_object()
            .bucket("ver")
            .key("k")
            .version_id(&marker)
            .send()
            .await,
        405,
        &["MethodNotAllowed"],
    );
    assert_eq!(get_version(&c, "ver", "k", &v2).await, b"v2-longer");

    // Deleting the marker brings the key back; deleting a version is permanent.
    let undo = c
        .delete_object()
        .bucket("ver")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (undo.delete_marker(), undo.version_id()),
        (Some(true), Some(marker.as_str()))
    );
    assert_eq!(get_bytes(&c, "ver", "k").await, b"v2-longer");
    c.delete_object()
        .bucket("ver")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_err(
        c.get_object()
            .bucket("ver")
            .key("k")
            .version_id(&v1)
            .send()
            .await,
        404,
        &["NoSuchVersion"],
    );
    assert_err(
        c.get_object()
            .bucket("ver")
            .key("k")
            .version_id("not-a-version")
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    let ids: Vec<String> = all_versions(&c, "ver", 1000)
        .await
        .into_iter()
        .map(|v| v.1)
        .collect();
    assert_eq!(ids, vec![v2.clone(), "null".to_string()]);

    // Deleting the newest version makes the next one current.
    c.delete_object()
        .bucket("ver")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "ver", "k").await, b"v0");
    assert_eq!(list_keys(&c, "ver").await, vec!["k".to_string()]);
}

#[tokio::test]
async fn suspended_versioning_writes_the_null_version() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "sus").await;
    set_versioning(&c, "sus", BucketVersioningStatus::Enabled).await;
    let kept = put_version(&c, "sus", "k", b"kept").await;
    set_versioning(&c, "sus", BucketVersioningStatus::Suspended).await;
    assert_eq!(put_version(&c, "sus", "k", b"first null").await, "null");
    assert_eq!(put_version(&c, "sus", "k", b"second null").await, "null");
    // (The helper orders the null version last within a key.)
    assert_eq!(
        all_versions(&c, "sus", 1000).await,
        vec![
            ("k".into(), kept.clone(), false, false),
            ("k".into(), "null".into(), true, false)
        ],
        "a null write replaces the null version"
    );
    assert_eq!(get_bytes(&c, "sus", "k").await, b"second null");
    // A delete while suspended is a null delete marker.
    let del = c
        .delete_object()
        .bucket("sus")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (del.delete_marker(), del.version_id()),
        (Some(true), Some("null"))
    );
    let listed = all_versions(&c, "sus", 1000).await;
    assert_eq!(
        listed,
        vec![
            ("k".into(), kept.clone(), false, false),
            ("k".into(), "null".into(), true, true)
        ]
    );
    assert_eq!(get_version(&c, "sus", "k", &kept).await, b"kept");
}

#[tokio::test]
async fn list_object_versions_pages_prefixes_and_batch_deletes() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "pages").await;
    set_versioning(&c, "pages", BucketVersioningStatus::Enabled).await;
    let mut expected = Vec::new();
    for key in ["a", "b/x", "b/y", "c"] {
        let mut ids = Vec::new();
        for n in 0..4 {
            ids.push(put_version(&c, "pages", key, format!("{key}{n}").as_bytes()).await);
        }
        for (i, id) in ids.iter().rev().enumerate() {
            expected.push((key.to_string(), id.clone(), i == 0, false));
        }
    }
    for page in [1, 3, 5, 1000] {
        assert_eq!(
            all_versions(&c, "pages", page).await,
            expected,
            "page size {page}"
        );
    }
    let rolled = c
        .list_object_versions()
        .bucket("pages")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = rolled
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, vec!["b/"]);
    assert_eq!(rolled.versions().len(), 8, "a and c, 4 versions each");
    let only_b = c
        .list_object_versions()
        .bucket("pages")
        .prefix("b/")
        .send()
        .await
        .unwrap();
    assert_eq!(only_b.versions().len(), 8);

    // One batch: a marker for "a", two versions of "c" for good.
    let c_ids: Vec<String> = expected
        .iter()
        .filter(|v| v.0 == "c")
        .map(|v| v.1.clone())
        .collect();
    let ident = |key: &str, version: Option<&str>| {
        ObjectIdentifier::builder()
            .key(key)
            .set_version_id(version.map(String::from))
            .build()
            .unwrap()
    };
    let out = c
        .delete_objects()
        .bucket("pages")
        .delete(
            Delete::builder()
                .objects(ident("a", None))
                .objects(ident("c", Some(&c_ids[0])))
                .objects(ident("c", Some(&c_ids[1])))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{out:?}");
    let marker = out.deleted().iter().find(|d| d.key() == Some("a")).unwrap();
    assert_eq!(marker.delete_marker(), Some(true));
    assert!(marker.delete_marker_version_id().is_some());
    let gone: Vec<_> = out
        .deleted()
        .iter()
        .filter(|d| d.key() == Some("c"))
        .map(|d| d.version_id().unwrap().to_string())
        .collect();
    assert_eq!(gone, c_ids[..2].to_vec());
    assert_eq!(get_bytes(&c, "pages", "c").await, b"c1");
    assert_eq!(list_keys(&c, "pages").await, vec!["b/x", "b/y", "c"]);
    let after = all_versions(&c, "pages", 2).await;
    assert_eq!(after.len(), expected.len() - 2 + 1);
    assert!(after[0].3, "the marker of a is its newest version");
}

#[tokio::test]
async fn copies_and_tags_address_versions_and_buckets_keep_them() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "cvb").await;
    set_versioning(&c, "cvb", BucketVersioningStatus::Enabled).await;
    let old = put_version(&c, "cvb", "src", b"old bytes").await;
    put_version(&c, "cvb", "src", b"new bytes").await;
    let copy = c
        .copy_object()
        .bucket("cvb")
        .key("dst")
        .copy_source(format!("cvb/src?versionId={old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copy.copy_source_version_id(), Some(old.as_str()));
    assert!(copy.version_id().is_some(), "the copy is a new version");
    assert_eq!(get_bytes(&c, "cvb", "dst").await, b"old bytes");

    let tags = Tagging::builder()
        .tag_set(Tag::builder().key("era").value("old").build().unwrap())
        .build()
        .unwrap();
    c.put_object_tagging()
        .bucket("cvb")
        .key("src")
        .version_id(&old)
        .tagging(tags)
        .send()
        .await
        .unwrap();
    let got = c
        .get_object_tagging()
        .bucket("cvb")
        .key("src")
        .version_id(&old)
        .send()
        .await
        .unwrap();
    assert_eq!(got.tag_set().len(), 1);
    let current = c
        .get_object_tagging()
        .bucket("cvb")
        .key("src")
        .send()
        .await
        .unwrap();
    assert!(
        current.tag_set().is_empty(),
        "tags of another version untouched"
    );

    // Only markers and old versions left: the bucket is still not empty.
    for key in ["src", "dst"] {
        c.delete_object()
            .bucket("cvb")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    assert!(list_keys(&c, "cvb").await.is_empty());
    assert_err(
        c.delete_bucket().bucket("cvb").send().await,
        409,
        &["BucketNotEmpty"],
    );
    for (key, id, _, _) in all_versions(&c, "cvb", 1000).await {
        c.delete_object()
            .bucket("cvb")
            .key(&key)
            .version_id(&id)
            .send()
            .await
            .unwrap();
    }
    c.delete_bucket().bucket("cvb").send().await.unwrap();
}

#[tokio::test]
async fn gc_keeps_every_chunk_a_version_needs() {
    let server = Server::start(ServerOpts::new().chunk_size(256 * KIB).gc(0, 1)).await;
    let c = server.client();
    create_bucket(&c, "gcv").await;
    set_versioning(&c, "gcv", BucketVersioningStatus::Enabled).await;
    let first = payload(1, 1024 * KIB);
    let second = payload(2, 1024 * KIB);
    let v1 = put_version(&c, "gcv", "obj", &first).await;
    let v2 = put_version(&c, "gcv", "obj", &second).await;
    c.delete_object()
        .bucket("gcv")
        .key("obj")
        .send()
        .await
        .unwrap();
    // Several collection passes with no grace: both versions' chunks stay.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(get_version(&c, "gcv", "obj", &v1).await, first);
    assert_eq!(get_version(&c, "gcv", "obj", &v2).await, second);
    let (before, _) = server.chunk_files();
    assert!(before >= 8, "8 chunks of two versions, got {before}");
    // Deleting one version for good frees exactly its chunks.
    c.delete_object()
        .bucket("gcv")
        .key("obj")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now()
        + cairn_node::storage::chunk_store::PIN_WINDOW
        + Duration::from_secs(20);
    loop {
        let (now, _) = server.chunk_files();
        if now <= before - 4 {
            assert_eq!(now, before - 4);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "chunks of v1 not collected: {now}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(get_version(&c, "gcv", "obj", &v2).await, second);
}
