#![allow(clippy::unwrap_used)]
//! Conditional GET / HEAD / PUT.

use aws_sdk_s3::primitives::DateTime;
use cairn_tests::*;

async fn setup(c: &aws_sdk_s3::Client) -> (Vec<u8>, String, DateTime) {
    create_bucket(c, "cond").await;
    let data = payload(11, 300_000);
    let etag = put(c, "cond", "obj", data.clone()).await;
    let head = c
        .head_object()
        .bucket("cond")
        .key("obj")
        .send()
        .await
        .unwrap();
    let lm = *head.last_modified().expect("Last-Modified");
    (data, etag, lm)
}

fn shift(t: &DateTime, secs: i64) -> DateTime {
    DateTime::from_secs(t.secs() + secs)
}

#[tokio::test]
async fn get_if_match() {
    let server = Server::start_default().await;
    let c = server.client();
    let (data, etag, _) = setup(&c).await;

    let resp = c
        .get_object()
        .bucket("cond")
        .key("obj")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_slice()
    );
    // "*" matches any existing object.
    c.get_object()
        .bucket("cond")
        .key("obj")
        .if_match("*")
        .send()
        .await
        .unwrap();
    assert_err(
        c.get_object()
            .bucket("cond")
            .key("obj")
            .if_match("\"0123456789abcdef0123456789abcdef\"")
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    assert_err(
        c.head_object()
            .bucket("cond")
            .key("obj")
            .if_match("\"0123456789abcdef0123456789abcdef\"")
            .send()
            .await,
        412,
        &[],
    );
}

#[tokio::test]
async fn get_if_none_match() {
    let server = Server::start_default().await;
    let c = server.client();
    let (data, etag, _) = setup(&c).await;

    assert_err(
        c.get_object()
            .bucket("cond")
            .key("obj")
            .if_none_match(&etag)
            .send()
            .await,
        304,
        &[],
    );
    assert_err(
        c.head_object()
            .bucket("cond")
            .key("obj")
            .if_none_match(&etag)
            .send()
            .await,
        304,
        &[],
    );
    let resp = c
        .get_object()
        .bucket("cond")
        .key("obj")
        .if_none_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_slice()
    );
}

#[tokio::test]
async fn get_if_modified_since() {
    let server = Server::start_default().await;
    let c = server.client();
    let (data, _, lm) = setup(&c).await;

    // Not modified since its own Last-Modified -> 304.
    assert_err(
        c.get_object()
            .bucket("cond")
            .key("obj")
            .if_modified_since(lm)
            .send()
            .await,
        304,
        &[],
    );
    assert_err(
        c.head_object()
            .bucket("cond")
            .key("obj")
            .if_modified_since(lm)
            .send()
            .await,
        304,
        &[],
    );
    // Modified since a day before -> 200.
    let resp = c
        .get_object()
        .bucket("cond")
        .key("obj")
        .if_modified_since(shift(&lm, -86_400))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_slice()
    );
}

#[tokio::test]
async fn get_if_unmodified_since() {
    let server = Server::start_default().await;
    let c = server.client();
    let (data, _, lm) = setup(&c).await;

    assert_err(
        c.get_object()
            .bucket("cond")
            .key("obj")
            .if_unmodified_since(shift(&lm, -86_400))
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    assert_err(
        c.head_object()
            .bucket("cond")
            .key("obj")
            .if_unmodified_since(shift(&lm, -86_400))
            .send()
            .await,
        412,
        &[],
    );
    let resp = c
        .get_object()
        .bucket("cond")
        .key("obj")
        .if_unmodified_since(lm)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_slice()
    );
    c.get_object()
        .bucket("cond")
        .key("obj")
        .if_unmodified_since(shift(&lm, 86_400))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn put_if_none_match_star() {
    let server = Server::start_default().await;
    let c = server.client();
    let (data, etag, _) = setup(&c).await;

    assert_err(
        c.put_object()
            .bucket("cond")
            .key("obj")
            .if_none_match("*")
            .body(body(b"replacement".to_vec()))
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    // Object unchanged.
    assert_eq!(get_bytes(&c, "cond", "obj").await, data);
    let head = c
        .head_object()
        .bucket("cond")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));

    // Creating a new key with If-None-Match: * works...
    c.put_object()
        .bucket("cond")
        .key("fresh")
        .if_none_match("*")
        .body(body(b"first".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "cond", "fresh").await, b"first");
    // ...but only once.
    assert_err(
        c.put_object()
            .bucket("cond")
            .key("fresh")
            .if_none_match("*")
            .body(body(b"second".to_vec()))
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    assert_eq!(get_bytes(&c, "cond", "fresh").await, b"first");
}

#[tokio::test]
async fn put_if_match() {
    let server = Server::start_default().await;
    let c = server.client();
    let (data, etag, _) = setup(&c).await;

    assert_err(
        c.put_object()
            .bucket("cond")
            .key("obj")
            .if_match("\"0123456789abcdef0123456789abcdef\"")
            .body(body(b"replacement".to_vec()))
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    assert_eq!(get_bytes(&c, "cond", "obj").await, data);

    // Matching ETag -> overwrite succeeds.
    let new_etag = c
        .put_object()
        .bucket("cond")
        .key("obj")
        .if_match(&etag)
        .body(body(b"replacement".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(new_etag.e_tag(), Some(etag_of(b"replacement").as_str()));
    assert_eq!(get_bytes(&c, "cond", "obj").await, b"replacement");

    // The old ETag no longer matches.
    assert_err(
        c.put_object()
            .bucket("cond")
            .key("obj")
            .if_match(&etag)
            .body(body(b"again".to_vec()))
            .send()
            .await,
        412,
        &["PreconditionFailed"],
    );
    assert_eq!(get_bytes(&c, "cond", "obj").await, b"replacement");

    // If-Match on a missing key fails and creates nothing.
    assert_err(
        c.put_object()
            .bucket("cond")
            .key("absent")
            .if_match(&etag)
            .body(body(b"x".to_vec()))
            .send()
            .await,
        404,
        &["NoSuchKey"],
    );
    assert_eq!(list_keys(&c, "cond").await, vec!["obj"]);
}

#[tokio::test]
async fn conditional_precedence() {
    // RFC 7232 / S3: If-Match wins over If-Unmodified-Since, If-None-Match wins
    // over If-Modified-Since.
    let server = Server::start_default().await;
    let c = server.client();
    let (data, etag, lm) = setup(&c).await;

    // If-Match true + If-Unmodified-Since false -> 200.
    let resp = c
        .get_object()
        .bucket("cond")
        .key("obj")
        .if_match(&etag)
        .if_unmodified_since(shift(&lm, -86_400))
        .send()
        .await
        .unwrap_or_else(|e| panic!("If-Match true + IUS false: {}", describe(&e)));
    assert_eq!(
        resp.body.collect().await.unwrap().into_bytes().as_ref(),
        data.as_slice()
    );

    // If-None-Match false (matches) + If-Modified-Since true -> 304.
    assert_err(
        c.get_object()
            .bucket("cond")
            .key("obj")
            .if_none_match(&etag)
            .if_modified_since(shift(&lm, -86_400))
            .send()
            .await,
        304,
        &[],
    );

    // If-None-Match true (different) + If-Modified-Since false -> 200.
    c.get_object()
        .bucket("cond")
        .key("obj")
        .if_none_match("\"0123456789abcdef0123456789abcdef\"")
        .if_modified_since(lm)
        .send()
        .await
        .unwrap_or_else(|e| panic!("INM true + IMS false: {}", describe(&e)));

    // Conditions on a missing key: 404, not 412/304.
    assert_err(
        c.get_object()
            .bucket("cond")
            .key("missing")
            .if_match(&etag)
            .send()
            .await,
        404,
        &["NoSuchKey"],
    );
}
