//! Bucket policies, as far as Cairn enforces them: a statement that allows anyone
//! (`"Principal": "*"`) `s3:GetObject` on `arn:aws:s3:::BUCKET/PATTERN` lets
//! anonymous clients GET/HEAD the keys matching PATTERN (`*` and `?` wildcards).
//! Signed requests get their permissions from key grants (`auth`), so other
//! allowed actions of a `*` statement change nothing for them.
//!
//! A document is validated when it is put: structure and types (`MalformedPolicy`),
//! and what Cairn does not evaluate — `Deny`, `Condition`, `NotPrincipal`,
//! `NotAction`, `NotResource`, named principals — is refused (`NotImplemented`) rather than stored
//! and ignored. The parsed form is cached per bucket (`PolicyCache`), so an
//! anonymous GET compares the stored text and matches patterns, nothing more.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// AWS's limit on a bucket policy document.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Why a policy document is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// Not a well-formed policy (`MalformedPolicy`).
    Malformed(String),
    /// Well-formed, but asks for what Cairn does not evaluate (`NotImplemented`).
    Unsupported(String),
}

/// A parsed policy: its statements as Cairn evaluates them.
#[derive(Debug)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug)]
struct Statement {
    /// `Principal` is `*` (or `{"AWS": "*"}`).
    anyone: bool,
    /// Lower-cased action patterns.
    actions: Vec<String>,
    /// Resource ARN patterns.
    resources: Vec<String>,
}

fn malformed(msg: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(msg.into())
}

/// Parses and validates a policy document.
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| malformed(format!("Policies must be valid JSON: {e}")))?;
    let Value::Object(doc) = doc else {
        return Err(malformed("A policy must be a JSON object"));
    };
    for (field, value) in &doc {
        match (field.as_str(), value) {
            ("Version", Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            ("Version", _) => {
                return Err(malformed(
                    "Version must be \"2012-10-17\" or \"2008-10-17\"",
                ))
            }
            ("Id", Value::String(_)) => {}
            ("Statement", _) => {}
            (other, _) => return Err(malformed(format!("Unknown or mistyped field {other}"))),
        }
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => {
            a.iter().map(statement).collect::<Result<_, _>>()?
        }
        Some(s @ Value::Object(_)) => vec![statement(s)?],
        Some(_) => {
            return Err(malformed(
                "Statement must be an object or a non-empty array of objects",
            ))
        }
        None => return Err(malformed("Missing required field Statement")),
    };
    Ok(Policy { statements })
}

fn statement(value: &Value) -> Result<Statement, PolicyError> {
    let Value::Object(s) = value else {
        return Err(malformed("Each statement must be a JSON object"));
    };
    for field in s.keys() {
        match field.as_str() {
            "Sid" | "Effect" | "Principal" | "Action" | "Resource" => {}
            "Condition" | "NotPrincipal" | "NotAction" | "NotResource" => {
                return Err(PolicyError::Unsupported(format!(
                    "Policy statements with {field} are not evaluated by Cairn yet"
                )))
            }
            other => return Err(malformed(format!("Unknown field {other} in a statement"))),
        }
    }
    if s.get("Sid").is_some_and(|v| !v.is_string()) {
        return Err(malformed("Sid must be a string"));
    }
    match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => {}
        Some(Value::String(e)) if e == "Deny" => {
            return Err(PolicyError::Unsupported(
                "Deny statements are not evaluated by Cairn yet".into(),
            ))
        }
        Some(other) => return Err(malformed(format!("Invalid effect: {other}"))),
        None => return Err(malformed("Missing required field Effect")),
    }
    let anyone = principal(s)?;
    if !anyone {
        // Keys get their permissions from grants (`cairn bucket allow`); a policy
        // statement naming them would not be evaluated.
        return Err(PolicyError::Unsupported(
            "Policy statements for named principals are not evaluated by Cairn yet; grant keys with `cairn bucket allow`".into(),
        ));
    }
    let actions = string_list(s, "Action")?;
    if let Some(bad) = actions
        .iter()
        .find(|a| !(*a == "*" || a.starts_with("s3:")))
    {
        return Err(malformed(format!("Policy has invalid action: {bad}")));
    }
    let resources = string_list(s, "Resource")?;
    if let Some(bad) = resources
        .iter()
        .find(|r| !(*r == "*" || r.starts_with("arn:aws:s3:::")))
    {
        return Err(malformed(format!("Policy has invalid resource: {bad}")));
    }
    Ok(Statement {
        anyone,
        actions: actions.iter().map(|a| a.to_ascii_lowercase()).collect(),
        resources,
    })
}

/// `"*"`, or an object of principal kinds to a string or strings.
fn principal(s: &Map<String, Value>) -> Result<bool, PolicyError> {
    match s.get("Principal") {
        Some(Value::String(p)) if p == "*" => Ok(true),
        Some(Value::Object(kinds)) if !kinds.is_empty() => {
            let mut anyone = false;
            for (kind, who) in kinds {
                let who = strings(who).ok_or_else(|| {
                    malformed(format!("Principal {kind} must be a string or strings"))
                })?;
                anyone |= kind == "AWS" && who.contains(&"*");
            }
            Ok(anyone)
        }
        Some(_) => Err(malformed("Invalid principal in policy")),
        None => Err(malformed("Missing required field Principal")),
    }
}

fn string_list(s: &Map<String, Value>, field: &str) -> Result<Vec<String>, PolicyError> {
    let value = s
        .get(field)
        .ok_or_else(|| malformed(format!("Missing required field {field}")))?;
    match strings(value) {
        Some(v) if !v.is_empty() => Ok(v.into_iter().map(str::to_string).collect()),
        _ => Err(malformed(format!(
            "{field} must be a string or a non-empty array of strings"
        ))),
    }
}

/// A string or an array of strings.
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

impl Policy {
    /// Whether this policy lets anyone `s3:GetObject` the object `bucket/key`.
    pub fn allows_anonymous_get(&self, bucket: &str, key: &str) -> bool {
        let object_arn = format!("arn:aws:s3:::{bucket}/{key}");
        self.statements.iter().any(|s| {
            s.anyone
                && s.actions.iter().any(|a| glob(a, "s3:getobject"))
                && s.resources.iter().any(|r| glob(r, &object_arn))
        })
    }
}

/// Parsed policies by bucket, each with the text it was parsed from: a lookup
/// compares the stored text (a changed policy is parsed again), so nothing is
/// ever stale. A stored text that does not parse grants nothing.
/// The policy text a bucket had, and what it parsed to (`None`: it did not).
type Cached = (String, Option<Arc<Policy>>);

#[derive(Default)]
pub struct PolicyCache {
    parsed: RwLock<HashMap<String, Cached>>,
}

impl PolicyCache {
    pub fn get(&self, bucket: &str, text: &str) -> Option<Arc<Policy>> {
        if let Ok(map) = self.parsed.read() {
            if let Some((cached_text, policy)) = map.get(bucket) {
                if cached_text == text {
                    return policy.clone();
                }
            }
        }
        let policy = parse(text).ok().map(Arc::new);
        if let Ok(mut map) = self.parsed.write() {
            map.insert(bucket.to_string(), (text.to_string(), policy.clone()));
        }
        policy
    }
}

/// IAM-style wildcard match: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn doc(resource: &str) -> Policy {
        parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{resource}"}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn whole_bucket_and_prefix_grants() {
        assert!(doc("arn:aws:s3:::b/*").allows_anonymous_get("b", "x/y.png"));
        assert!(!doc("arn:aws:s3:::b/*").allows_anonymous_get("other", "x"));
        let d = doc("arn:aws:s3:::b/public/*");
        assert!(d.allows_anonymous_get("b", "public/a.jpg"));
        assert!(!d.allows_anonymous_get("b", "private/a.jpg"));
        assert!(doc("arn:aws:s3:::b/img?.png").allows_anonymous_get("b", "img1.png"));
    }

    #[test]
    fn named_principals_are_refused() {
        let d = parse(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        );
        assert!(matches!(d, Err(PolicyError::Unsupported(_))));
        let d = parse(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:Get*"],"Resource":"arn:aws:s3:::b/*"}}"#).unwrap();
        assert!(d.allows_anonymous_get("b", "k"));
    }

    #[test]
    fn refuses_malformed_and_unsupported() {
        let malformed = [
            "not json",
            "[]",
            r#"{"Statement":42}"#,
            r#"{"Statement":[]}"#,
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Version":7,"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":42,"Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:Run","Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Colour":"red"}}"#,
        ];
        for text in malformed {
            assert!(
                matches!(parse(text), Err(PolicyError::Malformed(_))),
                "{text}"
            );
        }
        let unsupported = [
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.4/32"}}}}"#,
            r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        ];
        for text in unsupported {
            assert!(
                matches!(parse(text), Err(PolicyError::Unsupported(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn cache_follows_the_stored_text() {
        let cache = PolicyCache::default();
        let open = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let closed = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/none/*"}}"#;
        assert!(cache.get("b", open).unwrap().allows_anonymous_get("b", "k"));
        assert!(!cache
            .get("b", closed)
            .unwrap()
            .allows_anonymous_get("b", "k"));
        assert!(cache.get("b", "garbage").is_none());
    }
}
