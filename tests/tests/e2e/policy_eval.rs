//! Bucket policy evaluation end to end: principals (`*`, key ARNs, access key
//! ids, NotPrincipal), actions with wildcards and NotAction, resources and
//! NotResource, an explicit Deny beating grants, a public-read ACL and the admin
//! key (which may still change the policy), an Allow opening what grants do
//! not, anonymous access only where opened, GetBucketPolicyStatus, and
//! MalformedPolicy for unknown condition keys and operators.

use crate::access::Admin;
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;

pub(crate) async fn set_policy(c: &Client, bucket: &str, statements: &str) {
    let text = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    c.put_bucket_policy()
        .bucket(bucket)
        .policy(text)
        .send()
        .await
        .unwrap();
}

async fn get_ok(c: &Client, bucket: &str, key: &str) -> bool {
    c.get_object().bucket(bucket).key(key).send().await.is_ok()
}

#[tokio::test]
async fn principals_actions_and_resources() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    let (shop_ak, shop_sk) = admin.key("shop").await;
    let (partner_ak, partner_sk) = admin.key("partner").await;
    let shop = server.client_with(&shop_ak, &shop_sk);
    let partner = server.client_with(&partner_ak, &partner_sk);
    create_bucket(&root, "exports").await;
    put(&root, "exports", "public/a.csv", "a").await;
    put(&root, "exports", "private/b.csv", "b").await;

    // No grant, no policy: nothing.
    assert!(!get_ok(&partner, "exports", "public/a.csv").await);
    // A key ARN and s3:Get* on a prefix: that key, those objects, reads only.
    set_policy(&root, "exports", r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/partner"},"Action":"s3:Get*","Resource":"arn:aws:s3:::exports/public/*"}"#).await;
    assert!(get_ok(&partner, "exports", "public/a.csv").await);
    assert!(!get_ok(&partner, "exports", "private/b.csv").await);
    assert!(!get_ok(&shop, "exports", "public/a.csv").await);
    assert_err(
        partner
            .put_object()
            .bucket("exports")
            .key("public/x")
            .body(body(b"x".to_vec()))
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_eq!(
        server.anonymous_get_status("exports/public/a.csv").await,
        403
    );
    // The key's own id, NotResource, and listing on the bucket ARN.
    set_policy(&root, "exports", &format!(r#"{{"Effect":"Allow","Principal":{{"AWS":["{shop_ak}"]}},"Action":["s3:GetObject","s3:ListBucket"],"NotResource":"arn:aws:s3:::exports/private/*"}}"#)).await;
    assert!(get_ok(&shop, "exports", "public/a.csv").await);
    assert!(!get_ok(&shop, "exports", "private/b.csv").await);
    let listed = shop
        .list_objects_v2()
        .bucket("exports")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(2));
    assert!(partner
        .list_objects_v2()
        .bucket("exports")
        .send()
        .await
        .is_err());
    // NotAction: everything but deleting.
    set_policy(&root, "exports", r#"{"Effect":"Allow","Principal":"*","NotAction":["s3:Delete*","s3:PutBucket*"],"Resource":["arn:aws:s3:::exports","arn:aws:s3:::exports/*"]}"#).await;
    put(&shop, "exports", "public/new", "n").await;
    assert_err(
        shop.delete_object()
            .bucket("exports")
            .key("public/new")
            .send()
            .await,
        403,
        &["AccessDenied"],
    );
    assert_eq!(server.anonymous_get_status("exports/public/new").await, 200);
    assert_eq!(
        server.anonymous_get_status("exports?list-type=2").await,
        200
    );
    // NotPrincipal with Deny: everyone but the shop is refused.
    set_policy(&root, "exports", r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::exports/*"},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::000000000000:user/shop"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::exports/private/*"}"#).await;
    assert!(get_ok(&shop, "exports", "private/b.csv").await);
    assert!(!get_ok(&partner, "exports", "private/b.csv").await);
    assert!(get_ok(&partner, "exports", "public/a.csv").await);
    assert_eq!(
        server.anonymous_get_status("exports/private/b.csv").await,
        403
    );
    assert_eq!(
        server.anonymous_get_status("exports/public/a.csv").await,
        200
    );
}

#[tokio::test]
async fn explicit_deny_beats_grants_acls_and_admin() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    let (reader_ak, reader_sk) = admin.key("reader").await;
    let reader = server.client_with(&reader_ak, &reader_sk);
    create_bucket_with_acls(&root, "shop", true).await;
    put_public(&root, "shop", "img/a.png", "png").await;
    put_public(&root, "shop", "secret/x", "x").await;
    admin
        .grant(
            "shop",
            "reader",
            "allow",
            serde_json::json!({ "read": true }),
        )
        .await;
    assert!(get_ok(&reader, "shop", "secret/x").await);
    assert_eq!(server.anonymous_get_status("shop/secret/x").await, 200);
    // A public-read bucket lets anonymous clients list it.
    assert_eq!(server.anonymous_get_status("shop?list-type=2").await, 200);

    set_policy(&root, "shop", r#"{"Sid":"nosecrets","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::shop/secret/*"}"#).await;
    assert!(
        !get_ok(&reader, "shop", "secret/x").await,
        "deny beats a grant"
    );
    assert!(get_ok(&reader, "shop", "img/a.png").await);
    assert_eq!(
        server.anonymous_get_status("shop/secret/x").await,
        403,
        "deny beats the ACL"
    );
    assert_eq!(server.anonymous_get_status("shop/img/a.png").await, 200);
    assert!(
        !get_ok(&root, "shop", "secret/x").await,
        "deny binds the admin key"
    );
    assert_err(
        root.delete_object()
            .bucket("shop")
            .key("secret/x")
            .send()
            .await,
        403,
        &["AccessDenied"],
    );

    // A policy that denies everything still lets the admin key take it back.
    set_policy(&root, "shop", r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":["arn:aws:s3:::shop","arn:aws:s3:::shop/*"]}"#).await;
    assert!(!get_ok(&root, "shop", "img/a.png").await);
    assert!(root.list_objects_v2().bucket("shop").send().await.is_err());
    assert!(root.get_bucket_policy().bucket("shop").send().await.is_ok());
    assert_err(
        reader.get_bucket_policy().bucket("shop").send().await,
        403,
        &["AccessDenied"],
    );
    root.delete_bucket_policy()
        .bucket("shop")
        .send()
        .await
        .unwrap();
    assert!(get_ok(&root, "shop", "secret/x").await);
    assert!(get_ok(&reader, "shop", "secret/x").await);
}

#[tokio::test]
async fn anonymous_access_only_where_opened() {
    let server = Server::start_default().await;
    let root = server.client();
    create_bucket(&root, "bkt").await;
    put(&root, "bkt", "k", "v").await;
    for path in ["bkt/k", "bkt?list-type=2", "bkt?policy", "bkt?acl", ""] {
        assert_eq!(server.anonymous_get_status(path).await, 403, "{path}");
    }
    let anon_put = server
        .http()
        .put(server.url("bkt/new"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(anon_put.status().as_u16(), 403);
    set_policy(&root, "bkt", r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#).await;
    assert_eq!(server.anonymous_get_status("bkt/k").await, 200);
    assert_eq!(server.anonymous_get_status("bkt?list-type=2").await, 403);
    // The account principal means every key, never anonymous clients.
    set_policy(&root, "bkt", r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#).await;
    assert_eq!(server.anonymous_get_status("bkt/k").await, 403);
}

#[tokio::test]
async fn policy_status_and_malformed_policies() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    assert_err(
        c.get_bucket_policy_status().bucket("bkt").send().await,
        404,
        &["NoSuchBucketPolicy"],
    );
    let status = |c: Client| async move {
        c.get_bucket_policy_status()
            .bucket("bkt")
            .send()
            .await
            .unwrap()
            .policy_status()
            .and_then(|s| s.is_public())
    };
    set_policy(&c, "bkt", r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#).await;
    assert_eq!(status(c.clone()).await, Some(true));
    set_policy(&c, "bkt", r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}"#).await;
    assert_eq!(status(c.clone()).await, Some(false));
    set_policy(&c, "bkt", r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}"#).await;
    assert_eq!(status(c.clone()).await, Some(false));

    let cond = |c: &str| {
        format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*","Condition":{c}}}]}}"#
        )
    };
    for bad in [
        cond(r#"{"StringEquals":{"aws:NoSuchKey":"x"}}"#),
        cond(r#"{"StringEquals":{"s3:no-such-key":"x"}}"#),
        cond(r#"{"StringEqualsSometimes":{"aws:Referer":"x"}}"#),
        cond(r#"{"ForSomeValues:StringEquals":{"aws:Referer":"x"}}"#),
        cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}"#),
        cond(r#"{"NumericLessThan":{"s3:max-keys":"many"}}"#),
        cond(r#"{"DateLessThan":{"aws:CurrentTime":"yesterday"}}"#),
        cond(r#"{"Bool":{"aws:SecureTransport":"maybe"}}"#),
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::bkt/*"}]}"#.to_string(),
    ] {
        assert_err(
            c.put_bucket_policy().bucket("bkt").policy(&bad).send().await,
            400,
            &["MalformedPolicy"],
        );
    }
    // The refused documents changed nothing.
    assert_eq!(status(c.clone()).await, Some(false));
}
