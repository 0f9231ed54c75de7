//! The listener's small adjustments of requests and responses around the s3s
//! service: error documents completed with a message and request id, HEAD of a
//! part answered 206, repeated list headers joined, and the recognition of the
//! unauthenticated `/health` and `/metrics` endpoints.

use s3s::Body;

/// Gives an error response's XML document a `<Message>` and `<RequestId>` when s3s
/// left them out. Error documents are small; other responses pass untouched.
pub(crate) async fn finish_error(
    resp: http::Response<Body>,
    request_id: &str,
) -> http::Response<Body> {
    use http_body::Body as _;
    use http_body_util::BodyExt;
    let small = resp
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| (1..=16 * 1024).contains(&n));
    if !(resp.status().is_client_error() || resp.status().is_server_error()) || !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return http::Response::from_parts(parts, Body::empty()),
    };
    let completed = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|xml| crate::s3::error::complete_error_document(xml, request_id));
    let bytes = completed.map_or(bytes, bytes::Bytes::from);
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(bytes.len()),
    );
    http::Response::from_parts(parts, Body::from(bytes))
}

/// A HEAD answered for a part or range (it carries `Content-Range`) is 206, as its
/// GET is; s3s sets that status only on GetObject.
pub(crate) fn partial_head(method: &str, resp: &mut http::Response<Body>) {
    if method == "HEAD"
        && resp.status() == http::StatusCode::OK
        && resp.headers().contains_key(http::header::CONTENT_RANGE)
    {
        *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
    }
}

/// Joins repeated lines of a list-valued header into one comma-separated value, as
/// HTTP defines them equal (SDKs send `Content-Encoding: gzip` and
/// `Content-Encoding: aws-chunked` apart; s3s accepts one line). Joined by `,`
/// with no space: the form SigV4's canonical headers sign; what is stored is
/// re-joined by `, ` (`meta::stored_content_encoding`).
pub(crate) fn join_repeated(headers: &mut http::HeaderMap, name: http::HeaderName) {
    let values: Vec<&str> = headers
        .get_all(&name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.len() < 2 {
        return;
    }
    if let Ok(joined) = http::HeaderValue::from_str(&values.join(",")) {
        headers.insert(name, joined);
    }
}

/// `GET /metrics` without credentials or query.
pub(crate) fn is_metrics<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::GET
        && req.uri().path() == "/metrics"
        && req.uri().query().is_none()
        && !req.headers().contains_key(http::header::AUTHORIZATION)
}

pub(crate) fn content_length(headers: &http::HeaderMap) -> u64 {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `GET /health` without credentials or query (an anonymous list of a bucket named
/// `health` would be refused anyway).
pub(crate) fn is_health_check<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::GET
        && req.uri().path() == "/health"
        && req.uri().query().is_none()
        && !req.headers().contains_key(http::header::AUTHORIZATION)
}
