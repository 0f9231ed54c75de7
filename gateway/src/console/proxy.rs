//! `/s3/...` of the console listener: each request is forwarded, streamed both
//! ways, to this process's own S3 listener with the `/s3` prefix taken off, so
//! the page and the S3 API share one origin and need no CORS rules. The browser
//! signs the request as it reaches the S3 service: the path without the prefix
//! and the console's `Host` (kept as sent). Browser-only headers (`Origin`,
//! `Referer`, `Cookie`) and hop-by-hop headers are not forwarded.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The path prefix of forwarded requests.
pub const PREFIX: &str = "/s3";

const DROPPED: [&str; 9] = [
    "origin",
    "referer",
    "cookie",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
];

#[derive(Clone)]
pub struct S3Proxy {
    client: Client<HttpConnector, Body>,
    /// HOST:PORT of the S3 listener.
    target: String,
}

impl S3Proxy {
    pub fn new(target: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        S3Proxy {
            client: Client::builder(TokioExecutor::new()).build(connector),
            target: target.to_string(),
        }
    }

    /// Forwards `req` (whose path starts with `PREFIX`).
    pub async fn forward(&self, req: Request) -> Response {
        let (mut parts, body) = req.into_parts();
        let rest = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/")
            .strip_prefix(PREFIX)
            .unwrap_or("/");
        let rest = if rest.starts_with('/') {
            rest.to_string()
        } else {
            format!("/{rest}")
        };
        let uri = match format!("http://{}{rest}", self.target).parse::<http::Uri>() {
            Ok(uri) => uri,
            Err(e) => return s3_error(400, "InvalidURI", &format!("{e}")),
        };
        parts.uri = uri;
        for name in DROPPED {
            parts.headers.remove(name);
        }
        let req = http::Request::from_parts(parts, body);
        match self.client.request(req).await {
            Ok(resp) => resp.map(Body::new),
            Err(e) => {
                tracing::warn!(error = %e, target = %self.target, "console: S3 listener unreachable");
                s3_error(
                    502,
                    "ServiceUnavailable",
                    "the console could not reach the S3 service",
                )
            }
        }
    }
}

/// An S3 error document (what the page reads for every failed action).
fn s3_error(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    resp
}
