//! CORS on the wire: answers preflight `OPTIONS` requests from the bucket's rules
//! (403 when the bucket has none or none matches, never a wildcard the rules do not
//! give), and adds `Access-Control-*` and `Vary: Origin` to the actual responses of
//! cross-origin requests — errors and presigned requests included — where a rule
//! allows them.

use super::cache::CorsCache;
use super::rules::CorsRule;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use s3s::Body;

/// What the actual response of a cross-origin request needs: its bucket, origin
/// and method.
pub struct CrossOrigin {
    bucket: String,
    origin: String,
    method: String,
}

/// The bucket a request names: the host's first label under `domain`
/// (virtual-hosted style), else the path's first segment.
pub fn bucket_of<B>(req: &http::Request<B>, domain: Option<&str>) -> Option<String> {
    if let (Some(domain), Some(host)) = (domain, req.headers().get(http::header::HOST)) {
        let host = host.to_str().ok()?;
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if let Some(bucket) = host.strip_suffix(domain).and_then(|b| b.strip_suffix('.')) {
            return (!bucket.is_empty()).then(|| bucket.to_string());
        }
    }
    let first = req.uri().path().trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| first.to_string())
}

/// The cross-origin facts of a request with an `Origin` header and a bucket.
pub fn cross_origin<B>(req: &http::Request<B>, domain: Option<&str>) -> Option<CrossOrigin> {
    let origin = req.headers().get(http::header::ORIGIN)?.to_str().ok()?;
    Some(CrossOrigin {
        bucket: bucket_of(req, domain)?,
        origin: origin.to_string(),
        method: req.method().as_str().to_string(),
    })
}

/// The answer to a preflight `OPTIONS` request.
pub async fn preflight<B>(
    cache: &CorsCache,
    req: &http::Request<B>,
    domain: Option<&str>,
) -> http::Response<Body> {
    let h = req.headers();
    let text = |name: HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (
        text(http::header::ORIGIN),
        text(http::header::ACCESS_CONTROL_REQUEST_METHOD),
    ) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        );
    };
    let requested: Vec<String> = text(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let rules = match bucket_of(req, domain) {
        Some(bucket) => cache.rules(&bucket).await,
        None => None,
    };
    let Some(rules) = rules else {
        return refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: CORS is not enabled for this bucket.",
        );
    };
    let Some(rule) = rules.preflight(origin, method, &requested) else {
        return refusal(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the \
             evalution of Origin, request method / Access-Control-Request-Method or \
             Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        );
    };
    let mut resp = http::Response::new(Body::empty());
    let out = resp.headers_mut();
    allow(out, rule, origin);
    if !requested.is_empty() {
        set(out, "access-control-allow-headers", &requested.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        set(out, "access-control-max-age", &age.to_string());
    }
    set(
        out,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
    resp
}

/// Adds the CORS headers a rule gives to the actual response of a cross-origin
/// request (nothing when the bucket has no rules; only `Vary` when none matches).
pub async fn decorate(cache: &CorsCache, cx: &CrossOrigin, resp: &mut http::Response<Body>) {
    let Some(rules) = cache.rules(&cx.bucket).await else {
        return;
    };
    let out = resp.headers_mut();
    if let Some(rule) = rules.actual(&cx.origin, &cx.method) {
        allow(out, rule, &cx.origin);
        if !rule.expose_headers.is_empty() {
            set(
                out,
                "access-control-expose-headers",
                &rule.expose_headers.join(", "),
            );
        }
        if let Some(age) = rule.max_age_seconds {
            set(out, "access-control-max-age", &age.to_string());
        }
    }
    set(out, "vary", "Origin");
}

/// `Access-Control-Allow-Origin` (`*` only for a rule that opens every origin, and
/// then without credentials) and `-Allow-Methods`.
fn allow(out: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    if rule.any_origin() {
        set(out, "access-control-allow-origin", "*");
    } else {
        set(out, "access-control-allow-origin", origin);
        set(out, "access-control-allow-credentials", "true");
    }
    set(
        out,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
}

fn set(out: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        out.insert(HeaderName::from_static(name), v);
    }
}

fn refusal(status: StatusCode, code: &str, message: &str) -> http::Response<Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = http::Response::new(Body::from(xml));
    *resp.status_mut() = status;
    set(resp.headers_mut(), "content-type", "application/xml");
    resp
}
