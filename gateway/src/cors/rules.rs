//! A bucket's CORS rules as Cairn keeps and evaluates them: validation of a
//! PutBucketCors document (as AWS validates it), the stored form (JSON in the
//! catalog's bucket documents, kind `cors`), and which rule answers a preflight or an
//! actual cross-origin request. Pure: no I/O.

use s3s::dto::{CORSConfiguration, CORSRule};
use serde::{Deserialize, Serialize};

/// The bucket-document kind the rules are stored under.
pub const DOC_KIND: &str = "cors";
/// AWS's limit on rules per configuration.
pub const MAX_RULES: usize = 100;
/// The methods a rule may allow.
const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    pub rules: Vec<CorsRule>,
}

/// Why a CORS document is refused: (S3 error code, message).
#[derive(Debug, PartialEq, Eq)]
pub struct CorsError {
    pub code: &'static str,
    pub message: String,
}

fn invalid(message: String) -> CorsError {
    CorsError {
        code: "InvalidRequest",
        message,
    }
}

fn malformed(message: &str) -> CorsError {
    CorsError {
        code: "MalformedXML",
        message: message.to_string(),
    }
}

impl CorsConfig {
    /// Validates a PutBucketCors document.
    pub fn from_dto(dto: CORSConfiguration) -> Result<CorsConfig, CorsError> {
        if dto.cors_rules.is_empty() {
            return Err(malformed(
                "a CORS configuration needs at least one CORSRule",
            ));
        }
        if dto.cors_rules.len() > MAX_RULES {
            return Err(malformed(
                "a CORS configuration may have at most 100 CORSRules",
            ));
        }
        let rules = dto
            .cors_rules
            .into_iter()
            .map(rule_from_dto)
            .collect::<Result<_, _>>()?;
        Ok(CorsConfig { rules })
    }

    pub fn to_dto(&self) -> Vec<CORSRule> {
        self.rules
            .iter()
            .map(|r| CORSRule {
                id: r.id.clone(),
                allowed_origins: r.allowed_origins.clone(),
                allowed_methods: r.allowed_methods.clone(),
                allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
                expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
                max_age_seconds: r.max_age_seconds,
            })
            .collect()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The stored form; `None` if it does not parse (never written by Cairn).
    pub fn decode(bytes: &[u8]) -> Option<CorsConfig> {
        serde_json::from_slice(bytes).ok()
    }

    /// The first rule that allows a preflight: the origin, the method the actual
    /// request will use, and every header it will send.
    pub fn preflight(&self, origin: &str, method: &str, headers: &[String]) -> Option<&CorsRule> {
        self.rules.iter().find(|r| {
            r.allows_origin(origin)
                && r.allowed_methods.iter().any(|m| m == method)
                && headers.iter().all(|h| {
                    r.allowed_headers
                        .iter()
                        .any(|pattern| wildcard_match(&pattern.to_ascii_lowercase(), h))
                })
        })
    }

    /// The first rule that allows an actual request of `method` from `origin`.
    pub fn actual(&self, origin: &str, method: &str) -> Option<&CorsRule> {
        self.rules
            .iter()
            .find(|r| r.allows_origin(origin) && r.allowed_methods.iter().any(|m| m == method))
    }
}

impl CorsRule {
    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|pattern| wildcard_match(pattern, origin))
    }

    /// Whether the rule opens every origin (answered with `*`, without credentials).
    pub fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

fn rule_from_dto(r: CORSRule) -> Result<CorsRule, CorsError> {
    if r.id.as_ref().is_some_and(|id| id.len() > 255) {
        return Err(invalid(
            "The ID of a CORSRule may have at most 255 characters".into(),
        ));
    }
    if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
        return Err(malformed(
            "a CORSRule needs at least one AllowedOrigin and one AllowedMethod",
        ));
    }
    for m in &r.allowed_methods {
        if !METHODS.contains(&m.as_str()) {
            return Err(invalid(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
    }
    for o in &r.allowed_origins {
        if o.matches('*').count() > 1 {
            return Err(invalid(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            )));
        }
    }
    let allowed_headers = r.allowed_headers.unwrap_or_default();
    for h in &allowed_headers {
        if h.matches('*').count() > 1 {
            return Err(invalid(format!(
                "AllowedHeader \"{h}\" can not have more than one wildcard."
            )));
        }
    }
    if r.max_age_seconds.is_some_and(|s| s < 0) {
        return Err(malformed("MaxAgeSeconds must not be negative"));
    }
    Ok(CorsRule {
        id: r.id,
        allowed_origins: r.allowed_origins,
        allowed_methods: r.allowed_methods,
        allowed_headers,
        expose_headers: r.expose_headers.unwrap_or_default(),
        max_age_seconds: r.max_age_seconds,
    })
}

/// `pattern` with at most one `*` (any run of characters) against `value`.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CORSRule {
        CORSRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: Some(headers.iter().map(|s| s.to_string()).collect()),
            expose_headers: None,
            id: None,
            max_age_seconds: None,
        }
    }

    fn config(rules: Vec<CORSRule>) -> Result<CorsConfig, CorsError> {
        CorsConfig::from_dto(CORSConfiguration { cors_rules: rules })
    }

    #[test]
    fn validation_follows_aws() {
        assert_eq!(config(vec![]).unwrap_err().code, "MalformedXML");
        let too_many = (0..101).map(|_| rule(&["*"], &["GET"], &[])).collect();
        assert_eq!(config(too_many).unwrap_err().code, "MalformedXML");
        let err = config(vec![rule(&["*"], &["PATCH"], &[])]).unwrap_err();
        assert_eq!(err.code, "InvalidRequest");
        assert!(err.message.contains("PATCH"));
        assert!(config(vec![rule(&["http://*.*.com"], &["GET"], &[])]).is_err());
        assert!(config(vec![rule(&["*"], &["GET"], &["x-*-*"])]).is_err());
        let mut long_id = rule(&["*"], &["GET"], &[]);
        long_id.id = Some("i".repeat(256));
        assert!(config(vec![long_id]).is_err());
        assert!(config(vec![rule(
            &["https://*.shop.example"],
            &["GET", "PUT"],
            &["*"]
        )])
        .is_ok());
    }

    #[test]
    fn first_matching_rule_answers() {
        let c = config(vec![
            rule(
                &["https://shop.example"],
                &["PUT"],
                &["content-type", "x-amz-*"],
            ),
            rule(&["https://*.cdn.example"], &["GET", "HEAD"], &[]),
        ])
        .unwrap();
        let hdrs = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(c
            .preflight(
                "https://shop.example",
                "PUT",
                &hdrs(&["content-type", "x-amz-date"])
            )
            .is_some());
        assert!(c
            .preflight("https://shop.example", "PUT", &hdrs(&["authorization"]))
            .is_none());
        assert!(c.preflight("https://shop.example", "GET", &[]).is_none());
        assert!(c.preflight("https://img.cdn.example", "GET", &[]).is_some());
        assert!(c
            .preflight("https://img.cdn.example", "GET", &hdrs(&["range"]))
            .is_none());
        assert!(c.preflight("https://evil.example", "GET", &[]).is_none());
        assert!(c.actual("https://a.cdn.example", "HEAD").is_some());
        assert!(c.actual("https://a.cdn.example", "DELETE").is_none());
    }

    #[test]
    fn stored_form_round_trips() {
        let c = config(vec![rule(&["*"], &["GET"], &["*"])]).unwrap();
        assert_eq!(CorsConfig::decode(&c.encode()), Some(c.clone()));
        assert_eq!(c.to_dto()[0].allowed_headers, Some(vec!["*".to_string()]));
    }
}
