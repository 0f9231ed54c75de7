//! Bucket policy conditions end to end, one case where the condition holds and
//! one where it does not for each key and operator: an Allow statement with the
//! condition opens anonymous GET (or listing, or a key's PUT) only when it
//! holds; a Deny statement with it refuses the admin key only when it holds.

use crate::access::Admin;
use crate::policy_eval::set_policy;
use cairn_tests::aws_sdk_s3::types::ObjectCannedAcl;
use cairn_tests::*;

/// An anonymous request: path and headers.
struct Anon {
    path: String,
    headers: Vec<(&'static str, &'static str)>,
}

fn anon(path: &str, headers: &[(&'static str, &'static str)]) -> Anon {
    Anon {
        path: path.to_string(),
        headers: headers.to_vec(),
    }
}

async fn status(server: &Server, a: &Anon) -> u16 {
    let mut req = server.http().get(server.url(&a.path));
    for (k, v) in &a.headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

fn allow(action: &str, resource: &str, condition: &str) -> String {
    format!(
        r#"{{"Effect":"Allow","Principal":"*","Action":"{action}","Resource":"arn:aws:s3:::{resource}","Condition":{condition}}}"#
    )
}

#[tokio::test]
async fn each_condition_key_and_operator_allows_and_refuses() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "cond").await;
    put(&c, "cond", "pub/k", "v").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let epoch = |op: &str| format!(r#"{{"{op}":{{"aws:EpochTime":"{}"}}}}"#, now + 3600);
    let get = "cond/pub/k";
    let list = |q: &str| format!("cond?list-type=2{q}");
    let same = String::new();
    // (operator and key, condition and a request for which it holds, condition
    // (empty: the same) and a request for which it does not)
    let cases: Vec<(&str, String, Anon, String, Anon)> = vec![
        ("StringEquals aws:Referer", r#"{"StringEquals":{"aws:Referer":"https://shop.example/"}}"#.into(),
            anon(get, &[("referer", "https://shop.example/")]), same.clone(), anon(get, &[("referer", "https://evil.example/")])),
        ("StringNotEquals aws:UserAgent", r#"{"StringNotEquals":{"aws:UserAgent":"bad-bot"}}"#.into(),
            anon(get, &[("user-agent", "firefox")]), same.clone(), anon(get, &[("user-agent", "bad-bot")])),
        ("StringEqualsIgnoreCase aws:UserAgent", r#"{"StringEqualsIgnoreCase":{"aws:UserAgent":"Browser"}}"#.into(),
            anon(get, &[("user-agent", "BROWSER")]), same.clone(), anon(get, &[("user-agent", "crawler")])),
        ("StringNotEqualsIgnoreCase aws:Referer", r#"{"StringNotEqualsIgnoreCase":{"aws:Referer":"https://EVIL.example/"}}"#.into(),
            anon(get, &[("referer", "https://shop.example/")]), same.clone(), anon(get, &[("referer", "https://evil.example/")])),
        ("StringLike aws:Referer", r#"{"StringLike":{"aws:Referer":["https://shop.example/*","https://*.shop.example/*"]}}"#.into(),
            anon(get, &[("referer", "https://cdn.shop.example/p/1")]), same.clone(), anon(get, &[])),
        ("StringNotLike aws:UserAgent", r#"{"StringNotLike":{"aws:UserAgent":"*bot*"}}"#.into(),
            anon(get, &[("user-agent", "firefox")]), same.clone(), anon(get, &[("user-agent", "googlebot/2.1")])),
        ("IpAddress aws:SourceIp", r#"{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}"#.into(), anon(get, &[]),
            r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1/128","2001:db8::/32"]}}"#.into(), anon(get, &[])),
        ("NotIpAddress aws:SourceIp", r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#.into(), anon(get, &[]),
            r#"{"NotIpAddress":{"aws:SourceIp":"127.0.0.1/32"}}"#.into(), anon(get, &[])),
        ("Bool aws:SecureTransport", r#"{"Bool":{"aws:SecureTransport":"false"}}"#.into(), anon(get, &[]),
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#.into(), anon(get, &[])),
        ("Numeric* aws:EpochTime", epoch("NumericLessThan"), anon(get, &[]), epoch("NumericGreaterThanEquals"), anon(get, &[])),
        ("Date* aws:CurrentTime", r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#.into(), anon(get, &[]),
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#.into(), anon(get, &[])),
        ("DateNotEquals aws:CurrentTime", r#"{"DateNotEquals":{"aws:CurrentTime":"2020-01-01"}}"#.into(), anon(get, &[]),
            r#"{"DateEquals":{"aws:CurrentTime":"2020-01-01"}}"#.into(), anon(get, &[])),
        ("Null aws:Referer", r#"{"Null":{"aws:Referer":"true"}}"#.into(),
            anon(get, &[]), same.clone(), anon(get, &[("referer", "https://x.example/")])),
        ("StringEqualsIfExists aws:Referer", r#"{"StringEqualsIfExists":{"aws:Referer":"https://shop.example/"}}"#.into(),
            anon(get, &[]), same.clone(), anon(get, &[("referer", "https://x.example/")])),
        ("ArnLike aws:Referer", r#"{"ArnLike":{"aws:Referer":"arn:aws:s3:::shop*"}}"#.into(),
            anon(get, &[("referer", "arn:aws:s3:::shop-1")]), same.clone(), anon(get, &[("referer", "arn:aws:s3:::other")])),
        ("StringEquals s3:prefix", r#"{"StringEquals":{"s3:prefix":"pub/"}}"#.into(),
            anon(&list("&prefix=pub%2F"), &[]), same.clone(), anon(&list("&prefix=priv%2F"), &[])),
        ("StringEquals s3:delimiter", r#"{"StringEquals":{"s3:delimiter":"/"}}"#.into(),
            anon(&list("&delimiter=%2F"), &[]), same.clone(), anon(&list(""), &[])),
        ("NumericLessThanEquals s3:max-keys", r#"{"NumericLessThanEquals":{"s3:max-keys":"100"}}"#.into(),
            anon(&list("&max-keys=100"), &[]), same.clone(), anon(&list("&max-keys=1000"), &[])),
        ("NumericEquals s3:max-keys", r#"{"NumericEquals":{"s3:max-keys":"5"}}"#.into(),
            anon(&list("&max-keys=5"), &[]), same.clone(), anon(&list("&max-keys=6"), &[])),
    ];
    for (name, holding, holds, failing, fails) in &cases {
        let failing = if failing.is_empty() { holding } else { failing };
        let listing = holds.path.contains('?');
        let (action, resource) = if listing {
            ("s3:ListBucket", "cond")
        } else {
            ("s3:GetObject", "cond/*")
        };
        set_policy(&c, "cond", &allow(action, resource, holding)).await;
        assert_eq!(
            status(&server, holds).await,
            200,
            "{name}: the condition holds"
        );
        set_policy(&c, "cond", &allow(action, resource, failing)).await;
        assert_eq!(
            status(&server, fails).await,
            403,
            "{name}: the condition does not hold"
        );
        if !listing && holds.headers.is_empty() {
            // In a Deny, the condition that holds refuses even the admin key.
            set_policy(
                &c,
                "cond",
                &allow(action, resource, holding).replace("Allow", "Deny"),
            )
            .await;
            assert!(
                c.get_object()
                    .bucket("cond")
                    .key("pub/k")
                    .send()
                    .await
                    .is_err(),
                "{name}: deny"
            );
        }
    }
    // A Deny whose condition does not hold leaves the admin key alone.
    set_policy(
        &c,
        "cond",
        &allow(
            "s3:GetObject",
            "cond/*",
            r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#,
        )
        .replace("Allow", "Deny"),
    )
    .await;
    assert!(c
        .get_object()
        .bucket("cond")
        .key("pub/k")
        .send()
        .await
        .is_ok());
}

#[tokio::test]
async fn tag_acl_and_user_conditions() {
    let server = Server::start_default().await;
    let admin = Admin::of(&server);
    let root = server.client();
    let (ak, sk) = admin.key("writer").await;
    let (other_ak, other_sk) = admin.key("other").await;
    let writer = server.client_with(&ak, &sk);
    let other = server.client_with(&other_ak, &other_sk);
    create_bucket(&root, "tags").await;
    root.put_object()
        .bucket("tags")
        .key("open")
        .tagging("class=public")
        .body(body(b"o".to_vec()))
        .send()
        .await
        .unwrap();
    root.put_object()
        .bucket("tags")
        .key("closed")
        .tagging("class=secret")
        .body(body(b"c".to_vec()))
        .send()
        .await
        .unwrap();
    put(&root, "tags", "untagged", "u").await;

    // s3:ExistingObjectTag/<k>: the object's own tags.
    set_policy(
        &root,
        "tags",
        &allow(
            "s3:GetObject",
            "tags/*",
            r#"{"StringEquals":{"s3:ExistingObjectTag/class":"public"}}"#,
        ),
    )
    .await;
    let anon = |p: &str| server.http().get(server.url(p)).send();
    assert_eq!(anon("tags/open").await.unwrap().status().as_u16(), 200);
    assert_eq!(anon("tags/closed").await.unwrap().status().as_u16(), 403);
    assert_eq!(anon("tags/untagged").await.unwrap().status().as_u16(), 403);

    // s3:RequestObjectTag/<k>, ForAnyValue / ForAllValues on s3:RequestObjectTagKeys,
    // s3:x-amz-acl and aws:username, for a key without grants.
    let put_with = |c: &cairn_tests::aws_sdk_s3::Client,
                    key: &str,
                    tagging: Option<&str>,
                    acl: Option<ObjectCannedAcl>| {
        let mut r = c
            .put_object()
            .bucket("tags")
            .key(key)
            .body(body(b"x".to_vec()));
        if let Some(t) = tagging {
            r = r.tagging(t);
        }
        if let Some(a) = acl {
            r = r.acl(a);
        }
        r.send()
    };
    let writes = |cond: &str| {
        format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/writer"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::tags/*","Condition":{cond}}}"#
        )
    };
    set_policy(
        &root,
        "tags",
        &writes(r#"{"StringEquals":{"s3:RequestObjectTag/team":"web"}}"#),
    )
    .await;
    assert!(put_with(&writer, "w1", Some("team=web"), None)
        .await
        .is_ok());
    assert!(put_with(&writer, "w2", Some("team=ops"), None)
        .await
        .is_err());
    assert!(put_with(&other, "w3", Some("team=web"), None)
        .await
        .is_err());
    set_policy(
        &root,
        "tags",
        &writes(r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team","class"]}}"#),
    )
    .await;
    assert!(put_with(&writer, "w4", Some("team=web&class=x"), None)
        .await
        .is_ok());
    assert!(put_with(&writer, "w5", Some("team=web&owner=me"), None)
        .await
        .is_err());
    set_policy(
        &root,
        "tags",
        &writes(r#"{"ForAnyValue:StringLike":{"s3:RequestObjectTagKeys":["te*"]}}"#),
    )
    .await;
    assert!(put_with(&writer, "w6", Some("owner=me&team=web"), None)
        .await
        .is_ok());
    assert!(put_with(&writer, "w7", Some("owner=me"), None)
        .await
        .is_err());
    assert!(
        put_with(&writer, "w8", None, None).await.is_err(),
        "ForAnyValue on an absent key fails"
    );
    set_policy(
        &root,
        "tags",
        &writes(r#"{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}"#),
    )
    .await;
    assert!(put_with(
        &writer,
        "w9",
        None,
        Some(ObjectCannedAcl::BucketOwnerFullControl)
    )
    .await
    .is_ok());
    assert!(put_with(&writer, "w10", None, None).await.is_err());
    let reads = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::tags/*","Condition":{"StringEquals":{"aws:username":"writer"}}}"#;
    set_policy(&root, "tags", reads).await;
    assert!(writer
        .get_object()
        .bucket("tags")
        .key("open")
        .send()
        .await
        .is_ok());
    assert!(other
        .get_object()
        .bucket("tags")
        .key("open")
        .send()
        .await
        .is_err());
    assert_eq!(anon("tags/open").await.unwrap().status().as_u16(), 403);
    let by_id = format!(
        r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::tags/*","Condition":{{"StringEquals":{{"aws:userid":"{other_ak}"}}}}}}"#
    );
    set_policy(&root, "tags", &by_id).await;
    assert!(other
        .get_object()
        .bucket("tags")
        .key("open")
        .send()
        .await
        .is_ok());
    assert!(writer
        .get_object()
        .bucket("tags")
        .key("open")
        .send()
        .await
        .is_err());
}
