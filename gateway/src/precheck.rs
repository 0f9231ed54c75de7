//! Checks of a request's authentication that s3s does not make, applied before the
//! request reaches it, as AWS makes them:
//! - one auth mechanism only: an `Authorization` header together with query-string
//!   auth (`X-Amz-Algorithm`/`X-Amz-Signature` or `Signature`) is `400 InvalidArgument`;
//! - a presigned URL lives at most a week: `X-Amz-Expires` above 604800 is
//!   `400 AuthorizationQueryParametersError`;
//! - a SigV4 credential scope names the server's region: another region is
//!   `400 AuthorizationHeaderMalformed` (header auth) or
//!   `400 AuthorizationQueryParametersError` (presigned), naming the expected region.
//!
//! And the one body framing s3s refuses that Cairn accepts: a PutObject or
//! UploadPart body sent with `Transfer-Encoding: chunked` and no `Content-Length`
//! (not aws-chunked) — `unframed_upload` tells the server to pass the body around
//! s3s (see `UnframedBody`).

use s3s::S3Error;

/// Seven days, the longest a presigned URL may be valid.
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// The error for a request whose authentication AWS would refuse before
/// checking its signature, if any.
pub fn check_auth<B>(req: &http::Request<B>, region: &str) -> Result<(), S3Error> {
    let query = req.uri().query().unwrap_or("");
    let param = |name: &str| query_param(query, name);
    let query_v4 = param("X-Amz-Algorithm").is_some() || param("X-Amz-Signature").is_some();
    let query_v2 = param("Signature").is_some() && param("AWSAccessKeyId").is_some();
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if header.is_some() && (query_v4 || query_v2) {
        return Err(crate::s3::error::invalid_argument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        ));
    }
    if query_v4 {
        if let Some(expires) = param("X-Amz-Expires") {
            if expires
                .parse::<u64>()
                .is_ok_and(|s| s > MAX_PRESIGNED_EXPIRES)
            {
                return Err(crate::s3::error::query_auth_error(
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                ));
            }
        }
        if let Some(scope_region) = param("X-Amz-Credential")
            .map(|c| urlencoding::decode(&c).map(|d| d.into_owned()).unwrap_or(c))
            .and_then(|c| scope_region(&c).map(str::to_string))
        {
            if scope_region != region {
                return Err(crate::s3::error::query_auth_error(format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{scope_region}' is wrong; expecting '{region}'"
                )));
            }
        }
    }
    if let Some(credential) = header
        .filter(|h| h.starts_with("AWS4-HMAC-SHA256"))
        .and_then(|h| h.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
    {
        if let Some(scope_region) = scope_region(credential) {
            if scope_region != region {
                return Err(crate::s3::error::wrong_region(scope_region, region));
            }
        }
    }
    Ok(())
}

/// `AKID/DATE/REGION/SERVICE/aws4_request` → `REGION`.
fn scope_region(credential: &str) -> Option<&str> {
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() == 5).then(|| parts[2])
}

/// The raw value of a query parameter (first occurrence).
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_string())
    })
}

/// A PUT of an object (PutObject or UploadPart, no other sub-resource, no copy)
/// with a chunked body of unknown length that is not aws-chunked: s3s refuses it
/// with `MissingContentLength`, Cairn streams it under the same size limit.
pub fn unframed_upload<B>(req: &http::Request<B>) -> bool {
    let headers = req.headers();
    if req.method() != http::Method::PUT
        || headers.contains_key(http::header::CONTENT_LENGTH)
        || headers.contains_key("x-amz-copy-source")
        || headers.contains_key("x-amz-decoded-content-length")
    {
        return false;
    }
    let chunked = headers
        .get(http::header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let aws_chunked = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("aws-chunked"));
    let streaming_sha = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    let plain_query = req.uri().query().unwrap_or("").split('&').all(|pair| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        key.is_empty() || key == "partNumber" || key == "uploadId" || key.starts_with("X-Amz-")
    });
    chunked && !aws_chunked && !streaming_sha && plain_query
}

/// The body of an unframed upload, carried past s3s in the request's extensions
/// (s3s sees an empty body); the PutObject and UploadPart handlers take it there.
#[derive(Clone)]
pub struct UnframedBody(pub std::sync::Arc<std::sync::Mutex<Option<s3s::Body>>>);

impl UnframedBody {
    /// The body, once.
    pub fn take(extensions: &http::Extensions) -> Option<s3s::Body> {
        extensions
            .get::<UnframedBody>()
            .and_then(|b| b.0.lock().ok().and_then(|mut b| b.take()))
    }
}

/// Passes an unframed upload's body around s3s: s3s gets an empty body, the
/// handler the real one, checked against `x-amz-content-sha256` when that is a
/// hash (s3s would check it against the empty body's length and never read it).
pub fn carry_unframed(req: http::Request<s3s::Body>) -> http::Request<s3s::Body> {
    let expected = req
        .headers()
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v).ok())
        .filter(|v| v.len() == 32);
    let (mut parts, body) = req.into_parts();
    let body = match expected {
        Some(expected) => s3s::Body::http_body(Sha256Check {
            inner: body,
            hasher: sha2::Sha256::default(),
            expected,
        }),
        None => body,
    };
    parts
        .extensions
        .insert(UnframedBody(std::sync::Arc::new(std::sync::Mutex::new(
            Some(body),
        ))));
    http::Request::from_parts(parts, s3s::Body::empty())
}

/// A body that fails at its end when its SHA-256 is not the expected one.
struct Sha256Check {
    inner: s3s::Body,
    hasher: sha2::Sha256,
    expected: Vec<u8>,
}

impl http_body::Body for Sha256Check {
    type Data = bytes::Bytes;
    type Error = crate::drain::BodyError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, crate::drain::BodyError>>>
    {
        use sha2::Digest;
        use std::task::Poll;
        let this = &mut *self;
        match std::task::ready!(std::pin::Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.hasher.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => {
                let got = std::mem::take(&mut this.hasher).finalize();
                if got.as_slice() == this.expected.as_slice() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err("Sha256Mismatch: x-amz-content-sha256".into())))
                }
            }
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
