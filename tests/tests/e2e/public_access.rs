//! PublicAccessBlock end to end: Put/Get/Delete round trips, and each setting as
//! AWS evaluates it — BlockPublicAcls refuses public ACLs, IgnorePublicAcls makes
//! public-read buckets and objects private again, BlockPublicPolicy refuses a public policy,
//! RestrictPublicBuckets closes what a public policy opened to anonymous clients.

use crate::policy_eval::set_policy;
use cairn_tests::aws_sdk_s3::types::{
    BucketCannedAcl, ObjectCannedAcl, PublicAccessBlockConfiguration,
};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;

async fn block(c: &Client, bucket: &str, acls: bool, ignore: bool, policy: bool, restrict: bool) {
    c.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(acls)
                .ignore_public_acls(ignore)
                .block_public_policy(policy)
                .restrict_public_buckets(restrict)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

const PUBLIC: &str =
    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}"#;

#[tokio::test]
async fn public_access_block_closes_what_acls_and_policies_open() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket_with_acls(&c, "pab", true).await;
    put_public(&c, "pab", "k", "v").await;
    assert_err(
        c.get_public_access_block().bucket("pab").send().await,
        404,
        &["NoSuchPublicAccessBlockConfiguration"],
    );
    assert_eq!(server.anonymous_get_status("pab/k").await, 200);

    // IgnorePublicAcls: the public-read ACL opens nothing (it is still stored).
    block(&c, "pab", false, true, false, false).await;
    let got = c
        .get_public_access_block()
        .bucket("pab")
        .send()
        .await
        .unwrap();
    let cfg = got.public_access_block_configuration().unwrap();
    assert_eq!(cfg.ignore_public_acls(), Some(true));
    assert_eq!(cfg.block_public_acls(), Some(false));
    assert_eq!(server.anonymous_get_status("pab/k").await, 403);
    assert_eq!(server.anonymous_get_status("pab?list-type=2").await, 403);

    // BlockPublicAcls: setting a public ACL is refused; private still goes.
    block(&c, "pab", true, false, false, false).await;
    assert_eq!(
        server.anonymous_get_status("pab/k").await,
        200,
        "existing ACLs still apply"
    );
    assert_err(
        c.put_bucket_acl()
            .bucket("pab")
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_err(
        c.put_object_acl()
            .bucket("pab")
            .key("k")
            .acl(ObjectCannedAcl::PublicReadWrite)
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    c.put_bucket_acl()
        .bucket("pab")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.anonymous_get_status("pab/k").await,
        200,
        "the object's own ACL still opens it"
    );
    c.put_object_acl()
        .bucket("pab")
        .key("k")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(server.anonymous_get_status("pab/k").await, 403);

    // BlockPublicPolicy: a public policy is refused, a non-public one goes.
    block(&c, "pab", false, false, true, false).await;
    assert_err(
        c.put_bucket_policy()
            .bucket("pab")
            .policy(format!(r#"{{"Statement":[{PUBLIC}]}}"#))
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_eq!(server.anonymous_get_status("pab/k").await, 403);
    set_policy(&c, "pab", r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.1/32"}}}"#).await;
    assert_eq!(
        server.anonymous_get_status("pab/k").await,
        200,
        "a policy pinned to addresses is not public"
    );

    // RestrictPublicBuckets: a public policy stays stored but opens nothing.
    c.delete_public_access_block()
        .bucket("pab")
        .send()
        .await
        .unwrap();
    set_policy(&c, "pab", PUBLIC).await;
    assert_eq!(server.anonymous_get_status("pab/k").await, 200);
    block(&c, "pab", false, false, false, true).await;
    assert_eq!(server.anonymous_get_status("pab/k").await, 403);
    assert!(
        c.get_object().bucket("pab").key("k").send().await.is_ok(),
        "keys are unaffected"
    );
    c.delete_public_access_block()
        .bucket("pab")
        .send()
        .await
        .unwrap();
    assert_eq!(server.anonymous_get_status("pab/k").await, 200);
}
