//! S3 ACLs end to end, against another key, any key (AuthenticatedUsers) and
//! anonymous clients (AllUsers): each canned ACL on buckets and objects, set and
//! read back and what it opens; explicit grant headers and AccessControlPolicy
//! documents; PutObjectAcl / GetObjectAcl of one version; bad grantees refused
//! with nothing changed. Ownership controls and what beats an ACL:
//! `acl_ownership`.

use crate::access::Admin;
use cairn_tests::aws_sdk_s3::types::*;
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;

pub(crate) const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Grants as (grantee id or group uri, permission).
pub(crate) fn pairs(grants: &[Grant]) -> Vec<(String, String)> {
    grants
        .iter()
        .map(|g| {
            let e = g.grantee().unwrap();
            let who = e.id().or(e.uri()).unwrap_or_default().to_string();
            (who, g.permission().unwrap().as_str().to_string())
        })
        .collect()
}

pub(crate) fn p(who: &str, perm: &str) -> (String, String) {
    (who.to_string(), perm.to_string())
}

pub(crate) async fn bucket_grants(c: &Client, bucket: &str) -> Vec<(String, String)> {
    let got = c.get_bucket_acl().bucket(bucket).send().await.unwrap();
    assert_eq!(got.owner().and_then(|o| o.id()), Some(ACCESS_KEY));
    pairs(got.grants())
}

pub(crate) async fn object_acl(
    c: &Client,
    bucket: &str,
    key: &str,
) -> (String, Vec<(String, String)>) {
    let got = c
        .get_object_acl()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let owner = got.owner().and_then(|o| o.id()).unwrap().to_string();
    (owner, pairs(got.grants()))
}

pub(crate) async fn anon(server: &Server, method: &str, path: &str) -> u16 {
    let rb = server
        .http()
        .request(method.parse().unwrap(), server.url(path));
    let rb = if method == "PUT" { rb.body("anon") } else { rb };
    rb.send().await.unwrap().status().as_u16()
}

pub(crate) async fn lists(c: &Client, bucket: &str) -> bool {
    c.list_objects_v2().bucket(bucket).send().await.is_ok()
}

pub(crate) async fn puts(c: &Client, bucket: &str, key: &str) -> bool {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(body(b"x".to_vec()))
        .send()
        .await
        .is_ok()
}

pub(crate) async fn gets(c: &Client, bucket: &str, key: &str) -> bool {
    c.get_object().bucket(bucket).key(key).send().await.is_ok()
}

#[tokio::test]
async fn canned_acls_round_trip_and_open_what_they_grant() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    let (ak, sk) = admin.key("other").await;
    let other = server.client_with(&ak, &sk);
    create_bucket_with_acls(&root, "can", false).await;
    put(&root, "can", "k", "v").await;
    let owner = p(ACCESS_KEY, "FULL_CONTROL");
    assert_eq!(bucket_grants(&root, "can").await, vec![owner.clone()]);
    // (ACL, grants, anonymous list, other key lists, anonymous put, other puts)
    let cases = [
        (BucketCannedAcl::Private, vec![], 403, false, 403, false),
        (
            BucketCannedAcl::PublicRead,
            vec![p(ALL_USERS, "READ")],
            200,
            true,
            403,
            false,
        ),
        (
            BucketCannedAcl::PublicReadWrite,
            vec![p(ALL_USERS, "READ"), p(ALL_USERS, "WRITE")],
            200,
            true,
            200,
            true,
        ),
        (
            BucketCannedAcl::AuthenticatedRead,
            vec![p(AUTH_USERS, "READ")],
            403,
            true,
            403,
            false,
        ),
    ];
    for (acl, extra, anon_list, other_lists, anon_put, other_puts) in cases {
        let name = acl.as_str().to_string();
        root.put_bucket_acl()
            .bucket("can")
            .acl(acl)
            .send()
            .await
            .unwrap();
        let mut want = vec![owner.clone()];
        want.extend(extra);
        assert_eq!(bucket_grants(&root, "can").await, want, "{name}");
        assert_eq!(
            anon(&server, "GET", "can?list-type=2").await,
            anon_list,
            "{name}"
        );
        assert_eq!(lists(&other, "can").await, other_lists, "{name}");
        assert_eq!(anon(&server, "PUT", "can/anon").await, anon_put, "{name}");
        assert_eq!(puts(&other, "can", "by-other").await, other_puts, "{name}");
        // A bucket ACL opens listing and writing, never reading the objects.
        assert_eq!(anon(&server, "GET", "can/k").await, 403, "{name}");
    }

    // Object ACLs, on objects the bucket owner writes and on another key's (the
    // bucket lets anyone write).
    root.put_bucket_acl()
        .bucket("can")
        .acl(BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    let cases = [
        (ObjectCannedAcl::Private, vec![], 403, false),
        (
            ObjectCannedAcl::PublicRead,
            vec![p(ALL_USERS, "READ")],
            200,
            true,
        ),
        (
            ObjectCannedAcl::PublicReadWrite,
            vec![p(ALL_USERS, "READ"), p(ALL_USERS, "WRITE")],
            200,
            true,
        ),
        (
            ObjectCannedAcl::AuthenticatedRead,
            vec![p(AUTH_USERS, "READ")],
            403,
            true,
        ),
        (ObjectCannedAcl::BucketOwnerRead, vec![], 403, false),
        (ObjectCannedAcl::BucketOwnerFullControl, vec![], 403, false),
    ];
    for (acl, extra, anon_get, other_gets) in cases {
        let name = acl.as_str().to_string();
        let key = format!("obj-{name}");
        root.put_object()
            .bucket("can")
            .key(&key)
            .acl(acl.clone())
            .body(body(b"data".to_vec()))
            .send()
            .await
            .unwrap();
        let mut want = vec![owner.clone()];
        want.extend(extra);
        assert_eq!(
            object_acl(&root, "can", &key).await,
            (ACCESS_KEY.to_string(), want),
            "{name}"
        );
        assert_eq!(
            anon(&server, "GET", &format!("can/{key}")).await,
            anon_get,
            "{name}"
        );
        assert_eq!(gets(&other, "can", &key).await, other_gets, "{name}");
        // The same ACL on an object another key writes (the bucket is
        // public-read-write): that key owns it; the bucket-owner ACLs grant to
        // the bucket's owner.
        other
            .put_object()
            .bucket("can")
            .key(&key)
            .acl(acl.clone())
            .body(body(b"theirs".to_vec()))
            .send()
            .await
            .unwrap();
        let (obj_owner, grants) = object_acl(&other, "can", &key).await;
        assert_eq!(obj_owner, ak, "{name}");
        assert_eq!(grants[0], p(&ak, "FULL_CONTROL"), "{name}");
        let to_owner = match name.as_str() {
            "bucket-owner-read" => Some(p(ACCESS_KEY, "READ")),
            "bucket-owner-full-control" => Some(p(ACCESS_KEY, "FULL_CONTROL")),
            _ => None,
        };
        assert_eq!(
            grants.get(1).cloned().filter(|_| to_owner.is_some()),
            to_owner,
            "{name}"
        );
        assert!(
            gets(&other, "can", &key).await,
            "the writer reads its object"
        );
    }
    // Canned ACLs Cairn cannot keep.
    assert_err(
        root.put_bucket_acl()
            .bucket("can")
            .acl(BucketCannedAcl::from("log-delivery-write"))
            .send()
            .await,
        501,
        &["NotImplemented"],
    );
}

#[tokio::test]
async fn grants_headers_and_documents_round_trip_take_effect_and_are_checked() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    let (ak, sk) = admin.key("grantee").await;
    let other = server.client_with(&ak, &sk);
    create_bucket_with_acls(&root, "grants", false).await;
    put(&root, "grants", "k", "v").await;

    // Header grants: exactly what was asked, no implicit owner grant.
    root.put_bucket_acl()
        .bucket("grants")
        .grant_read(format!("id=\"{ak}\""))
        .grant_read_acp(format!("id=\"{ak}\", uri=\"{AUTH_USERS}\""))
        .grant_full_control(format!("id=\"{ACCESS_KEY}\""))
        .send()
        .await
        .unwrap();
    let want = vec![
        p(&ak, "READ"),
        p(&ak, "READ_ACP"),
        p(AUTH_USERS, "READ_ACP"),
        p(ACCESS_KEY, "FULL_CONTROL"),
    ];
    assert_eq!(bucket_grants(&root, "grants").await, want);
    assert!(lists(&other, "grants").await, "READ lists");
    assert!(!puts(&other, "grants", "x").await, "READ does not write");
    assert_eq!(
        bucket_grants(&other, "grants").await,
        want,
        "READ_ACP reads the ACL"
    );
    assert_err(
        other
            .put_bucket_acl()
            .bucket("grants")
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );

    // A document: WRITE and WRITE_ACP to the other key.
    let user = Grantee::builder()
        .r#type(Type::CanonicalUser)
        .id(&ak)
        .build()
        .unwrap();
    let owner = Grantee::builder()
        .r#type(Type::CanonicalUser)
        .id(ACCESS_KEY)
        .build()
        .unwrap();
    let grant = |g: &Grantee, perm: Permission| {
        Grant::builder().grantee(g.clone()).permission(perm).build()
    };
    let doc = |grants: Vec<Grant>| {
        AccessControlPolicy::builder()
            .owner(Owner::builder().id(ACCESS_KEY).build())
            .set_grants(Some(grants))
            .build()
    };
    root.put_bucket_acl()
        .bucket("grants")
        .access_control_policy(doc(vec![
            grant(&owner, Permission::FullControl),
            grant(&user, Permission::Write),
            grant(&user, Permission::WriteAcp),
        ]))
        .send()
        .await
        .unwrap();
    let want = vec![
        p(ACCESS_KEY, "FULL_CONTROL"),
        p(&ak, "WRITE"),
        p(&ak, "WRITE_ACP"),
    ];
    assert_eq!(bucket_grants(&root, "grants").await, want);
    assert!(puts(&other, "grants", "x").await, "WRITE writes");
    assert!(!lists(&other, "grants").await, "WRITE does not list");
    other
        .put_bucket_acl()
        .bucket("grants")
        .access_control_policy(doc(vec![
            grant(&owner, Permission::FullControl),
            grant(&user, Permission::Write),
        ]))
        .send()
        .await
        .unwrap();

    // Bad grantees: refused, nothing changed.
    let before = bucket_grants(&root, "grants").await;
    let unknown = Grantee::builder()
        .r#type(Type::CanonicalUser)
        .id("NOSUCHKEY")
        .build()
        .unwrap();
    let email = Grantee::builder()
        .r#type(Type::AmazonCustomerByEmail)
        .email_address("a@example.com")
        .build()
        .unwrap();
    assert_err(
        root.put_bucket_acl()
            .bucket("grants")
            .access_control_policy(doc(vec![grant(&unknown, Permission::Read)]))
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    assert_err(
        root.put_bucket_acl()
            .bucket("grants")
            .access_control_policy(doc(vec![grant(&email, Permission::Read)]))
            .send()
            .await,
        400,
        &["UnresolvableGrantByEmailAddress"],
    );
    assert_err(
        root.put_bucket_acl()
            .bucket("grants")
            .grant_write("id=\"NOSUCHKEY\"")
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    assert_err(
        root.put_bucket_acl()
            .bucket("grants")
            .acl(BucketCannedAcl::PublicRead)
            .grant_read(format!("id=\"{ak}\""))
            .send()
            .await,
        400,
        &["InvalidRequest"],
    );
    assert_err(
        root.put_object()
            .bucket("grants")
            .key("bad")
            .grant_read("emailAddress=\"a@example.com\"")
            .body(body(b"x".to_vec()))
            .send()
            .await,
        400,
        &["UnresolvableGrantByEmailAddress"],
    );
    assert_err(
        root.head_object().bucket("grants").key("bad").send().await,
        404,
        &[],
    );
    assert_eq!(bucket_grants(&root, "grants").await, before);

    // PutObjectAcl / GetObjectAcl of one version.
    root.put_bucket_versioning()
        .bucket("grants")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v1 = root
        .put_object()
        .bucket("grants")
        .key("doc")
        .body(body(b"one".to_vec()))
        .send()
        .await
        .unwrap();
    let v1 = v1.version_id().unwrap().to_string();
    put(&root, "grants", "doc", "two").await;
    root.put_object_acl()
        .bucket("grants")
        .key("doc")
        .version_id(&v1)
        .grant_read(format!("id=\"{ak}\""))
        .send()
        .await
        .unwrap();
    let got = root
        .get_object_acl()
        .bucket("grants")
        .key("doc")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(pairs(got.grants()), vec![p(&ak, "READ")]);
    assert_eq!(
        object_acl(&root, "grants", "doc").await,
        (ACCESS_KEY.to_string(), vec![p(ACCESS_KEY, "FULL_CONTROL")]),
        "the newest version keeps its own ACL"
    );
    let old = other
        .get_object()
        .bucket("grants")
        .key("doc")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.body.collect().await.unwrap().into_bytes().as_ref(),
        b"one"
    );
    assert!(!gets(&other, "grants", "doc").await);
    // A document on the object, and a bad one leaving it as it was.
    root.put_object_acl()
        .bucket("grants")
        .key("doc")
        .access_control_policy(doc(vec![grant(&user, Permission::FullControl)]))
        .send()
        .await
        .unwrap();
    assert!(gets(&other, "grants", "doc").await);
    assert_err(
        root.put_object_acl()
            .bucket("grants")
            .key("doc")
            .access_control_policy(doc(vec![grant(&unknown, Permission::Read)]))
            .send()
            .await,
        400,
        &["InvalidArgument"],
    );
    assert_eq!(
        object_acl(&root, "grants", "doc").await.1,
        vec![p(&ak, "FULL_CONTROL")]
    );
}
