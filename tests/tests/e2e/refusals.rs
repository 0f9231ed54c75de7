#![allow(clippy::unwrap_used)]
//! What Cairn does not do is refused, never silently accepted: object lock on a
//! bucket created without it, server-side encryption, ACLs it cannot keep or a
//! bucket whose ACLs are disabled does not take,
//! storage classes other than STANDARD, website redirects, version ids that name
//! nothing, bucket policies it does not evaluate.
//! Every refusal is checked to have changed nothing stored.

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::*;
use cairn_tests::*;

/// Sends a SigV4-signed request (`headers` signed too); returns status and body.
pub async fn raw(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let url = server.url(path);
    let signed = sign_request(method, &url, headers, PayloadMode::Bytes(&body));
    let mut rb = server
        .http()
        .request(method.parse().unwrap(), &url)
        .body(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[track_caller]
fn assert_raw(got: (u16, String), status: u16, code: &str) {
    assert_eq!(
        (got.0, xml_code(&got.1).as_deref()),
        (status, Some(code)),
        "{}",
        got.1
    );
}

async fn absent(c: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    assert_err(
        c.head_object().bucket(bucket).key(key).send().await,
        404,
        &[],
    );
}

#[tokio::test]
async fn object_lock_without_lock_configuration_is_refused_and_nothing_is_locked() {
    let server = Server::start_default().await;
    let c = server.client();
    // `false` asks for nothing.
    c.create_bucket()
        .bucket("bkt")
        .object_lock_enabled_for_bucket(false)
        .send()
        .await
        .unwrap();

    let until = DateTime::from_secs(4_102_444_800); // 2100-01-01
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("k")
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(until)
            .body(body(b"data".to_vec()))
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("k")
            .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
            .body(body(b"data".to_vec()))
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    absent(&c, "bkt", "k").await;
    assert_err(
        c.create_multipart_upload()
            .bucket("bkt")
            .key("mp")
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(until)
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    let uploads = c
        .list_multipart_uploads()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{uploads:?}");

    put(&c, "bkt", "src", b"source".to_vec()).await;
    assert_err(
        c.copy_object()
            .bucket("bkt")
            .key("copy")
            .copy_source("bkt/src")
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(until)
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    absent(&c, "bkt", "copy").await;

    // Lock needs versioning enabled; versions of an unlocked bucket take no lock.
    assert_err(
        c.put_object_lock_configuration()
            .bucket("bkt")
            .object_lock_configuration(
                ObjectLockConfiguration::builder()
                    .object_lock_enabled(ObjectLockEnabled::Enabled)
                    .build(),
            )
            .send()
            .await,
        409,
        &["InvalidBucketState"],
    );
    assert_err(
        c.put_object_retention()
            .bucket("bkt")
            .key("src")
            .retention(
                ObjectLockRetention::builder()
                    .mode(ObjectLockRetentionMode::Compliance)
                    .retain_until_date(until)
                    .build(),
            )
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    assert_err(
        c.put_object_legal_hold()
            .bucket("bkt")
            .key("src")
            .legal_hold(
                ObjectLockLegalHold::builder()
                    .status(ObjectLockLegalHoldStatus::On)
                    .build(),
            )
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    // The source is not locked: it can be deleted at once.
    c.delete_object()
        .bucket("bkt")
        .key("src")
        .send()
        .await
        .unwrap();
    assert!(list_keys(&c, "bkt").await.is_empty());
}

#[tokio::test]
async fn encryption_storage_class_and_redirects_are_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("sse")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(body(b"data".to_vec()))
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("kms")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("arn:aws:kms:us-east-1:1:key/x")
            .body(body(b"data".to_vec()))
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
    // SSE-C, as raw headers (SDKs insist on TLS for customer keys).
    assert_raw(
        raw(
            &server,
            "PUT",
            "bkt/ssec",
            &[
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                (
                    "x-amz-server-side-encryption-customer-key",
                    "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
                ),
                (
                    "x-amz-server-side-encryption-customer-key-md5",
                    "0lUHzzOP3XbJ5yGUJQ8tTw==",
                ),
            ],
            b"data".to_vec(),
        )
        .await,
        501,
        "NotImplemented",
    );
    assert_err(
        c.create_multipart_upload()
            .bucket("bkt")
            .key("mp")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
    assert_err(
        c.put_bucket_encryption()
            .bucket("bkt")
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::Aes256)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
    for class in [
        StorageClass::Glacier,
        StorageClass::StandardIa,
        StorageClass::ReducedRedundancy,
        StorageClass::DeepArchive,
    ] {
        assert_err(
            c.put_object()
                .bucket("bkt")
                .key("cold")
                .storage_class(class)
                .body(body(b"data".to_vec()))
                .send()
                .await,
            400,
            &["InvalidStorageClass"],
        );
    }
    assert_err(
        c.copy_object()
            .bucket("bkt")
            .key("cold")
            .copy_source("bkt/none")
            .storage_class(StorageClass::Glacier)
            .send()
            .await,
        400,
        &["InvalidStorageClass"],
    );
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("redirect")
            .website_redirect_location("/elsewhere")
            .body(body(b"data".to_vec()))
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
    // An unsupported checksum is refused, not left unverified.
    assert_raw(
        raw(
            &server,
            "PUT",
            "bkt/sum",
            &[("x-amz-checksum-sha512", "AAAA")],
            b"data".to_vec(),
        )
        .await,
        400,
        "InvalidRequest",
    );
    assert_raw(
        raw(
            &server,
            "PUT",
            "bkt/sum",
            &[("x-amz-sdk-checksum-algorithm", "MD5")],
            b"data".to_vec(),
        )
        .await,
        400,
        "InvalidRequest",
    );
    assert!(list_keys(&c, "bkt").await.is_empty());

    // What holds anyway is accepted.
    c.put_object()
        .bucket("bkt")
        .key("standard")
        .storage_class(StorageClass::Standard)
        .body(body(b"data".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(list_keys(&c, "bkt").await, vec!["standard"]);
}

#[tokio::test]
async fn acls_cairn_cannot_keep_or_the_bucket_does_not_take_are_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    // New buckets have ACLs disabled: a public ACL at creation is refused.
    for acl in [
        BucketCannedAcl::PublicRead,
        BucketCannedAcl::PublicReadWrite,
        BucketCannedAcl::AuthenticatedRead,
    ] {
        assert_err(
            c.create_bucket().bucket("acl").acl(acl).send().await,
            400,
            &["InvalidBucketAclWithObjectOwnership"],
        );
    }
    // Grants to keys that do not exist, and log delivery Cairn does not have.
    assert_err(
        c.create_bucket()
            .bucket("acl")
            .object_ownership(ObjectOwnership::ObjectWriter)
            .grant_write("id=\"someone-else\"")
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    assert_err(
        c.create_bucket()
            .bucket("acl")
            .object_ownership(ObjectOwnership::ObjectWriter)
            .acl(BucketCannedAcl::from("log-delivery-write"))
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
    assert_err(c.head_bucket().bucket("acl").send().await, 404, &[]);
    create_bucket(&c, "bkt").await;

    for acl in [
        ObjectCannedAcl::PublicRead,
        ObjectCannedAcl::PublicReadWrite,
    ] {
        assert_err(
            c.put_object()
                .bucket("bkt")
                .key("k")
                .acl(acl)
                .body(body(b"data".to_vec()))
                .send()
                .await,
            400,
            &["AccessControlListNotSupported"],
        );
    }
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("k")
            .grant_read("emailAddress=\"a@example.com\"")
            .body(body(b"data".to_vec()))
            .send()
            .await,
        400,
        &["UnresolvableGrantByEmailAddress"],
    );
    absent(&c, "bkt", "k").await;
    // The bucket owner's full control is what a bucket without ACLs takes.
    c.put_object()
        .bucket("bkt")
        .key("k")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(body(b"data".to_vec()))
        .send()
        .await
        .unwrap();

    // ACL documents a bucket without ACLs does not take, or naming no key
    // Cairn has, are refused; the ACL stays as it was.
    let before = c.get_bucket_acl().bucket("bkt").send().await.unwrap();
    let owner = before.owner().unwrap().clone();
    assert_eq!(owner.id(), Some(ACCESS_KEY));
    let user = Grantee::builder()
        .r#type(Type::CanonicalUser)
        .id("someone-else")
        .build()
        .unwrap();
    let all_users = Grantee::builder()
        .r#type(Type::Group)
        .uri("http://acs.amazonaws.com/groups/global/AllUsers")
        .build()
        .unwrap();
    let policy = |grants: Vec<Grant>| {
        AccessControlPolicy::builder()
            .owner(owner.clone())
            .set_grants(Some(grants))
            .build()
    };
    let grant =
        |g: &Grantee, p: Permission| Grant::builder().grantee(g.clone()).permission(p).build();
    for grants in [
        vec![grant(&all_users, Permission::Write)],
        vec![grant(&all_users, Permission::Read)],
    ] {
        assert_err(
            c.put_bucket_acl()
                .bucket("bkt")
                .access_control_policy(policy(grants))
                .send()
                .await,
            400,
            &["AccessControlListNotSupported"],
        );
    }
    c.create_bucket()
        .bucket("acls-on")
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    assert_err(
        c.put_bucket_acl()
            .bucket("acls-on")
            .access_control_policy(policy(vec![
                grant(&all_users, Permission::Read),
                grant(&user, Permission::FullControl),
            ]))
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    let after = c.get_bucket_acl().bucket("bkt").send().await.unwrap();
    assert_eq!(after.grants(), before.grants());
    let after = c.get_bucket_acl().bucket("acls-on").send().await.unwrap();
    assert_eq!(after.grants(), before.grants());
    // Anonymous reads still refused: nothing was opened.
    let anon = server.http().get(server.url("bkt/k")).send().await.unwrap();
    assert_eq!(anon.status().as_u16(), 403);
    let anon = server
        .http()
        .get(server.url("acls-on?list-type=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status().as_u16(), 403);
}

#[tokio::test]
async fn versions_and_expected_owners_are_checked() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    put(&c, "bkt", "k", b"data".to_vec()).await;
    assert_err(
        c.get_object()
            .bucket("bkt")
            .key("k")
            .version_id("3HL4kqtJlcpXroDTDmJ")
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    assert_err(
        c.delete_object()
            .bucket("bkt")
            .key("k")
            .version_id("3HL4kqtJlcpXroDTDmJ")
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    let versioned = aws_sdk_s3::types::Delete::builder()
        .objects(
            ObjectIdentifier::builder()
                .key("k")
                .version_id("3HL4kqtJlcpXroDTDmJ")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    // A batch delete reports the bad version id per key, as S3 does.
    let out = c
        .delete_objects()
        .bucket("bkt")
        .delete(versioned)
        .send()
        .await
        .unwrap();
    assert_eq!(out.errors().len(), 1, "{out:?}");
    assert_eq!(out.errors()[0].code(), Some("InvalidArgument"));
    assert!(out.deleted().is_empty());
    assert_eq!(get_bytes(&c, "bkt", "k").await, b"data");
    // `null` is the version of every object of an unversioned bucket.
    c.get_object()
        .bucket("bkt")
        .key("k")
        .version_id("null")
        .send()
        .await
        .unwrap();

    assert_err(
        c.put_object()
            .bucket("bkt")
            .key("other")
            .expected_bucket_owner("123456789012")
            .body(body(b"x".to_vec()))
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    absent(&c, "bkt", "other").await;
    c.put_object()
        .bucket("bkt")
        .key("other")
        .expected_bucket_owner(ACCESS_KEY)
        .body(body(b"x".to_vec()))
        .send()
        .await
        .unwrap();
}

const OPEN: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pub","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;

#[tokio::test]
async fn bucket_policies_are_validated_and_unevaluated_elements_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    put(&c, "bkt", "k", b"data".to_vec()).await;
    let malformed = [
        "not json".to_string(),
        r#"{"Statement":42}"#.to_string(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#.to_string(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject",7],"Resource":"arn:aws:s3:::bkt/*"}]}"#.to_string(),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}"#.to_string(),
    ];
    for text in &malformed {
        assert_err(
            c.put_bucket_policy()
                .bucket("bkt")
                .policy(text)
                .send()
                .await,
            400,
            &["MalformedPolicy"],
        );
    }
    let unevaluated = [
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*","Condition":{"BinaryEquals":{"aws:Referer":"eA=="}}}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/${aws:username}/*"}]}"#,
    ];
    for text in unevaluated {
        assert_err(
            c.put_bucket_policy()
                .bucket("bkt")
                .policy(text)
                .send()
                .await,
            501,
            &["NotImplemented"],
        );
    }
    // Over 20 KB: PolicyTooLarge, even when otherwise valid.
    let sids: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"Sid":"s{i}","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/p{i}/*"}}"#))
        .collect();
    let large = format!(r#"{{"Statement":[{}]}}"#, sids.join(","));
    assert!(large.len() > 20 * 1024);
    assert_err(
        c.put_bucket_policy()
            .bucket("bkt")
            .policy(&large)
            .send()
            .await,
        400,
        &["PolicyTooLarge"],
    );
    assert_err(
        c.get_bucket_policy().bucket("bkt").send().await,
        404,
        &["NoSuchBucketPolicy"],
    );
    let anon = server.http().get(server.url("bkt/k")).send().await.unwrap();
    assert_eq!(anon.status().as_u16(), 403);

    // A valid policy opens anonymous GET; a refused replacement leaves it as it was.
    c.put_bucket_policy()
        .bucket("bkt")
        .policy(OPEN)
        .send()
        .await
        .unwrap();
    let anon = server.http().get(server.url("bkt/k")).send().await.unwrap();
    assert_eq!(anon.status().as_u16(), 200);
    assert_err(
        c.put_bucket_policy()
            .bucket("bkt")
            .policy(unevaluated[0])
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
    let stored = c.get_bucket_policy().bucket("bkt").send().await.unwrap();
    assert_eq!(stored.policy(), Some(OPEN));
    // A changed policy takes effect at once (the parsed form is not stale).
    let closed = OPEN.replace("bkt/*", "bkt/public/*");
    c.put_bucket_policy()
        .bucket("bkt")
        .policy(&closed)
        .send()
        .await
        .unwrap();
    let anon = server.http().get(server.url("bkt/k")).send().await.unwrap();
    assert_eq!(anon.status().as_u16(), 403);
}

/// Operations Cairn does not implement answer `501 NotImplemented` and change
/// nothing (sub-resources s3s does not route are not taken for other operations).
#[tokio::test]
async fn unimplemented_operations_answer_not_implemented() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    put(&c, "bkt", "k", b"data".to_vec()).await;
    // Bucket sub-resources, with a well-formed document for the PUTs (s3s
    // parses it before finding the operation unimplemented).
    let bucket_ops: [(&str, &str, &str); 25] = [
        ("GET", "encryption", ""),
        ("PUT", "encryption", "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"),
        ("DELETE", "encryption", ""),
        ("GET", "website", ""),
        ("PUT", "website", "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>"),
        ("DELETE", "website", ""),
        ("GET", "replication", ""),
        ("PUT", "replication", "<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule><Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::other</Bucket></Destination></Rule></ReplicationConfiguration>"),
        ("DELETE", "replication", ""),
        ("GET", "logging", ""),
        ("PUT", "logging", "<BucketLoggingStatus></BucketLoggingStatus>"),
        ("GET", "notification", ""),
        ("PUT", "notification", "<NotificationConfiguration></NotificationConfiguration>"),
        ("GET", "requestPayment", ""),
        ("PUT", "requestPayment", "<RequestPaymentConfiguration><Payer>Requester</Payer></RequestPaymentConfiguration>"),
        ("GET", "accelerate", ""),
        ("PUT", "accelerate", "<AccelerateConfiguration><Status>Enabled</Status></AccelerateConfiguration>"),
        ("GET", "analytics", ""),
        ("GET", "inventory", ""),
        ("GET", "metrics", ""),
        ("GET", "intelligent-tiering", ""),
        ("GET", "metadataTable", ""),
        ("GET", "metadataConfiguration", ""),
        ("GET", "abac", ""),
        ("PUT", "abac", ""),
    ];
    let object_ops: [(&str, &str, &str); 3] = [
        ("POST", "restore", ""),
        ("GET", "torrent", ""),
        ("PUT", "renameObject", ""),
    ];
    let mut unexpected = Vec::new();
    let requests = bucket_ops
        .iter()
        .map(|(m, q, b)| (*m, format!("bkt?{q}"), *b))
        .chain(
            object_ops
                .iter()
                .map(|(m, q, b)| (*m, format!("bkt/k?{q}"), *b)),
        );
    for (method, path, doc) in requests {
        let headers: &[(&str, &str)] = if path.ends_with("renameObject") {
            &[("x-amz-rename-source", "/bkt/k")]
        } else {
            &[]
        };
        let (status, text) = raw(&server, method, &path, headers, doc.as_bytes().to_vec()).await;
        if (status, xml_code(&text).as_deref()) != (501, Some("NotImplemented")) {
            unexpected.push(format!("{method} {path}: {status} {text}"));
        }
    }
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    assert_eq!(list_keys(&c, "bkt").await, vec!["k"]);
    assert_eq!(get_bytes(&c, "bkt", "k").await, b"data");
}
