//! POST object (browser form uploads) against the real server, as raw HTTP
//! `multipart/form-data`: 204 / 200 / 201 (PostResponse XML) / 303 redirects,
//! `${filename}`, SigV4 and V2 signatures, metadata and tagging stored, the
//! refusals (expired, tampered, wrong signature, unknown key, no grant, sizes
//! outside `content-length-range`, missing and extra fields, a failing
//! `starts-with`, anonymous). The form helpers here serve `post_object_stream`.

use base64::Engine as _;
use cairn_tests::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

pub(crate) const BOUNDARY: &str = "----cairnFormBoundary7MA4YWxkTrZu0gW";

pub(crate) fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub(crate) fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `(ISO 8601 for the policy, x-amz-date)` of now + `secs`.
pub(crate) fn times(secs: i64) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = aws_smithy_types::DateTime::from_secs(now + secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    let t = t
        .split('.')
        .next()
        .unwrap()
        .trim_end_matches('Z')
        .to_string()
        + "Z";
    let amz = t.replace(['-', ':'], "");
    (t, amz)
}

/// The fields of a SigV4-signed form: the policy (expiring in `expires_in`
/// seconds) of the standard conditions plus `extra`, signed with `secret`.
pub(crate) fn v4_fields(
    access: &str,
    secret: &str,
    bucket: &str,
    extra: Vec<Value>,
    expires_in: i64,
) -> Vec<(String, String)> {
    let (_, amz_date) = times(0);
    let (expiration, _) = times(expires_in);
    let date = &amz_date[..8];
    let credential = format!("{access}/{date}/{REGION}/s3/aws4_request");
    let mut conditions = vec![
        json!({ "bucket": bucket }),
        json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
        json!({ "x-amz-credential": credential }),
        json!({ "x-amz-date": amz_date }),
    ];
    conditions.extend(extra);
    let policy = b64(json!({ "expiration": expiration, "conditions": conditions }).to_string());
    let mut key = hmac256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [REGION, "s3", "aws4_request"] {
        key = hmac256(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac256(&key, policy.as_bytes()));
    vec![
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), amz_date),
        ("policy".into(), policy),
        ("x-amz-signature".into(), signature),
    ]
}

pub(crate) fn key_prefix(prefix: &str) -> Value {
    json!(["starts-with", "$key", prefix])
}

pub(crate) fn with(
    mut fields: Vec<(String, String)>,
    more: &[(&str, &str)],
) -> Vec<(String, String)> {
    fields.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    fields
}

pub(crate) fn form_head(fields: &[(String, String)], filename: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    out
}

pub(crate) fn form_tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n--{BOUNDARY}--\r\n").into_bytes()
}

pub(crate) async fn post_form(
    server: &Server,
    bucket: &str,
    fields: &[(String, String)],
    filename: &str,
    data: &[u8],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut body = form_head(fields, filename);
    body.extend_from_slice(data);
    body.extend_from_slice(&form_tail());
    // Redirects are looked at, not followed.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let resp = http
        .post(server.url(bucket))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("origin", "https://shop.example")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

pub(crate) async fn exists(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    c.head_object().bucket(bucket).key(key).send().await.is_ok()
}

#[tokio::test]
async fn post_object_answers_204_200_201_and_303() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "forms").await;
    let data = payload(1, 100 * KIB);
    let fields = with(
        v4_fields(
            ACCESS_KEY,
            SECRET_KEY,
            "forms",
            vec![key_prefix("up/")],
            600,
        ),
        &[("key", "up/plain.bin")],
    );
    let (status, headers, _) = post_form(&server, "forms", &fields, "x.bin", &data).await;
    assert_eq!(status, 204);
    let etag = format!("\"{}\"", md5_hex(&data));
    assert_eq!(headers["etag"].to_str().unwrap(), etag);
    assert_eq!(get_bytes(&c, "forms", "up/plain.bin").await, data);

    let status_cond = json!(["starts-with", "$success_action_status", ""]);
    let fields = with(
        v4_fields(
            ACCESS_KEY,
            SECRET_KEY,
            "forms",
            vec![key_prefix("up/"), status_cond.clone()],
            600,
        ),
        &[("key", "up/created.bin"), ("success_action_status", "201")],
    );
    let (status, _, body) = post_form(&server, "forms", &fields, "x.bin", &data).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("<PostResponse>"), "{body}");
    assert!(body.contains("<Bucket>forms</Bucket>"), "{body}");
    assert!(body.contains("<Key>up/created.bin</Key>"), "{body}");
    assert!(
        body.contains(&format!("<ETag>&quot;{}&quot;</ETag>", md5_hex(&data))),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "<Location>{}</Location>",
            server.url("forms/up/created.bin")
        )),
        "{body}"
    );

    let fields = with(
        v4_fields(
            ACCESS_KEY,
            SECRET_KEY,
            "forms",
            vec![key_prefix("up/"), status_cond],
            600,
        ),
        &[("key", "up/ok.bin"), ("success_action_status", "200")],
    );
    let (status, _, _) = post_form(&server, "forms", &fields, "x.bin", b"ok").await;
    assert_eq!(status, 200);

    let fields = with(
        v4_fields(
            ACCESS_KEY,
            SECRET_KEY,
            "forms",
            vec![
                key_prefix("up/"),
                json!({"success_action_redirect": "https://shop.example/done?x=1"}),
            ],
            600,
        ),
        &[
            ("key", "up/redirected.bin"),
            ("success_action_redirect", "https://shop.example/done?x=1"),
        ],
    );
    let (status, headers, _) = post_form(&server, "forms", &fields, "x.bin", b"abc").await;
    assert_eq!(status, 303);
    let location = headers["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!(
            "https://shop.example/done?x=1&bucket=forms&key=up%2Fredirected.bin&etag=%22{}%22",
            md5_hex(b"abc")
        )
    );
    assert!(exists(&c, "forms", "up/redirected.bin").await);
}

#[tokio::test]
async fn post_object_filename_metadata_tagging_and_v2() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "forms").await;
    let tagging =
        "<Tagging><TagSet><Tag><Key>shop</Key><Value>north</Value></Tag></TagSet></Tagging>";
    let fields = with(
        v4_fields(
            ACCESS_KEY,
            SECRET_KEY,
            "forms",
            vec![
                key_prefix("photos/"),
                json!(["eq", "$Content-Type", "image/png"]),
                json!(["starts-with", "$Cache-Control", "max-age"]),
                json!(["starts-with", "$x-amz-meta-owner", ""]),
                json!({"tagging": tagging}),
            ],
            600,
        ),
        &[
            ("key", "photos/${filename}"),
            ("Content-Type", "image/png"),
            ("Cache-Control", "max-age=60"),
            ("x-amz-meta-owner", "alice"),
            ("tagging", tagging),
        ],
    );
    let (status, _, body) = post_form(&server, "forms", &fields, "cat.png", b"png bytes").await;
    assert_eq!(status, 204, "{body}");
    let head = c
        .head_object()
        .bucket("forms")
        .key("photos/cat.png")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(
        head.metadata().unwrap().get("owner").map(String::as_str),
        Some("alice")
    );
    let tags = c
        .get_object_tagging()
        .bucket("forms")
        .key("photos/cat.png")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set().len(), 1);
    assert_eq!(tags.tag_set()[0].key(), "shop");
    assert_eq!(tags.tag_set()[0].value(), "north");

    // Signature V2: AWSAccessKeyId and signature = base64 HMAC-SHA1 of the policy.
    let (expiration, _) = times(600);
    let policy = b64(json!({"expiration": expiration, "conditions": [
        {"bucket": "forms"}, ["starts-with", "$key", "v2/"]]})
    .to_string());
    let sign_v2 = |secret: &str| {
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(policy.as_bytes());
        b64(m.finalize().into_bytes())
    };
    let v2 = |secret: &str| {
        vec![
            ("key".to_string(), "v2/old.bin".to_string()),
            ("AWSAccessKeyId".to_string(), ACCESS_KEY.to_string()),
            ("policy".to_string(), policy.clone()),
            ("signature".to_string(), sign_v2(secret)),
        ]
    };
    let (status, _, body) = post_form(&server, "forms", &v2("not the secret"), "f", b"v2").await;
    assert_eq!(status, 403);
    assert_eq!(xml_code(&body).as_deref(), Some("SignatureDoesNotMatch"));
    let (status, _, body) = post_form(&server, "forms", &v2(SECRET_KEY), "f", b"v2").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(get_bytes(&c, "forms", "v2/old.bin").await, b"v2");
}

/// Expects `status` and `code` and that nothing was stored at `key`.
async fn refused(
    server: &Server,
    fields: &[(String, String)],
    data: &[u8],
    status: u16,
    code: &str,
    message: Option<&str>,
) {
    let (got, _, body) = post_form(server, "forms", fields, "f.bin", data).await;
    assert_eq!(got, status, "{code}: {body}");
    assert_eq!(xml_code(&body).as_deref(), Some(code), "{body}");
    if let Some(m) = message {
        assert!(body.contains(m), "{m}: {body}");
    }
    assert!(!exists(&server.client(), "forms", "up/refused.bin").await);
}

#[tokio::test]
async fn post_object_refusals_store_nothing() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "forms").await;
    let key = [("key", "up/refused.bin")];
    let ok = |extra: Vec<Value>, secs: i64| {
        with(
            v4_fields(ACCESS_KEY, SECRET_KEY, "forms", extra, secs),
            &key,
        )
    };

    // Expired.
    refused(
        &server,
        &ok(vec![key_prefix("up/")], -5),
        b"x",
        403,
        "AccessDenied",
        Some("Policy expired"),
    )
    .await;
    // Tampered policy: another policy, the old signature.
    let mut tampered = ok(vec![key_prefix("up/")], 600);
    let other = ok(vec![key_prefix("")], 600);
    tampered[3].1 = other[3].1.clone();
    refused(&server, &tampered, b"x", 403, "SignatureDoesNotMatch", None).await;
    // Wrong secret, unknown key.
    let wrong = with(
        v4_fields(
            ACCESS_KEY,
            "wrong-secret",
            "forms",
            vec![key_prefix("up/")],
            600,
        ),
        &key,
    );
    refused(&server, &wrong, b"x", 403, "SignatureDoesNotMatch", None).await;
    let unknown = with(
        v4_fields(
            "CKNOSUCHKEY000000000",
            SECRET_KEY,
            "forms",
            vec![key_prefix("up/")],
            600,
        ),
        &key,
    );
    refused(&server, &unknown, b"x", 403, "InvalidAccessKeyId", None).await;
    // Sizes outside content-length-range.
    let range = vec![key_prefix("up/"), json!(["content-length-range", 10, 1000])];
    refused(
        &server,
        &ok(range.clone(), 600),
        &payload(2, 5000),
        400,
        "EntityTooLarge",
        None,
    )
    .await;
    refused(
        &server,
        &ok(range.clone(), 600),
        b"tiny",
        400,
        "EntityTooSmall",
        None,
    )
    .await;
    // A field the policy wants is missing; a field it does not name is present.
    let wants_meta = vec![
        key_prefix("up/"),
        json!(["eq", "$x-amz-meta-shop", "north"]),
    ];
    refused(
        &server,
        &ok(wants_meta, 600),
        b"x",
        403,
        "AccessDenied",
        Some("Policy Condition failed"),
    )
    .await;
    let extra = with(
        ok(vec![key_prefix("up/")], 600),
        &[("x-amz-meta-sneaky", "1")],
    );
    refused(
        &server,
        &extra,
        b"x",
        403,
        "AccessDenied",
        Some("Extra input fields: x-amz-meta-sneaky"),
    )
    .await;
    // starts-with failing.
    refused(
        &server,
        &ok(vec![key_prefix("only/")], 600),
        b"x",
        403,
        "AccessDenied",
        Some("starts-with"),
    )
    .await;
    // Anonymous: no policy, no signature.
    refused(
        &server,
        &with(Vec::new(), &key),
        b"x",
        403,
        "AccessDenied",
        None,
    )
    .await;
    // A public ACL on a bucket whose ACLs are disabled (new buckets' default),
    // and one Cairn cannot keep.
    let acl = with(
        ok(vec![key_prefix("up/"), json!({"acl": "public-read"})], 600),
        &[("acl", "public-read")],
    );
    refused(
        &server,
        &acl,
        b"x",
        400,
        "AccessControlListNotSupported",
        None,
    )
    .await;
    let acl = with(
        ok(
            vec![key_prefix("up/"), json!({"acl": "log-delivery-write"})],
            600,
        ),
        &[("acl", "log-delivery-write")],
    );
    refused(&server, &acl, b"x", 501, "NotImplemented", None).await;
    // A key with no grant on the bucket.
    let admin = reqwest::Client::new();
    let resp = admin
        .post(format!("{}/v1/keys", server.admin_url()))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("content-type", "application/json")
        .body(json!({"name": "no-grants"}).to_string())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let resp: Value = serde_json::from_slice(&resp).unwrap();
    let (ak, sk) = (
        resp["access_key"].as_str().unwrap(),
        resp["secret_key"].as_str().unwrap(),
    );
    let ungranted = with(
        v4_fields(ak, sk, "forms", vec![key_prefix("up/")], 600),
        &key,
    );
    refused(&server, &ungranted, b"x", 403, "AccessDenied", None).await;

    // And the same form, valid, is stored.
    let (status, _, body) =
        post_form(&server, "forms", &ok(range, 600), "f", &payload(3, 500)).await;
    assert_eq!(status, 204, "{body}");
    assert!(exists(&c, "forms", "up/refused.bin").await);
}
