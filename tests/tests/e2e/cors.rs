#![allow(clippy::unwrap_used)]
//! CORS: Put/Get/DeleteBucketCors round trips and AWS's validation, preflight
//! `OPTIONS` answered from the matching rule (403 when none matches or the bucket
//! has no rules), and `Access-Control-*` / `Vary: Origin` on actual responses:
//! GET, PUT, errors and presigned requests.

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use cairn_tests::*;
use std::time::Duration;

fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
    let mut b = CorsRule::builder();
    for o in origins {
        b = b.allowed_origins(*o);
    }
    for m in methods {
        b = b.allowed_methods(*m);
    }
    for h in headers {
        b = b.allowed_headers(*h);
    }
    b.build().unwrap()
}

async fn put_rules(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    rules: Vec<CorsRule>,
) -> Result<(), String> {
    let cfg = CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(cfg)
        .send()
        .await
        .map(drop)
        .map_err(|e| error_code(&e))
}

fn error_code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("?").to_string()
}

async fn preflight(
    server: &Server,
    path: &str,
    origin: Option<&str>,
    method: &str,
    headers: Option<&str>,
) -> reqwest::Response {
    let mut rb = server
        .http()
        .request(reqwest::Method::OPTIONS, server.url(path))
        .header("access-control-request-method", method);
    if let Some(o) = origin {
        rb = rb.header("origin", o);
    }
    if let Some(h) = headers {
        rb = rb.header("access-control-request-headers", h);
    }
    rb.send().await.unwrap()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

const SHOP: &str = "https://shop.example";

async fn shop_bucket(server: &Server, bucket: &str) -> aws_sdk_s3::Client {
    let c = server.client();
    create_bucket(&c, bucket).await;
    let mut upload = rule(&[SHOP], &["PUT", "POST"], &["content-type", "x-amz-*"]);
    upload.max_age_seconds = Some(600);
    let mut read = rule(&["https://*.cdn.example"], &["GET", "HEAD"], &[]);
    read.expose_headers = Some(vec!["ETag".into(), "x-amz-version-id".into()]);
    put_rules(&c, bucket, vec![upload, read]).await.unwrap();
    c
}

#[tokio::test]
async fn cors_rules_round_trip_and_are_validated() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "corsv").await;
    let err = c
        .get_bucket_cors()
        .bucket("corsv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchCORSConfiguration");

    let bad: [(Vec<CorsRule>, &str); 4] = [
        (vec![rule(&["*"], &["PATCH"], &[])], "InvalidRequest"),
        (
            vec![rule(&["https://*.*.example"], &["GET"], &[])],
            "InvalidRequest",
        ),
        (vec![rule(&["*"], &["GET"], &["x-*-*"])], "InvalidRequest"),
        (
            (0..101).map(|_| rule(&["*"], &["GET"], &[])).collect(),
            "MalformedXML",
        ),
    ];
    for (rules, code) in bad {
        assert_eq!(put_rules(&c, "corsv", rules).await.unwrap_err(), code);
    }
    // Refused documents left nothing behind.
    assert!(c.get_bucket_cors().bucket("corsv").send().await.is_err());

    let mut r = rule(&[SHOP, "https://*.cdn.example"], &["GET", "PUT"], &["*"]);
    r.id = Some("shop".into());
    r.max_age_seconds = Some(3000);
    r.expose_headers = Some(vec!["ETag".into()]);
    put_rules(&c, "corsv", vec![r.clone()]).await.unwrap();
    let got = c.get_bucket_cors().bucket("corsv").send().await.unwrap();
    assert_eq!(got.cors_rules(), &[r]);

    let missing = put_rules(&c, "no-such-bucket", vec![rule(&["*"], &["GET"], &[])]).await;
    assert_eq!(missing.unwrap_err(), "NoSuchBucket");

    c.delete_bucket_cors().bucket("corsv").send().await.unwrap();
    let err = c
        .get_bucket_cors()
        .bucket("corsv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "NoSuchCORSConfiguration");
    // The preflight follows at once on this gateway.
    let resp = preflight(&server, "corsv/k", Some(SHOP), "GET", None).await;
    assert_eq!(resp.status().as_u16(), 403);
}

#[tokio::test]
async fn preflight_is_answered_from_the_matching_rule() {
    let server = Server::start_default().await;
    shop_bucket(&server, "corsp").await;

    let ok = preflight(
        &server,
        "corsp/img/a.png",
        Some(SHOP),
        "PUT",
        Some("Content-Type, X-Amz-Date"),
    )
    .await;
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(header(&ok, "access-control-allow-origin"), Some(SHOP));
    assert_eq!(
        header(&ok, "access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        header(&ok, "access-control-allow-methods"),
        Some("PUT, POST")
    );
    assert_eq!(
        header(&ok, "access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(header(&ok, "access-control-max-age"), Some("600"));
    assert!(header(&ok, "vary").unwrap().contains("Origin"));

    let cdn = preflight(
        &server,
        "corsp/img/a.png",
        Some("https://eu.cdn.example"),
        "GET",
        None,
    )
    .await;
    assert_eq!(cdn.status().as_u16(), 200);
    assert_eq!(
        header(&cdn, "access-control-allow-origin"),
        Some("https://eu.cdn.example")
    );

    // Refused: another origin, a method or a header no rule allows.
    for (origin, method, headers) in [
        ("https://evil.example", "PUT", None),
        (SHOP, "DELETE", None),
        (SHOP, "PUT", Some("authorization")),
        ("https://eu.cdn.example", "GET", Some("range")),
    ] {
        let resp = preflight(&server, "corsp/img/a.png", Some(origin), method, headers).await;
        assert_eq!(resp.status().as_u16(), 403, "{origin} {method} {headers:?}");
        assert!(header(&resp, "access-control-allow-origin").is_none());
        let body = resp.text().await.unwrap();
        assert!(body.contains("<Code>AccessForbidden</Code>"), "{body}");
    }
    // Without an Origin: 400. A bucket without rules, or no bucket: 403.
    let resp = preflight(&server, "corsp/k", None, "GET", None).await;
    assert_eq!(resp.status().as_u16(), 400);
    create_bucket(&server.client(), "corsnone").await;
    for path in ["corsnone/k", "no-such-bucket/k"] {
        let resp = preflight(&server, path, Some(SHOP), "GET", None).await;
        assert_eq!(resp.status().as_u16(), 403, "{path}");
    }
}

#[tokio::test]
async fn actual_responses_carry_cors_headers() {
    let server = Server::start_default().await;
    let c = shop_bucket(&server, "corsa").await;
    c.put_object()
        .bucket("corsa")
        .key("img/a.png")
        .body(payload(3, 2000).into())
        .send()
        .await
        .unwrap();
    let http = server.http();

    // A presigned GET from a CDN origin: allowed, with the exposed headers.
    let url = presign_url(
        "GET",
        &server.url("corsa/img/a.png"),
        Duration::from_secs(300),
        "us-east-1",
    );
    let resp = http
        .get(&url)
        .header("origin", "https://eu.cdn.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://eu.cdn.example")
    );
    assert_eq!(
        header(&resp, "access-control-expose-headers"),
        Some("ETag, x-amz-version-id")
    );
    assert_eq!(header(&resp, "vary"), Some("Origin"));
    assert_eq!(resp.bytes().await.unwrap().len(), 2000);

    // An error response (missing key) gets the headers too.
    let url = presign_url(
        "GET",
        &server.url("corsa/img/none.png"),
        Duration::from_secs(300),
        "us-east-1",
    );
    let resp = http
        .get(&url)
        .header("origin", "https://eu.cdn.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(
        header(&resp, "access-control-allow-origin"),
        Some("https://eu.cdn.example")
    );

    // A presigned PUT from the shop: allowed for its origin, stored.
    let url = presign_url(
        "PUT",
        &server.url("corsa/up/b.png"),
        Duration::from_secs(300),
        "us-east-1",
    );
    let resp = http
        .put(&url)
        .header("origin", SHOP)
        .body(payload(4, 500))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(SHOP));
    let got = c
        .get_object()
        .bucket("corsa")
        .key("up/b.png")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(500));

    // An origin no rule names: the response carries no allowance, only Vary.
    let url = presign_url(
        "GET",
        &server.url("corsa/img/a.png"),
        Duration::from_secs(300),
        "us-east-1",
    );
    let resp = http
        .get(&url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(header(&resp, "access-control-allow-origin").is_none());
    assert_eq!(header(&resp, "vary"), Some("Origin"));
    // Without an Origin header nothing is added.
    let resp = http.get(&url).send().await.unwrap();
    assert!(header(&resp, "vary").is_none());
    assert!(header(&resp, "access-control-allow-origin").is_none());
}
