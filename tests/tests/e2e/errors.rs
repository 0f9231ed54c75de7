#![allow(clippy::unwrap_used)]
//! Error responses, authentication, presigned URLs, anonymous access,
//! ACL / policy based public access and virtual-hosted-style requests.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::BucketCannedAcl;
use cairn_tests::*;

#[tokio::test]
async fn no_such_bucket() {
    let server = Server::start_default().await;
    let c = server.client();
    assert_err(
        c.get_object().bucket("ghost").key("k").send().await,
        404,
        &["NoSuchBucket"],
    );
    assert_err(
        c.put_object()
            .bucket("ghost")
            .key("k")
            .body(body(b"x".to_vec()))
            .send()
            .await,
        404,
        &["NoSuchBucket"],
    );
    assert_err(
        c.list_objects_v2().bucket("ghost").send().await,
        404,
        &["NoSuchBucket"],
    );
    assert_err(
        c.list_objects().bucket("ghost").send().await,
        404,
        &["NoSuchBucket"],
    );
    assert_err(
        c.create_multipart_upload()
            .bucket("ghost")
            .key("k")
            .send()
            .await,
        404,
        &["NoSuchBucket"],
    );
    assert_err(c.head_bucket().bucket("ghost").send().await, 404, &[]);
    assert_err(
        c.head_object().bucket("ghost").key("k").send().await,
        404,
        &[],
    );
    // Nothing was created implicitly.
    let lb = c.list_buckets().send().await.unwrap();
    assert!(lb.buckets().is_empty());
}

#[tokio::test]
async fn no_such_key() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    let e = c.get_object().bucket("bkt").key("missing/key").send().await;
    match &e {
        Err(err) => {
            assert_eq!(err_status(err), 404);
            assert_eq!(err_code(err), "NoSuchKey", "{}", describe(err));
        }
        Ok(_) => panic!("GET of a missing key succeeded"),
    }
    assert_err(
        c.head_object().bucket("bkt").key("missing").send().await,
        404,
        &[],
    );
    assert_err(
        c.get_object_tagging()
            .bucket("bkt")
            .key("missing")
            .send()
            .await,
        404,
        &["NoSuchKey"],
    );
    // Raw XML error body carries the S3 error structure.
    let url = c
        .get_object()
        .bucket("bkt")
        .key("missing")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_string();
    let resp = server.http().get(url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let text = resp.text().await.unwrap();
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("NoSuchKey"),
        "body: {text}"
    );
}

#[tokio::test]
async fn no_such_upload() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    let bogus = "bogus-upload-id-0000";
    assert_err(
        c.upload_part()
            .bucket("bkt")
            .key("k")
            .upload_id(bogus)
            .part_number(1)
            .body(body(b"x".to_vec()))
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    assert_err(
        c.list_parts()
            .bucket("bkt")
            .key("k")
            .upload_id(bogus)
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    assert_err(
        c.abort_multipart_upload()
            .bucket("bkt")
            .key("k")
            .upload_id(bogus)
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    assert_err(
        c.complete_multipart_upload()
            .bucket("bkt")
            .key("k")
            .upload_id(bogus)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .parts(
                        aws_sdk_s3::types::CompletedPart::builder()
                            .part_number(1)
                            .e_tag("\"00000000000000000000000000000000\"")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    // An upload id of another key does not work either.
    let id = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("real")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    assert_err(
        c.upload_part()
            .bucket("bkt")
            .key("other")
            .upload_id(&id)
            .part_number(1)
            .body(body(b"x".to_vec()))
            .send()
            .await,
        404,
        &["NoSuchUpload"],
    );
    assert!(list_keys(&c, "bkt").await.is_empty());
}

#[tokio::test]
async fn key_too_long() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "bkt").await;
    let long = "k".repeat(1025);
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key(&long)
            .body(body(b"x".to_vec()))
            .send()
            .await,
        400,
        &["KeyTooLongError"],
    );
    // Multi-byte: 1024 bytes is fine, 1026 bytes (513 two-byte chars) is not.
    let max = "k".repeat(1024);
    put(&c, "bkt", &max, b"ok".to_vec()).await;
    assert_eq!(get_bytes(&c, "bkt", &max).await, b"ok");
    let long_utf8 = "é".repeat(513);
    assert_err(
        c.put_object()
            .bucket("bkt")
            .key(&long_utf8)
            .body(body(b"x".to_vec()))
            .send()
            .await,
        400,
        &["KeyTooLongError"],
    );
    assert_err(
        c.create_multipart_upload()
            .bucket("bkt")
            .key(&long)
            .send()
            .await,
        400,
        &["KeyTooLongError"],
    );
    assert_eq!(list_keys(&c, "bkt").await, vec![max]);
}

async fn check_auth_failure(server: &Server, bad: &aws_sdk_s3::Client, code: &str) {
    let good = server.client();
    create_bucket(&good, "bkt").await;
    put(&good, "bkt", "existing", b"original".to_vec()).await;

    assert_err(bad.list_buckets().send().await, 403, &[code]);
    assert_err(
        bad.put_object()
            .bucket("bkt")
            .key("new")
            .body(body(b"evil".to_vec()))
            .send()
            .await,
        403,
        &[code],
    );
    assert_err(
        bad.put_object()
            .bucket("bkt")
            .key("existing")
            .body(body(b"evil".to_vec()))
            .send()
            .await,
        403,
        &[code],
    );
    assert_err(
        bad.put_object()
            .bucket("bkt")
            .key("streamed")
            .body(streaming_body(payload(1, 200_000)))
            .send()
            .await,
        403,
        &[code],
    );
    assert_err(
        bad.get_object().bucket("bkt").key("existing").send().await,
        403,
        &[code],
    );
    assert_err(
        bad.delete_object()
            .bucket("bkt")
            .key("existing")
            .send()
            .await,
        403,
        &[code],
    );
    assert_err(
        bad.create_bucket().bucket("evil").send().await,
        403,
        &[code],
    );
    assert_err(bad.delete_bucket().bucket("bkt").send().await, 403, &[code]);

    // Nothing changed.
    let names: Vec<String> = good
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["bkt"]);
    assert_eq!(list_keys(&good, "bkt").await, vec!["existing"]);
    assert_eq!(get_bytes(&good, "bkt", "existing").await, b"original");
}

#[tokio::test]
async fn wrong_secret_key() {
    let server = Server::start_default().await;
    let bad = server.client_with(ACCESS_KEY, "definitely-not-the-secret");
    check_auth_failure(&server, &bad, "SignatureDoesNotMatch").await;
}

#[tokio::test]
async fn unknown_access_key() {
    let server = Server::start_default().await;
    let bad = server.client_with("AKIAUNKNOWNUNKNOWN00", SECRET_KEY);
    check_auth_failure(&server, &bad, "InvalidAccessKeyId").await;
}

#[tokio::test]
async fn presigned_get_and_put() {
    let server = Server::start_default().await;
    let c = server.client();
    let http = server.http();
    create_bucket(&c, "pre").await;

    let data = payload(9, 300_000);
    let req = c
        .put_object()
        .bucket("pre")
        .key("uploaded via/presigned url")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let mut rb = http.put(req.uri()).body(data.clone());
    for (k, v) in req.headers() {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 200, "presigned PUT: {text}");
    assert_eq!(
        get_bytes(&c, "pre", "uploaded via/presigned url").await,
        data
    );

    let req = c
        .get_object()
        .bucket("pre")
        .key("uploaded via/presigned url")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let mut rb = http.get(req.uri());
    for (k, v) in req.headers() {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some(etag_of(&data).as_str())
    );
    let got = resp.bytes().await.unwrap();
    assert!(
        got.as_ref() == data.as_slice(),
        "presigned GET body differs"
    );

    // Presigned HEAD-less check: a tampered presigned URL is rejected.
    let tampered = req.uri().replace("presigned%20url", "presigned%20urX");
    let resp = http.get(tampered).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

#[tokio::test]
async fn presigned_url_expired() {
    let server = Server::start_default().await;
    let c = server.client();
    let http = server.http();
    create_bucket(&c, "pre").await;
    put(&c, "pre", "obj", b"secret".to_vec()).await;

    let get = c
        .get_object()
        .bucket("pre")
        .key("obj")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).unwrap())
        .await
        .unwrap();
    let put_req = c
        .put_object()
        .bucket("pre")
        .key("obj")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let resp = http.get(get.uri()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "expired presigned GET");
    let text = resp.text().await.unwrap();
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("AccessDenied"),
        "body: {text}"
    );

    let mut rb = http.put(put_req.uri()).body(b"overwritten".to_vec());
    for (k, v) in put_req.headers() {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "expired presigned PUT");
    assert_eq!(get_bytes(&c, "pre", "obj").await, b"secret");
}

#[tokio::test]
async fn anonymous_access_denied() {
    let server = Server::start_default().await;
    let c = server.client();
    let http = server.http();
    create_bucket(&c, "private").await;
    put(&c, "private", "obj", b"private data".to_vec()).await;

    let resp = http.get(server.url("private/obj")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let text = resp.text().await.unwrap();
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("AccessDenied"),
        "body: {text}"
    );
    assert!(!text.contains("private data"));

    let resp = http.head(server.url("private/obj")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = http.get(server.url("private")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "anonymous ListObjects");
    let resp = http.get(server.url("")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "anonymous ListBuckets");
    let resp = http
        .put(server.url("private/anon"))
        .body("anon")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "anonymous PUT");
    let resp = http.delete(server.url("private/obj")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "anonymous DELETE");
    let resp = http.put(server.url("anonbucket")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "anonymous CreateBucket");

    assert_eq!(list_keys(&c, "private").await, vec!["obj"]);
    assert_eq!(get_bytes(&c, "private", "obj").await, b"private data");
    assert_eq!(c.list_buckets().send().await.unwrap().buckets().len(), 1);
}

async fn check_public_read(server: &Server, bucket: &str, data: &[u8]) {
    let http = server.http();
    let resp = http
        .get(server.url(&format!("{bucket}/pub/obj.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "anonymous GET of public object"
    );
    let got = resp.bytes().await.unwrap();
    assert_eq!(got.as_ref(), data);
    let resp = http
        .head(server.url(&format!("{bucket}/pub/obj.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "anonymous HEAD of public object"
    );
    assert_eq!(
        resp.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(data.len().to_string().as_str())
    );
    // Ranged anonymous GET.
    let resp = http
        .get(server.url(&format!("{bucket}/pub/obj.txt")))
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[..4]);

    // Missing key in a public bucket: 404 (or 403), never 200.
    let resp = http
        .get(server.url(&format!("{bucket}/pub/missing")))
        .send()
        .await
        .unwrap();
    assert!(matches!(resp.status().as_u16(), 403 | 404));

    // Still no anonymous writes or deletes.
    let resp = http
        .put(server.url(&format!("{bucket}/pub/anon")))
        .body("anon")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        403,
        "anonymous PUT into public bucket"
    );
    let resp = http
        .put(server.url(&format!("{bucket}/pub/obj.txt")))
        .body("overwritten")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "anonymous overwrite");
    let resp = http
        .delete(server.url(&format!("{bucket}/pub/obj.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "anonymous DELETE");
    let c = server.client();
    assert_eq!(list_keys(&c, bucket).await, vec!["pub/obj.txt"]);
    assert_eq!(get_bytes(&c, bucket, "pub/obj.txt").await, data);
}

#[tokio::test]
async fn public_read_acl() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket_with_acls(&c, "public", false).await;
    create_bucket(&c, "private").await;
    let data = b"hello, world of anonymous readers".to_vec();
    put_public(&c, "public", "pub/obj.txt", data.clone()).await;
    put(&c, "private", "pub/obj.txt", data.clone()).await;

    c.put_bucket_acl()
        .bucket("public")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutBucketAcl: {}", describe(&e)));
    check_public_read(&server, "public", &data).await;

    // Other buckets remain private.
    let resp = server
        .http()
        .get(server.url("private/pub/obj.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    // Back to private.
    c.put_bucket_acl()
        .bucket("public")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    c.put_object_acl()
        .bucket("public")
        .key("pub/obj.txt")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    let resp = server
        .http()
        .get(server.url("public/pub/obj.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "after ACL private");
}

#[tokio::test]
async fn bucket_policy_anonymous_get() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "pol").await;
    let data = b"policy-readable".to_vec();
    put(&c, "pol", "pub/obj.txt", data.clone()).await;

    let resp = server
        .http()
        .get(server.url("pol/pub/obj.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}]}"#;
    c.put_bucket_policy()
        .bucket("pol")
        .policy(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutBucketPolicy: {}", describe(&e)));
    let got = c.get_bucket_policy().bucket("pol").send().await.unwrap();
    let got = got.policy().unwrap_or_default();
    assert!(
        got.contains("s3:GetObject") && got.contains("arn:aws:s3:::pol/*"),
        "GetBucketPolicy returned {got}"
    );

    check_public_read(&server, "pol", &data).await;

    c.delete_bucket_policy().bucket("pol").send().await.unwrap();
    let resp = server
        .http()
        .get(server.url("pol/pub/obj.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "after DeleteBucketPolicy");
    assert_err(
        c.get_bucket_policy().bucket("pol").send().await,
        404,
        &["NoSuchBucketPolicy"],
    );
}

#[tokio::test]
async fn bucket_policy_prefix_scoped() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "pol").await;
    put(&c, "pol", "public/a", b"a".to_vec()).await;
    put(&c, "pol", "private/b", b"bkt".to_vec()).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::pol/public/*"]}]}"#;
    c.put_bucket_policy()
        .bucket("pol")
        .policy(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutBucketPolicy: {}", describe(&e)));
    let http = server.http();
    let r = http.get(server.url("pol/public/a")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http.get(server.url("pol/private/b")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "object outside policy resource");
    let r = http.get(server.url("pol")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "ListBucket not granted");
}

#[tokio::test]
async fn malformed_bucket_policy_rejected() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "pol").await;
    assert_err(
        c.put_bucket_policy()
            .bucket("pol")
            .policy("this is not json")
            .send()
            .await,
        400,
        &["MalformedPolicy"],
    );
    let r = server.http().get(server.url("pol/x")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn virtual_hosted_style_raw() {
    let server = Server::start(ServerOpts::new().domain("localtest.cairn")).await;
    let c = server.client();
    create_bucket_with_acls(&c, "vhost", true).await;
    put_public(
        &c,
        "vhost",
        "dir/page.html",
        b"<html>virtual</html>".to_vec(),
    )
    .await;

    // Explicit Host header without port.
    let resp = server
        .http()
        .get(server.url("dir/page.html"))
        .header("host", "vhost.localtest.cairn")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "Host: vhost.localtest.cairn");
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        b"<html>virtual</html>"
    );

    // Host header with port, as real clients send it.
    let http = reqwest::Client::builder()
        .resolve("vhost.localtest.cairn", server.addr)
        .build()
        .unwrap();
    let resp = http
        .get(format!(
            "http://vhost.localtest.cairn:{}/dir/page.html",
            server.addr.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "Host: vhost.localtest.cairn:PORT"
    );
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        b"<html>virtual</html>"
    );

    // Path style still works on the same server.
    let resp = server
        .http()
        .get(server.url("vhost/dir/page.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[derive(Debug, Clone)]
struct FixedResolver(IpAddr);

impl aws_smithy_runtime_api::client::dns::ResolveDns for FixedResolver {
    fn resolve_dns<'a>(
        &'a self,
        _name: &'a str,
    ) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        aws_smithy_runtime_api::client::dns::DnsFuture::ready(Ok(vec![self.0]))
    }
}

#[tokio::test]
async fn virtual_hosted_style_sdk() {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let server = Server::start(ServerOpts::new().domain("localtest.cairn")).await;
    let addr: SocketAddr = server.addr;
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_with_resolver(FixedResolver(addr.ip()));
    let conf = server
        .config_builder(ACCESS_KEY, SECRET_KEY)
        .force_path_style(false)
        .endpoint_url(format!("http://localtest.cairn:{}", addr.port()))
        .http_client(http_client)
        .build();
    let vc = aws_sdk_s3::Client::from_conf(conf);

    // Bucket created path-style, then used virtual-hosted-style with signed requests.
    let c = server.client();
    create_bucket(&c, "vbucket").await;
    let data = payload(5, 100_000);
    vc.put_object()
        .bucket("vbucket")
        .key("signed/obj")
        .body(body(data.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("virtual-hosted PUT: {}", describe(&e)));
    assert_eq!(get_bytes(&c, "vbucket", "signed/obj").await, data);
    assert_eq!(get_bytes(&vc, "vbucket", "signed/obj").await, data);
    let r = vc.list_objects_v2().bucket("vbucket").send().await.unwrap();
    assert_eq!(r.contents().len(), 1);
    assert_eq!(r.contents()[0].key(), Some("signed/obj"));
    vc.delete_object()
        .bucket("vbucket")
        .key("signed/obj")
        .send()
        .await
        .unwrap();
    assert!(list_keys(&c, "vbucket").await.is_empty());
}
