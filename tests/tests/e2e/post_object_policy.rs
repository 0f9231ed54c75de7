//! POST object (browser form) uploads are authorised as the PutObject of their
//! key, like every other request: the bucket policy's explicit Deny refuses them
//! (nothing stored), a key without grants is refused, and a policy Allow opens a
//! prefix to a key that has no grant.

use crate::access::Admin;
use crate::policy_eval::set_policy;
use crate::post_object::{exists, key_prefix, post_form, v4_fields, with};
use cairn_tests::*;

#[tokio::test]
async fn post_object_follows_the_bucket_policy() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    create_bucket(&root, "forms").await;
    let (ak, sk) = admin.key("uploader").await;
    let form = |access: &str, secret: &str, key: &str| {
        with(
            v4_fields(access, secret, "forms", vec![key_prefix("")], 600),
            &[("key", key)],
        )
    };

    // A Deny on a prefix refuses even the owner (admin key), elsewhere it posts.
    set_policy(
        &root,
        "forms",
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/locked/*"}"#,
    )
    .await;
    let (status, _, body) = post_form(
        &server,
        "forms",
        &form(ACCESS_KEY, SECRET_KEY, "locked/a"),
        "a",
        b"x",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
    assert!(!exists(&root, "forms", "locked/a").await);
    let (status, _, body) = post_form(
        &server,
        "forms",
        &form(ACCESS_KEY, SECRET_KEY, "open/a"),
        "a",
        b"x",
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert!(exists(&root, "forms", "open/a").await);

    // A key without grants: refused, until a policy Allow opens a prefix to it.
    let (status, _, _) = post_form(&server, "forms", &form(&ak, &sk, "in/b"), "b", b"y").await;
    assert_eq!(status, 403);
    assert!(!exists(&root, "forms", "in/b").await);
    set_policy(
        &root,
        "forms",
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/uploader"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/in/*"}"#,
    )
    .await;
    let (status, _, body) = post_form(&server, "forms", &form(&ak, &sk, "in/b"), "b", b"y").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(get_bytes(&root, "forms", "in/b").await, b"y");
    let (status, _, _) = post_form(&server, "forms", &form(&ak, &sk, "out/c"), "c", b"z").await;
    assert_eq!(status, 403);
    assert!(!exists(&root, "forms", "out/c").await);
}
