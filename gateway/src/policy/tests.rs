//! Unit tests of parsing and evaluation together (the e2e suites run them
//! through real clients).
#![allow(clippy::unwrap_used)]

use super::actions::Action;
use super::context::{ConnInfo, Context, Who};
use super::evaluate::{Decision, Request};
use super::{parse, PolicyError};

fn policy(statements: &str) -> super::Policy {
    parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
    ))
    .unwrap()
}

struct Req {
    op: &'static str,
    key: Option<&'static str>,
    uri: http::Uri,
    headers: http::HeaderMap,
    ip: &'static str,
    who: Option<(&'static str, &'static str)>,
}

fn req(op: &'static str, key: Option<&'static str>) -> Req {
    Req {
        op,
        key,
        uri: http::Uri::from_static("/b"),
        headers: http::HeaderMap::new(),
        ip: "10.1.2.3",
        who: Some(("AKID1", "shop")),
    }
}

fn decide(p: &super::Policy, r: &Req) -> Decision {
    let request = Request {
        action: Action::of_op(r.op, false).unwrap(),
        bucket: "b",
        key: r.key,
        cx: Context {
            op: r.op,
            uri: &r.uri,
            headers: &r.headers,
            conn: Some(ConnInfo {
                peer: format!("{}:1234", r.ip).parse().unwrap(),
                secure: false,
            }),
            who: r.who.map(|(access_key, name)| Who { access_key, name }),
            object_tags: None,
        },
    };
    p.decide(&request)
}

#[test]
fn principals_actions_resources() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/shop"},"Action":"s3:Get*","Resource":"arn:aws:s3:::b/public/*"}"#,
    );
    assert_eq!(
        decide(&p, &req("GetObject", Some("public/a"))),
        Decision::Allow
    );
    assert_eq!(
        decide(&p, &req("GetObject", Some("private/a"))),
        Decision::Silent
    );
    assert_eq!(
        decide(&p, &req("PutObject", Some("public/a"))),
        Decision::Silent
    );
    let mut other = req("GetObject", Some("public/a"));
    other.who = Some(("AKID2", "orders"));
    assert_eq!(decide(&p, &other), Decision::Silent);
    other.who = None;
    assert_eq!(decide(&p, &other), Decision::Silent);
    let by_id = policy(
        r#"{"Effect":"Deny","Principal":{"AWS":["AKID1"]},"NotAction":"s3:ListBucket","NotResource":"arn:aws:s3:::b/keep/*"}"#,
    );
    assert_eq!(decide(&by_id, &req("GetObject", Some("x"))), Decision::Deny);
    assert_eq!(
        decide(&by_id, &req("GetObject", Some("keep/x"))),
        Decision::Silent
    );
    assert_eq!(
        decide(&by_id, &req("ListObjectsV2", None)),
        Decision::Silent
    );
    let not_p = policy(
        r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::1:user/shop"},"Action":"*","Resource":"*"}"#,
    );
    assert_eq!(
        decide(&not_p, &req("GetObject", Some("x"))),
        Decision::Silent
    );
    let mut anon = req("GetObject", Some("x"));
    anon.who = None;
    assert_eq!(decide(&not_p, &anon), Decision::Deny);
}

#[test]
fn deny_wins_and_conditions() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
           {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}"#,
    );
    assert_eq!(decide(&p, &req("GetObject", Some("k"))), Decision::Allow);
    let mut far = req("GetObject", Some("k"));
    far.ip = "192.0.2.1";
    assert_eq!(decide(&p, &far), Decision::Deny);
    let referer = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:Referer":["https://shop.example/*"]}}}"#,
    );
    let mut r = req("GetObject", Some("k"));
    assert_eq!(decide(&referer, &r), Decision::Silent);
    r.headers
        .insert("referer", "https://shop.example/p/1".parse().unwrap());
    assert_eq!(decide(&referer, &r), Decision::Allow);
    r.headers
        .insert("referer", "https://evil.example/".parse().unwrap());
    assert_eq!(decide(&referer, &r), Decision::Silent);
    // A negated operator on an absent key holds; IfExists passes on absence.
    let neg = policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringNotEquals":{"aws:Referer":"x"}}}"#,
    );
    assert_eq!(decide(&neg, &req("GetObject", Some("k"))), Decision::Deny);
    let ife = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:Referer":"x"}}}"#,
    );
    assert_eq!(decide(&ife, &req("GetObject", Some("k"))), Decision::Allow);
    let null = policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Null":{"aws:Referer":"true"}}}"#,
    );
    assert_eq!(decide(&null, &req("GetObject", Some("k"))), Decision::Deny);
}

#[test]
fn list_keys_and_tags() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":"pub/*"},"NumericLessThanEquals":{"s3:max-keys":"10"}}}"#,
    );
    let mut r = req("ListObjectsV2", None);
    r.uri = http::Uri::from_static("/b?list-type=2&prefix=pub%2Fx&max-keys=5");
    assert_eq!(decide(&p, &r), Decision::Allow);
    r.uri = http::Uri::from_static("/b?list-type=2&prefix=pub%2Fx&max-keys=50");
    assert_eq!(decide(&p, &r), Decision::Silent);
    r.uri = http::Uri::from_static("/b?list-type=2&prefix=priv");
    assert_eq!(decide(&p, &r), Decision::Silent);
    let tags = policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["secret"]}}}"#,
    );
    let mut put = req("PutObject", Some("k"));
    assert_eq!(decide(&tags, &put), Decision::Silent);
    put.headers
        .insert("x-amz-tagging", "a=1&secret=2".parse().unwrap());
    assert_eq!(decide(&tags, &put), Decision::Deny);
    let all = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["a","b"]}}}"#,
    );
    assert_eq!(decide(&all, &put), Decision::Silent);
    put.headers
        .insert("x-amz-tagging", "a=1&b=2".parse().unwrap());
    assert_eq!(decide(&all, &put), Decision::Allow);
}

#[test]
fn refusals() {
    let malformed = [
        "not json",
        r#"{"Statement":[]}"#,
        r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:Run","Resource":"arn:aws:s3:::b/*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:Nope":"x"}}}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEqualsPlease":{"aws:Referer":"x"}}}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:nope"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    ];
    for text in malformed {
        assert!(
            matches!(parse(text), Err(PolicyError::Malformed(_))),
            "{text}"
        );
    }
    let unsupported = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}}"#;
    assert!(matches!(
        parse(unsupported),
        Err(PolicyError::Unsupported(_))
    ));
}

#[test]
fn public_status() {
    assert!(policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#).is_public());
    assert!(!policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#).is_public());
    assert!(policy(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}"#).is_public());
    assert!(!policy(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:user/x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#).is_public());
    assert!(!policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#
    )
    .is_public());
}
