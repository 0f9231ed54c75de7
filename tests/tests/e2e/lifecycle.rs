//! Bucket lifecycle with aws-sdk-s3: the configuration round trip and every
//! refusal of an invalid document, then the worker with its clock moved 30 days
//! ahead (`--lifecycle-clock-offset-days`): noncurrent versions expire (the
//! newest kept), lone delete markers are removed, current versions expire,
//! incomplete uploads are aborted, locked versions survive, and GC then frees
//! exactly the chunks no version needs any more.

use super::object_lock::{locked_bucket, put_locked};
use super::versioning::{all_versions, get_version, put_version, set_versioning};
use aws_sdk_s3::types::*;
use aws_sdk_s3::Client;
use cairn_tests::*;
use std::time::{Duration, Instant};

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

fn expire_days(days: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(days).build()
}

fn noncurrent(days: i32, newer: Option<i32>) -> NoncurrentVersionExpiration {
    NoncurrentVersionExpiration::builder()
        .noncurrent_days(days)
        .set_newer_noncurrent_versions(newer)
        .build()
}

async fn put_rules(c: &Client, bucket: &str, rules: Vec<LifecycleRule>) {
    try_put_rules(c, bucket, rules)
        .await
        .unwrap_or_else(|e| panic!("PutBucketLifecycleConfiguration: {e}"));
}

async fn try_put_rules(c: &Client, bucket: &str, rules: Vec<LifecycleRule>) -> Result<(), String> {
    let cfg = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .unwrap();
    c.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(cfg)
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("{} {}", err_status(&e), err_code(&e)))
}

/// The sum of a lifecycle counter over the processes that run the worker.
async fn counter(server: &Server, name: &str) -> f64 {
    per_node(server, name).await.iter().sum()
}

async fn per_node(server: &Server, name: &str) -> Vec<f64> {
    match server.cluster() {
        Some(cluster) => {
            let mut out = Vec::new();
            for id in cluster.node_ids() {
                let m = cluster.node_metrics(id).await.unwrap_or_default();
                out.push(m.get(name).unwrap_or(0.0));
            }
            out
        }
        None => {
            let text = server
                .http()
                .get(server.url("metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            vec![cairn_tests::Metrics::parse(&text).get(name).unwrap_or(0.0)]
        }
    }
}

/// Waits until `done` holds, polling every 500 ms; panics with `what` after `secs`.
async fn wait_for<F, Fut>(secs: u64, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match done().await {
            Ok(()) => return,
            Err(state) if Instant::now() > deadline => panic!("{what}: {state}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[tokio::test]
async fn lifecycle_configuration_round_trips() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "lcr").await;
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcr")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (err_status(&e), err_code(&e).as_str()),
        (404, "NoSuchLifecycleConfiguration")
    );
    let tagged = LifecycleRuleFilter::builder()
        .and(
            LifecycleRuleAndOperator::builder()
                .prefix("logs/")
                .tags(Tag::builder().key("tier").value("scratch").build().unwrap())
                .object_size_greater_than(1024)
                .build(),
        )
        .build();
    let rules = vec![
        rule("expire-logs", "logs/")
            .expiration(expire_days(7))
            .build()
            .unwrap(),
        LifecycleRule::builder()
            .id("tagged")
            .status(ExpirationStatus::Disabled)
            .filter(tagged)
            .noncurrent_version_expiration(noncurrent(3, Some(2)))
            .build()
            .unwrap(),
        rule("markers-and-uploads", "")
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(2)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    put_rules(&c, "lcr", rules.clone()).await;
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcr")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), rules.as_slice());
    c.delete_bucket_lifecycle()
        .bucket("lcr")
        .send()
        .await
        .unwrap();
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("lcr")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "NoSuchLifecycleConfiguration");
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("no-such-bucket-lc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "NoSuchBucket");
}

#[tokio::test]
async fn invalid_lifecycle_documents_are_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "lci").await;
    let ok = || rule("r", "a/").expiration(expire_days(1));
    let cases: Vec<(&str, Vec<LifecycleRule>, &str)> = vec![
        (
            "duplicate ids",
            vec![ok().build().unwrap(), ok().build().unwrap()],
            "400 InvalidArgument",
        ),
        (
            "id over 255 characters",
            vec![ok().id("x".repeat(256)).build().unwrap()],
            "400 InvalidArgument",
        ),
        (
            "no action",
            vec![rule("r", "a/").build().unwrap()],
            "400 InvalidRequest",
        ),
        (
            "transition",
            vec![ok()
                .transitions(
                    Transition::builder()
                        .days(30)
                        .storage_class(TransitionStorageClass::Glacier)
                        .build(),
                )
                .build()
                .unwrap()],
            "501 NotImplemented",
        ),
        (
            "noncurrent transition",
            vec![ok()
                .noncurrent_version_transitions(
                    NoncurrentVersionTransition::builder()
                        .noncurrent_days(30)
                        .storage_class(TransitionStorageClass::Glacier)
                        .build(),
                )
                .build()
                .unwrap()],
            "501 NotImplemented",
        ),
        (
            "bad status",
            vec![ok()
                .status(ExpirationStatus::from("Sometimes"))
                .build()
                .unwrap()],
            "400 MalformedXML",
        ),
        (
            "zero days",
            vec![rule("r", "a/").expiration(expire_days(0)).build().unwrap()],
            "400 InvalidArgument",
        ),
    ];
    for (what, rules, want) in cases {
        let got = try_put_rules(&c, "lci", rules).await;
        assert_eq!(got, Err(want.to_string()), "{what}");
    }
    // Nothing was stored.
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("lci")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "NoSuchLifecycleConfiguration");
}

#[tokio::test]
async fn lifecycle_expires_noncurrent_versions_and_lone_markers_then_gc_frees_their_chunks() {
    let opts = ServerOpts::new()
        .chunk_size(256 * KIB)
        .gc(0, 1)
        .lifecycle(1, 30);
    let server = Server::start(opts).await;
    let c = server.client();
    create_bucket(&c, "lcv").await;
    set_versioning(&c, "lcv", BucketVersioningStatus::Enabled).await;
    // Two chunks per version, all distinct.
    let data: Vec<Vec<u8>> = (0..7).map(|i| payload(100 + i, 512 * KIB)).collect();
    let mut keep = Vec::new();
    for d in &data[0..4] {
        keep.push(put_version(&c, "lcv", "keep/a", d).await);
    }
    put_version(&c, "lcv", "gone/x", &data[4]).await;
    c.delete_object()
        .bucket("lcv")
        .key("gone/x")
        .send()
        .await
        .unwrap();
    let other1 = put_version(&c, "lcv", "other/z", &data[5]).await;
    let other2 = put_version(&c, "lcv", "other/z", &data[6]).await;
    let (before, _) = server.chunk_files();
    assert!(before >= 14, "7 versions of 2 chunks, got {before}");

    put_rules(
        &c,
        "lcv",
        vec![
            rule("keep-one", "keep/")
                .noncurrent_version_expiration(noncurrent(1, Some(1)))
                .build()
                .unwrap(),
            rule("clean", "gone/")
                .noncurrent_version_expiration(noncurrent(1, None))
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await;
    let want = vec![
        ("keep/a".to_string(), keep[3].clone(), true, false),
        ("keep/a".to_string(), keep[2].clone(), false, false),
        ("other/z".to_string(), other2.clone(), true, false),
        ("other/z".to_string(), other1.clone(), false, false),
    ];
    wait_for(60, "lifecycle did not expire the versions", || {
        let c = c.clone();
        let want = want.clone();
        async move {
            let got = all_versions(&c, "lcv", 100).await;
            if got == want {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        }
    })
    .await;
    assert!(counter(&server, "cairn_lifecycle_noncurrent_expired_total").await >= 3.0);
    assert!(counter(&server, "cairn_lifecycle_delete_markers_removed_total").await >= 1.0);
    assert_eq!(
        counter(&server, "cairn_lifecycle_skipped_locked_total").await,
        0.0
    );
    if server.cluster().is_some() {
        let passes = per_node(&server, "cairn_lifecycle_passes_total").await;
        assert_eq!(
            passes.iter().filter(|p| **p > 0.0).count(),
            1,
            "exactly one node (the catalog leader) runs the worker: {passes:?}"
        );
    }
    // GC frees the 3 deleted versions' chunks, and only those.
    let deadline =
        Instant::now() + cairn_node::storage::chunk_store::PIN_WINDOW + Duration::from_secs(30);
    loop {
        let (now, _) = server.chunk_files();
        if now <= before - 6 {
            assert_eq!(now, before - 6);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chunks not collected: {now} of {before}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(get_version(&c, "lcv", "keep/a", &keep[3]).await, data[3]);
    assert_eq!(get_version(&c, "lcv", "keep/a", &keep[2]).await, data[2]);
    assert_eq!(get_version(&c, "lcv", "other/z", &other1).await, data[5]);
}

#[tokio::test]
async fn lifecycle_expires_current_objects_and_aborts_incomplete_uploads() {
    let server = Server::start(ServerOpts::new().lifecycle(1, 30)).await;
    let c = server.client();
    create_bucket(&c, "lcu").await;
    put(&c, "lcu", "tmp/obj", b"scratch".to_vec()).await;
    put(&c, "lcu", "keep/obj", b"kept".to_vec()).await;
    let mut uploads = Vec::new();
    for key in ["tmp/u1", "keep/u2"] {
        let up = c
            .create_multipart_upload()
            .bucket("lcu")
            .key(key)
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap().to_string();
        c.upload_part()
            .bucket("lcu")
            .key(key)
            .upload_id(&id)
            .part_number(1)
            .body(body(payload(7, 64 * KIB)))
            .send()
            .await
            .unwrap();
        uploads.push(id);
    }
    put_rules(
        &c,
        "lcu",
        vec![rule("tmp", "tmp/")
            .expiration(expire_days(1))
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(1)
                    .build(),
            )
            .build()
            .unwrap()],
    )
    .await;
    wait_for(60, "tmp/ not cleaned", || {
        let c = c.clone();
        async move {
            let keys = list_keys(&c, "lcu").await;
            let ups = c
                .list_multipart_uploads()
                .bucket("lcu")
                .send()
                .await
                .unwrap();
            let up_keys: Vec<&str> = ups.uploads().iter().filter_map(|u| u.key()).collect();
            if keys == ["keep/obj"] && up_keys == ["keep/u2"] {
                Ok(())
            } else {
                Err(format!("objects {keys:?}, uploads {up_keys:?}"))
            }
        }
    })
    .await;
    assert_eq!(get_bytes(&c, "lcu", "keep/obj").await, b"kept");
    let e = c
        .list_parts()
        .bucket("lcu")
        .key("tmp/u1")
        .upload_id(&uploads[0])
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "NoSuchUpload");
    assert!(counter(&server, "cairn_lifecycle_expired_total").await >= 1.0);
    assert!(counter(&server, "cairn_lifecycle_uploads_aborted_total").await >= 1.0);
}

#[tokio::test]
async fn lifecycle_never_removes_locked_versions() {
    let server = Server::start(ServerOpts::new().lifecycle(1, 30)).await;
    let c = server.client();
    locked_bucket(&c, "lcl").await;
    // Locked for a year: still locked at the worker's clock (30 days ahead).
    let gov = put_locked(&c, "lcl", "gov", ObjectLockMode::Governance, 365).await;
    let comp = put_locked(&c, "lcl", "comp", ObjectLockMode::Compliance, 365).await;
    for key in ["gov", "comp"] {
        put(&c, "lcl", key, b"newer".to_vec()).await;
    }
    put_rules(
        &c,
        "lcl",
        vec![rule("all", "")
            .noncurrent_version_expiration(noncurrent(1, None))
            .build()
            .unwrap()],
    )
    .await;
    let srv = &server;
    wait_for(
        60,
        "locked versions not reported as skipped",
        || async move {
            let skipped = counter(srv, "cairn_lifecycle_skipped_locked_total").await;
            if skipped >= 2.0 {
                Ok(())
            } else {
                Err(format!("skipped {skipped}"))
            }
        },
    )
    .await;
    assert_eq!(get_version(&c, "lcl", "gov", &gov).await, b"locked bytes");
    assert_eq!(get_version(&c, "lcl", "comp", &comp).await, b"locked bytes");
    assert_eq!(all_versions(&c, "lcl", 100).await.len(), 4);
    assert_eq!(
        counter(&server, "cairn_lifecycle_noncurrent_expired_total").await,
        0.0
    );
}
