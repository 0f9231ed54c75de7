//! The policy document of a POST object upload (base64 JSON): its `expiration`
//! and its conditions — `{"field": "value"}` and `["eq", "$field", "value"]`
//! (exact), `["starts-with", "$field", "prefix"]` (an empty prefix allows any
//! value), `["content-length-range", min, max]` (checked on the streamed size by
//! the caller). Field names are case-insensitive; `bucket` is the request's
//! bucket. Every form field but the signature's own, `file`, `policy` and
//! `x-ignore-*` must be named by a condition.

use base64::Engine as _;
use serde_json::Value;

/// The largest policy document accepted (decoded).
const MAX_POLICY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// Not base64 JSON, or a condition AWS would not parse: 400 InvalidPolicyDocument.
    #[error("Invalid Policy: {0}")]
    Malformed(String),
    #[error("Invalid according to Policy: Policy expired.")]
    Expired,
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    ConditionFailed(String),
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraField(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Eq { field: String, value: String },
    StartsWith { field: String, prefix: String },
    LengthRange { min: u64, max: u64 },
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub expiration: time::OffsetDateTime,
    pub conditions: Vec<Condition>,
}

/// Form fields no condition needs to name.
fn exempt(field: &str) -> bool {
    matches!(
        field,
        "x-amz-signature" | "file" | "policy" | "awsaccesskeyid" | "signature"
    ) || field.starts_with("x-ignore-")
}

impl Policy {
    /// Decodes and parses the `policy` field.
    pub fn parse(b64: &str) -> Result<Policy, PolicyError> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| PolicyError::Malformed("the policy is not base64".into()))?;
        if raw.len() > MAX_POLICY {
            return Err(PolicyError::Malformed("the policy is too large".into()));
        }
        let doc: Value = serde_json::from_slice(&raw)
            .map_err(|e| PolicyError::Malformed(format!("the policy is not JSON: {e}")))?;
        let expiration = doc
            .get("expiration")
            .and_then(Value::as_str)
            .ok_or_else(|| PolicyError::Malformed("Policy missing expiration.".into()))?;
        let expiration =
            time::OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
                .map_err(|_| PolicyError::Malformed("Invalid 'expiration' value".into()))?;
        let list = match doc.get("conditions") {
            Some(Value::Array(list)) => list.as_slice(),
            None => &[],
            Some(_) => return Err(PolicyError::Malformed("conditions is not a list".into())),
        };
        let mut conditions = Vec::new();
        for c in list {
            conditions.extend(condition(c)?);
        }
        Ok(Policy {
            expiration,
            conditions,
        })
    }

    /// Checks expiration and every condition but the length range against the
    /// form `fields` (lower-case names) posted to `bucket`. Returns the allowed
    /// size range (`0..=u64::MAX` when the policy sets none).
    pub fn check(
        &self,
        fields: &[(String, String)],
        bucket: &str,
        now: time::OffsetDateTime,
    ) -> Result<(u64, u64), PolicyError> {
        if now >= self.expiration {
            return Err(PolicyError::Expired);
        }
        let value = |field: &str| -> String {
            if field == "bucket" {
                return bucket.to_string();
            }
            fields
                .iter()
                .find(|(n, _)| n == field)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (mut min, mut max) = (0u64, u64::MAX);
        for c in &self.conditions {
            match c {
                Condition::Eq { field, value: want } => {
                    if value(field) != *want {
                        return Err(PolicyError::ConditionFailed(format!(
                            "[\"eq\", \"${field}\", \"{want}\"]"
                        )));
                    }
                }
                Condition::StartsWith { field, prefix } => {
                    let got = value(field);
                    // Content-Type may list several types, each with the prefix.
                    let ok = if field == "content-type" && !prefix.is_empty() {
                        got.split(',')
                            .all(|t| t.trim().starts_with(prefix.as_str()))
                    } else {
                        got.starts_with(prefix.as_str())
                    };
                    if !ok {
                        return Err(PolicyError::ConditionFailed(format!(
                            "[\"starts-with\", \"${field}\", \"{prefix}\"]"
                        )));
                    }
                }
                Condition::LengthRange { min: lo, max: hi } => {
                    min = min.max(*lo);
                    max = max.min(*hi);
                }
            }
        }
        for (name, _) in fields {
            if exempt(name) {
                continue;
            }
            let named = self.conditions.iter().any(|c| match c {
                Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => field == name,
                Condition::LengthRange { .. } => false,
            });
            if !named {
                return Err(PolicyError::ExtraField(name.clone()));
            }
        }
        Ok((min, max))
    }
}

/// One condition of the list (an object may hold several exact matches).
fn condition(c: &Value) -> Result<Vec<Condition>, PolicyError> {
    let bad = || PolicyError::Malformed(format!("Invalid Policy: Invalid condition {c}"));
    match c {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                Ok(Condition::Eq {
                    field: field_name(k),
                    value: scalar(v).ok_or_else(bad)?,
                })
            })
            .collect(),
        Value::Array(items) if items.len() == 3 => {
            let op = items[0].as_str().ok_or_else(bad)?.to_ascii_lowercase();
            match op.as_str() {
                "content-length-range" => {
                    let min = number(&items[1]).ok_or_else(bad)?;
                    let max = number(&items[2]).ok_or_else(bad)?;
                    if min > max {
                        return Err(bad());
                    }
                    Ok(vec![Condition::LengthRange { min, max }])
                }
                "eq" | "starts-with" => {
                    let field = items[1]
                        .as_str()
                        .and_then(|f| f.strip_prefix('$'))
                        .ok_or_else(bad)?;
                    let field = field_name(field);
                    let value = scalar(&items[2]).ok_or_else(bad)?;
                    Ok(vec![if op == "eq" {
                        Condition::Eq { field, value }
                    } else {
                        Condition::StartsWith {
                            field,
                            prefix: value,
                        }
                    }])
                }
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

fn field_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const NOW: time::OffsetDateTime = time::macros::datetime!(2026-12-01 12:00 UTC);

    #[test]
    fn conditions_and_extra_fields() {
        let p = Policy::parse(&b64(r#"{"expiration": "2026-12-02T00:00:00.000Z",
            "conditions": [{"bucket": "shop"}, ["starts-with", "$key", "user/"],
            ["eq", "$Content-Type", "image/png"], ["content-length-range", 1, 100],
            ["starts-with", "$x-amz-meta-tag", ""]]}"#))
        .unwrap();
        let ok = fields(&[
            ("key", "user/a.png"),
            ("content-type", "image/png"),
            ("x-amz-meta-tag", "anything"),
            ("policy", "..."),
            ("x-ignore-me", "1"),
        ]);
        assert_eq!(p.check(&ok, "shop", NOW), Ok((1, 100)));
        assert!(matches!(
            p.check(&ok, "other", NOW),
            Err(PolicyError::ConditionFailed(_))
        ));
        let mut extra = ok.clone();
        extra.push(("x-amz-meta-more".into(), "x".into()));
        assert_eq!(
            p.check(&extra, "shop", NOW),
            Err(PolicyError::ExtraField("x-amz-meta-more".into()))
        );
        let wrong_prefix = fields(&[("key", "admin/a.png"), ("content-type", "image/png")]);
        assert!(matches!(
            p.check(&wrong_prefix, "shop", NOW),
            Err(PolicyError::ConditionFailed(_))
        ));
        let later = time::macros::datetime!(2026-12-02 00:00 UTC);
        assert_eq!(p.check(&ok, "shop", later), Err(PolicyError::Expired));
    }

    #[test]
    fn malformed_policies() {
        assert!(Policy::parse("not base64!").is_err());
        assert!(Policy::parse(&b64(r#"{"conditions": []}"#)).is_err());
        assert!(Policy::parse(&b64(
            r#"{"expiration": "2026-12-02T00:00:00Z", "conditions": [["gt", "$key", "a"]]}"#
        ))
        .is_err());
    }
}
