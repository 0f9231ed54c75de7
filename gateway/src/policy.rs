//! Bucket policies, as far as Cairn enforces them: a statement that allows anyone
//! (`"Principal": "*"`) `s3:GetObject` on `arn:aws:s3:::BUCKET/PATTERN` lets
//! anonymous clients GET/HEAD the keys matching PATTERN (`*` and `?` wildcards).
//! Statements with conditions are not honoured (they never widen access).

use serde_json::Value;

/// Parses a policy document, rejecting what is not a JSON object with statements.
pub fn parse(text: &str) -> Result<Value, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("policy is not valid JSON: {e}"))?;
    if doc.get("Statement").is_none() {
        return Err("policy has no Statement".into());
    }
    Ok(doc)
}

/// Whether `doc` lets anyone `s3:GetObject` the object `bucket/key`.
pub fn allows_anonymous_get(doc: &Value, bucket: &str, key: &str) -> bool {
    let object_arn = format!("arn:aws:s3:::{bucket}/{key}");
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    statements.into_iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let anyone = match s.get("Principal") {
            Some(Value::String(p)) => p == "*",
            Some(Value::Object(o)) => strings(o.get("AWS")).any(|p| p == "*"),
            _ => false,
        };
        let action =
            strings(s.get("Action")).any(|a| a == "s3:GetObject" || a == "s3:*" || a == "*");
        let resource = strings(s.get("Resource")).any(|r| glob(r, &object_arn));
        allow && anyone && action && resource && s.get("Condition").is_none()
    })
}

/// A string or an array of strings.
fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    let items: Vec<&str> = match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    items.into_iter()
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

    fn doc(resource: &str) -> Value {
        parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{resource}"}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn whole_bucket_and_prefix_grants() {
        assert!(allows_anonymous_get(
            &doc("arn:aws:s3:::b/*"),
            "b",
            "x/y.png"
        ));
        assert!(!allows_anonymous_get(
            &doc("arn:aws:s3:::b/*"),
            "other",
            "x"
        ));
        let d = doc("arn:aws:s3:::b/public/*");
        assert!(allows_anonymous_get(&d, "b", "public/a.jpg"));
        assert!(!allows_anonymous_get(&d, "b", "private/a.jpg"));
        assert!(allows_anonymous_get(
            &doc("arn:aws:s3:::b/img?.png"),
            "b",
            "img1.png"
        ));
    }

    #[test]
    fn denies_without_star_principal_or_with_conditions() {
        let d = parse(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#).unwrap();
        assert!(!allows_anonymous_get(&d, "b", "k"));
        let d = parse(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.4/32"}}}}"#).unwrap();
        assert!(!allows_anonymous_get(&d, "b", "k"));
        assert!(parse("not json").is_err());
    }
}
