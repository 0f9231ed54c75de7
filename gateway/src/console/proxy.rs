//! `/s3/...` of the console listener: each request is forwarded, streamed both
//! ways, to this process's own S3 listener with the `/s3` prefix taken off (over
//! TLS when that listener serves HTTPS, trusting only the certificate it serves:
//! `tls::pinned`; one connection per request, the console's load is light), so
//! the page and the S3 API share one origin and need no CORS rules. The browser
//! signs the request as it reaches the S3 service: the path without the prefix
//! and the console's `Host` (kept as sent). Browser-only headers (`Origin`,
//! `Referer`, `Cookie`) and hop-by-hop headers are not forwarded.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

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
    /// HOST:PORT of the S3 listener.
    target: String,
    /// Its TLS, when it serves HTTPS.
    tls: Option<TlsConnector>,
}

/// Why a forwarded request got no answer.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
}

impl S3Proxy {
    /// Forwards to `target`, over TLS with `tls` (see `tls::pinned`).
    pub fn new(target: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        S3Proxy {
            target: target.to_string(),
            tls: tls.map(TlsConnector::from),
        }
    }

    async fn send(
        &self,
        req: http::Request<Body>,
    ) -> Result<http::Response<hyper::body::Incoming>, ForwardError> {
        let tcp = TcpStream::connect(&self.target)
            .await
            .map_err(ForwardError::Connect)?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => exchange(TokioIo::new(tcp), req).await,
            Some(tls) => {
                // The verifier pins the certificate, so the name is not checked.
                let name = rustls::pki_types::ServerName::try_from("localhost")
                    .map_err(|e| ForwardError::Tls(std::io::Error::other(e)))?;
                let stream = tls.connect(name, tcp).await.map_err(ForwardError::Tls)?;
                exchange(TokioIo::new(stream), req).await
            }
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
        match self.send(req).await {
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

/// One HTTP/1.1 exchange over `io` (the connection is driven by a task of its
/// own until the response body is read).
async fn exchange<IO>(
    io: IO,
    req: http::Request<Body>,
) -> Result<http::Response<hyper::body::Incoming>, ForwardError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(error) = conn.await {
            tracing::debug!(%error, "console: forwarded connection ended with an error");
        }
    });
    Ok(send.send_request(req).await?)
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
