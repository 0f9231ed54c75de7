//! Object ownership controls (BucketOwnerEnforced disables ACLs,
//! BucketOwnerPreferred, ObjectWriter) end to end; IgnorePublicAcls,
//! BlockPublicAcls and an explicit Deny beating ACL grants; DeleteObjects
//! authorising each key. The helpers are `acl`'s.

use crate::access::Admin;
use crate::acl::{anon, bucket_grants, gets, object_acl, p, ALL_USERS};
use crate::policy_eval::set_policy;
use cairn_tests::aws_sdk_s3::types::*;
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;

#[tokio::test]
async fn ownership_controls_round_trip_and_enforced_disables_acls() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    let (ak, sk) = admin.key("writer").await;
    let other = server.client_with(&ak, &sk);
    let ownership = |c: Client, b: &'static str| async move {
        let got = c
            .get_bucket_ownership_controls()
            .bucket(b)
            .send()
            .await
            .unwrap();
        got.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str()
            .to_string()
    };
    let set = |b: &'static str, o: ObjectOwnership| {
        root.put_bucket_ownership_controls()
            .bucket(b)
            .ownership_controls(
                OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(o)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
    };
    // New buckets: BucketOwnerEnforced, and no ACL but the owner's.
    create_bucket(&root, "own").await;
    assert_eq!(ownership(root.clone(), "own").await, "BucketOwnerEnforced");
    assert_err(
        root.create_bucket()
            .bucket("own2")
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await,
        400,
        &["InvalidBucketAclWithObjectOwnership"],
    );
    assert_err(root.head_bucket().bucket("own2").send().await, 404, &[]);
    assert_err(
        root.put_bucket_acl()
            .bucket("own")
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await,
        400,
        &["AccessControlListNotSupported"],
    );
    assert_err(
        root.put_object()
            .bucket("own")
            .key("k")
            .acl(ObjectCannedAcl::PublicRead)
            .body(body(b"x".to_vec()))
            .send()
            .await,
        400,
        &["AccessControlListNotSupported"],
    );
    assert_err(
        root.head_object().bucket("own").key("k").send().await,
        404,
        &[],
    );
    root.put_object()
        .bucket("own")
        .key("k")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(body(b"x".to_vec()))
        .send()
        .await
        .unwrap();
    root.put_bucket_acl()
        .bucket("own")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let owner_only = vec![p(ACCESS_KEY, "FULL_CONTROL")];
    assert_eq!(bucket_grants(&root, "own").await, owner_only);
    assert_eq!(
        object_acl(&root, "own", "k").await,
        (ACCESS_KEY.to_string(), owner_only.clone())
    );

    // ObjectWriter: ACLs on; back to enforced only once the ACL is private.
    set("own", ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    assert_eq!(ownership(root.clone(), "own").await, "ObjectWriter");
    root.put_bucket_acl()
        .bucket("own")
        .acl(BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    assert_err(
        set("own", ObjectOwnership::BucketOwnerEnforced)
            .send()
            .await,
        400,
        &["InvalidBucketAclWithObjectOwnership"],
    );
    assert_eq!(ownership(root.clone(), "own").await, "ObjectWriter");
    // BucketOwnerPreferred: bucket-owner-full-control hands the object over.
    set("own", ObjectOwnership::BucketOwnerPreferred)
        .send()
        .await
        .unwrap();
    for (key, acl, owner) in [
        (
            "mine",
            Some(ObjectCannedAcl::BucketOwnerFullControl),
            ACCESS_KEY,
        ),
        ("theirs", None, ak.as_str()),
    ] {
        other
            .put_object()
            .bucket("own")
            .key(key)
            .set_acl(acl)
            .body(body(b"x".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(object_acl(&root, "own", key).await.0, owner, "{key}");
    }
    // Enforced again: every object is the bucket owner's, ACLs read as the owner's.
    root.put_bucket_acl()
        .bucket("own")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    set("own", ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .unwrap();
    assert_eq!(
        object_acl(&root, "own", "theirs").await,
        (ACCESS_KEY.to_string(), owner_only)
    );
    assert_eq!(
        anon(&server, "PUT", "own/anon").await,
        403,
        "the ACL was made private"
    );
    // No controls: ObjectWriter, and none reported.
    root.delete_bucket_ownership_controls()
        .bucket("own")
        .send()
        .await
        .unwrap();
    assert_err(
        root.get_bucket_ownership_controls()
            .bucket("own")
            .send()
            .await,
        404,
        &["OwnershipControlsNotFoundError"],
    );
    root.put_bucket_acl()
        .bucket("own")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert_eq!(anon(&server, "GET", "own?list-type=2").await, 200);
}

#[tokio::test]
async fn public_access_block_and_explicit_deny_beat_acls() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    let (ak, sk) = admin.key("someone").await;
    let other = server.client_with(&ak, &sk);
    create_bucket_with_acls(&root, "pab", false).await;
    root.put_bucket_acl()
        .bucket("pab")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    for (key, acl) in [
        ("open/a", ObjectCannedAcl::PublicRead),
        ("auth/b", ObjectCannedAcl::AuthenticatedRead),
        ("secret/c", ObjectCannedAcl::PublicRead),
    ] {
        root.put_object()
            .bucket("pab")
            .key(key)
            .acl(acl)
            .body(body(b"x".to_vec()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(anon(&server, "GET", "pab/open/a").await, 200);
    assert!(gets(&other, "pab", "auth/b").await);

    // An explicit Deny beats the ACL grants.
    set_policy(&root, "pab", r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/secret/*"}"#).await;
    assert_eq!(anon(&server, "GET", "pab/secret/c").await, 403);
    assert!(!gets(&other, "pab", "secret/c").await);
    assert_eq!(anon(&server, "GET", "pab/open/a").await, 200);

    // IgnorePublicAcls: AllUsers and AuthenticatedUsers grants grant nothing.
    let block = |acls: bool, ignore: bool| {
        root.put_public_access_block()
            .bucket("pab")
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(acls)
                    .ignore_public_acls(ignore)
                    .build(),
            )
    };
    block(false, true).send().await.unwrap();
    assert_eq!(anon(&server, "GET", "pab/open/a").await, 403);
    assert_eq!(anon(&server, "GET", "pab?list-type=2").await, 403);
    assert!(!gets(&other, "pab", "auth/b").await);
    // A grant to the key itself is not public and still holds.
    root.put_object_acl()
        .bucket("pab")
        .key("auth/b")
        .grant_read(format!("id=\"{ak}\""))
        .send()
        .await
        .unwrap();
    assert!(gets(&other, "pab", "auth/b").await);

    // BlockPublicAcls: public ACLs refused wherever they are set; private goes.
    block(true, false).send().await.unwrap();
    assert_eq!(
        anon(&server, "GET", "pab/open/a").await,
        200,
        "existing ACLs apply again"
    );
    let all = Grantee::builder()
        .r#type(Type::Group)
        .uri(ALL_USERS)
        .build()
        .unwrap();
    let doc = AccessControlPolicy::builder()
        .owner(Owner::builder().id(ACCESS_KEY).build())
        .grants(
            Grant::builder()
                .grantee(all)
                .permission(Permission::Read)
                .build(),
        )
        .build();
    assert_err(
        root.put_bucket_acl()
            .bucket("pab")
            .access_control_policy(doc.clone())
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        root.put_object_acl()
            .bucket("pab")
            .key("auth/b")
            .access_control_policy(doc)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        root.put_object_acl()
            .bucket("pab")
            .key("auth/b")
            .acl(ObjectCannedAcl::PublicRead)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        root.put_object()
            .bucket("pab")
            .key("new")
            .acl(ObjectCannedAcl::AuthenticatedRead)
            .body(body(b"x".to_vec()))
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        root.head_object().bucket("pab").key("new").send().await,
        404,
        &[],
    );
    assert_eq!(
        object_acl(&root, "pab", "auth/b").await.1,
        vec![p(&ak, "READ")]
    );
    root.put_object_acl()
        .bucket("pab")
        .key("auth/b")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert!(!gets(&other, "pab", "auth/b").await);
}

#[tokio::test]
async fn delete_objects_authorises_each_key() {
    let server = Server::start_default().await;
    let root = server.client();
    create_bucket(&root, "dob").await;
    for key in ["tmp/1", "keep/2", "tmp/3"] {
        put(&root, "dob", key, "x").await;
    }
    set_policy(&root, "dob", r#"{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::dob/keep/*"}"#).await;
    let ids =
        ["tmp/1", "keep/2", "tmp/3"].map(|k| ObjectIdentifier::builder().key(k).build().unwrap());
    let out = root
        .delete_objects()
        .bucket("dob")
        .delete(
            Delete::builder()
                .set_objects(Some(ids.to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.errors().len(), 1, "{out:?}");
    assert_eq!(out.errors()[0].key(), Some("keep/2"));
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, vec!["tmp/1", "tmp/3"]);
    assert_eq!(list_keys(&root, "dob").await, vec!["keep/2"]);
}
