//! Object lock with aws-sdk-s3: buckets created with lock (versioning on for good),
//! lock enabled on an existing versioned bucket, COMPLIANCE and GOVERNANCE
//! retention per object and by bucket default, legal holds, and every refusal: a
//! locked version cannot be deleted or have its COMPLIANCE retention shortened by
//! anyone; GOVERNANCE yields only to the bypass header; locked writes need an
//! integrity check.

use super::refusals::raw;
use super::versioning::{all_versions, put_version, set_versioning};
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::*;
use aws_sdk_s3::Client;
use cairn_tests::*;

pub fn in_days(days: i64) -> DateTime {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    DateTime::from_secs(now + days * 86_400)
}

pub async fn locked_bucket(c: &Client, name: &str) {
    c.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket with lock: {}", describe(&e)));
}

fn retention(mode: ObjectLockRetentionMode, until: DateTime) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(mode)
        .retain_until_date(until)
        .build()
}

pub async fn put_locked(
    c: &Client,
    bucket: &str,
    key: &str,
    mode: ObjectLockMode,
    days: i64,
) -> String {
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .object_lock_mode(mode)
        .object_lock_retain_until_date(in_days(days))
        .body(body(b"locked bytes".to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("locked PUT: {}", describe(&e)));
    out.version_id().expect("version id").to_string()
}

#[tokio::test]
async fn compliance_retention_cannot_be_shortened_or_deleted() {
    let server = Server::start_default().await;
    let c = server.client();
    locked_bucket(&c, "vault").await;
    let status = c
        .get_bucket_versioning()
        .bucket("vault")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));
    let conf = c
        .get_object_lock_configuration()
        .bucket("vault")
        .send()
        .await
        .unwrap();
    assert_eq!(
        conf.object_lock_configuration()
            .and_then(|c| c.object_lock_enabled()),
        Some(&ObjectLockEnabled::Enabled)
    );
    // Versioning of a locked bucket cannot be suspended.
    assert_err(
        c.put_bucket_versioning()
            .bucket("vault")
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await,
        409,
        &["InvalidBucketState"],
    );

    let v = put_locked(&c, "vault", "backup", ObjectLockMode::Compliance, 1).await;
    let head = c
        .head_object()
        .bucket("vault")
        .key("backup")
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    // Nobody deletes the version, not even with the governance bypass.
    for bypass in [false, true] {
        assert_err(
            c.delete_object()
                .bucket("vault")
                .key("backup")
                .version_id(&v)
                .bypass_governance_retention(bypass)
                .send()
                .await,
            403,
            &["AccessDenied"],
        );
    }
    let batch = c
        .delete_objects()
        .bucket("vault")
        .bypass_governance_retention(true)
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("backup")
                        .version_id(&v)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.errors().len(), 1);
    assert_eq!(batch.errors()[0].code(), Some("AccessDenied"));
    // Shortening, removing or weakening is refused; extending is allowed.
    for (mode, days) in [
        (ObjectLockRetentionMode::Compliance, 0),
        (ObjectLockRetentionMode::Governance, 5),
    ] {
        let until = if days == 0 {
            DateTime::from_secs(in_days(1).secs() - 3_600)
        } else {
            in_days(days)
        };
        assert_err(
            c.put_object_retention()
                .bucket("vault")
                .key("backup")
                .version_id(&v)
                .bypass_governance_retention(true)
                .retention(retention(mode, until))
                .send()
                .await,
            403,
            &["AccessDenied"],
        );
    }
    c.put_object_retention()
        .bucket("vault")
        .key("backup")
        .version_id(&v)
        .retention(retention(ObjectLockRetentionMode::Compliance, in_days(3)))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object_retention()
        .bucket("vault")
        .key("backup")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    let until = got.retention().and_then(|r| r.retain_until_date()).unwrap();
    assert!(
        until.secs() > in_days(2).secs(),
        "extended to 3 days: {until:?}"
    );

    // A delete without a version id only adds a marker; the version stays.
    let del = c
        .delete_object()
        .bucket("vault")
        .key("backup")
        .send()
        .await
        .unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let body = c
        .get_object()
        .bucket("vault")
        .key("backup")
        .version_id(&v)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"locked bytes");
    assert_err(
        c.delete_bucket().bucket("vault").send().await,
        409,
        &["BucketNotEmpty"],
    );
}

#[tokio::test]
async fn governance_yields_to_the_bypass_and_legal_holds_to_their_removal() {
    let server = Server::start_default().await;
    let c = server.client();
    locked_bucket(&c, "gov").await;
    let v = put_locked(&c, "gov", "k", ObjectLockMode::Governance, 10).await;
    assert_err(
        c.delete_object()
            .bucket("gov")
            .key("k")
            .version_id(&v)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        c.put_object_retention()
            .bucket("gov")
            .key("k")
            .version_id(&v)
            .retention(retention(ObjectLockRetentionMode::Governance, in_days(1)))
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    c.delete_object()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap();
    assert!(all_versions(&c, "gov", 1000).await.is_empty());

    // Legal hold: no retention, but no delete until the hold is lifted.
    let out = c
        .put_object()
        .bucket("gov")
        .key("held")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(body(b"evidence".to_vec()))
        .send()
        .await
        .unwrap();
    let held = out.version_id().unwrap().to_string();
    let hold = c
        .get_object_legal_hold()
        .bucket("gov")
        .key("held")
        .send()
        .await
        .unwrap();
    assert_eq!(
        hold.legal_hold().and_then(|h| h.status()),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    assert_err(
        c.delete_object()
            .bucket("gov")
            .key("held")
            .version_id(&held)
            .bypass_governance_retention(true)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    c.put_object_legal_hold()
        .bucket("gov")
        .key("held")
        .version_id(&held)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::Off)
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket("gov")
        .key("held")
        .version_id(&held)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn default_retention_locks_every_new_version() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "def").await;
    put(&c, "def", "before", b"unlocked".to_vec()).await;
    set_versioning(&c, "def", BucketVersioningStatus::Enabled).await;
    // Lock enabled on an existing versioned bucket, with a default rule.
    c.put_object_lock_configuration()
        .bucket("def")
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Compliance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rule = c
        .get_object_lock_configuration()
        .bucket("def")
        .send()
        .await
        .unwrap();
    let d = rule
        .object_lock_configuration()
        .and_then(|c| c.rule())
        .and_then(|r| r.default_retention())
        .unwrap();
    assert_eq!(
        (d.mode(), d.days()),
        (Some(&ObjectLockRetentionMode::Compliance), Some(1))
    );
    // Bad rules are refused.
    for bad in [
        DefaultRetention::builder()
            .mode(ObjectLockRetentionMode::Compliance)
            .build(),
        DefaultRetention::builder()
            .mode(ObjectLockRetentionMode::Compliance)
            .days(1)
            .years(1)
            .build(),
    ] {
        let res = c
            .put_object_lock_configuration()
            .bucket("def")
            .object_lock_configuration(
                ObjectLockConfiguration::builder()
                    .object_lock_enabled(ObjectLockEnabled::Enabled)
                    .rule(ObjectLockRule::builder().default_retention(bad).build())
                    .build(),
            )
            .send()
            .await;
        assert_err(res, 400, &["MalformedXML"]);
    }

    let v = put_version(&c, "def", "new", b"fresh").await;
    let head = c
        .head_object()
        .bucket("def")
        .key("new")
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    let until = head.object_lock_retain_until_date().unwrap().secs();
    assert!(
        (until - in_days(1).secs()).abs() < 120,
        "retain until ~1 day: {until}"
    );
    assert_err(
        c.delete_object()
            .bucket("def")
            .key("new")
            .version_id(&v)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    // The object from before lock is not locked.
    c.delete_object()
        .bucket("def")
        .key("before")
        .version_id("null")
        .send()
        .await
        .unwrap();

    // A write into the bucket without Content-MD5 or a checksum is refused.
    let (status, text) = raw(
        &server,
        "PUT",
        "def/unchecked",
        &[],
        b"no integrity".to_vec(),
    )
    .await;
    assert_eq!(
        (status, xml_code(&text).as_deref()),
        (400, Some("InvalidRequest")),
        "{text}"
    );
    let md5 = base64_md5(b"with md5");
    let (status, text) = raw(
        &server,
        "PUT",
        "def/checked",
        &[("content-md5", &md5)],
        b"with md5".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn lock_parameters_need_an_integrity_check_and_a_valid_date() {
    let server = Server::start_default().await;
    let c = server.client();
    locked_bucket(&c, "chk").await;
    let until = in_days(1);
    let date = until
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .unwrap();
    let (status, text) = raw(
        &server,
        "PUT",
        "chk/k",
        &[
            ("x-amz-object-lock-mode", "COMPLIANCE"),
            ("x-amz-object-lock-retain-until-date", &date),
        ],
        b"data".to_vec(),
    )
    .await;
    assert_eq!(
        (status, xml_code(&text).as_deref()),
        (400, Some("InvalidRequest")),
        "{text}"
    );
    assert_err(
        c.put_object()
            .bucket("chk")
            .key("k")
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(in_days(-1))
            .body(body(b"data".to_vec()))
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    assert_err(
        c.put_object()
            .bucket("chk")
            .key("k")
            .object_lock_mode(ObjectLockMode::Compliance)
            .body(body(b"data".to_vec()))
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    assert!(
        all_versions(&c, "chk", 1000).await.is_empty(),
        "nothing stored"
    );
    // Multipart: the lock asked for at creation holds for the completed object.
    let up = c
        .create_multipart_upload()
        .bucket("chk")
        .key("mp")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("chk")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(body(b"one part".to_vec()))
        .send()
        .await
        .unwrap();
    let done = c
        .complete_multipart_upload()
        .bucket("chk")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v = done.version_id().expect("version id").to_string();
    let ret = c
        .get_object_retention()
        .bucket("chk")
        .key("mp")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ret.retention().and_then(|r| r.mode()),
        Some(&ObjectLockRetentionMode::Governance)
    );
    assert_err(
        c.delete_object()
            .bucket("chk")
            .key("mp")
            .version_id(&v)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
}

fn base64_md5(data: &[u8]) -> String {
    use base64::Engine;
    use md5::{Digest, Md5};
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

/// Veeam's SOSAPI: system.xml and capacity.xml are virtual objects of every bucket.
#[tokio::test]
async fn veeam_reads_system_and_capacity_documents() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "veeam").await;
    let dir = ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c";
    let read = |name: &'static str| {
        let c = c.clone();
        async move {
            let out = c
                .get_object()
                .bucket("veeam")
                .key(format!("{dir}/{name}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {name}: {}", describe(&e)));
            String::from_utf8(out.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
        }
    };
    let number = |doc: &str, tag: &str| -> u64 {
        let open = format!("<{tag}>");
        let start = doc
            .find(&open)
            .unwrap_or_else(|| panic!("no {tag} in {doc}"))
            + open.len();
        let end = start + doc[start..].find('<').unwrap();
        doc[start..end].trim().parse().unwrap()
    };
    let system = read("system.xml").await;
    assert!(
        system.contains("<ProtocolVersion>\"1.0\"</ProtocolVersion>"),
        "{system}"
    );
    assert!(
        system.contains("<CapacityInfo>true</CapacityInfo>"),
        "{system}"
    );
    let before = read("capacity.xml").await;
    let (total, available) = (number(&before, "Capacity"), number(&before, "Available"));
    assert!(total > 0 && available <= total, "{before}");
    put(&c, "veeam", "big", payload(3, 3 * MIB)).await;
    let after = read("capacity.xml").await;
    assert!(
        number(&after, "Used") >= number(&before, "Used") + 3 * MIB as u64,
        "{before} -> {after}"
    );
    let head = c
        .head_object()
        .bucket("veeam")
        .key(format!("{dir}/capacity.xml"))
        .send()
        .await
        .unwrap();
    assert!(head.content_length().unwrap_or(0) > 0);
    assert_err(
        c.get_object()
            .bucket("nobucket")
            .key(format!("{dir}/system.xml"))
            .send()
            .await,
        404,
        &["NoSuchBucket"],
    );
}
