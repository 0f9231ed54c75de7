//! One info-level line per S3 request: method, bucket, key, status, bytes in and
//! out, duration, request id and the access key id that signed it (never a
//! secret, never a signature). Bucket and key come from the path (path-style) or
//! from the host under `--domain` as s3s resolved it; the access key id from the
//! `Authorization` header's `Credential=` or a presigned URL's `X-Amz-Credential`.

use std::time::Duration;

/// What the access line needs from the request, taken before s3s consumes it.
pub struct RequestLine {
    pub method: String,
    pub bucket: String,
    pub key: String,
    pub access_key: String,
    pub bytes_in: u64,
}

impl RequestLine {
    pub fn of<B>(req: &http::Request<B>) -> RequestLine {
        let path = req.uri().path().trim_start_matches('/');
        let (bucket, key) = match path.split_once('/') {
            Some((b, k)) => (b, k),
            None => (path, ""),
        };
        let decode = |s: &str| {
            String::from_utf8_lossy(&urlencoding::decode_binary(s.as_bytes())).into_owned()
        };
        RequestLine {
            method: req.method().as_str().to_string(),
            bucket: decode(bucket),
            key: decode(key),
            access_key: access_key_of(req).unwrap_or_else(|| "-".to_string()),
            bytes_in: req
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        }
    }

    /// Logs the line once the response is known.
    pub fn log(&self, request_id: &str, status: u16, bytes_out: u64, took: Duration) {
        tracing::info!(
            target: "cairn::access",
            method = %self.method,
            bucket = %self.bucket,
            key = %self.key,
            status,
            bytes_in = self.bytes_in,
            bytes_out,
            ms = took.as_secs_f64() * 1000.0,
            request_id,
            access_key = %self.access_key,
            "request"
        );
    }
}

/// The access key id of a SigV4 (header or presigned) or SigV2 request.
fn access_key_of<B>(req: &http::Request<B>) -> Option<String> {
    if let Some(auth) = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(i) = auth.find("Credential=") {
            let rest = &auth[i + "Credential=".len()..];
            return rest.split('/').next().map(clean);
        }
        // SigV2: "AWS AKID:signature".
        if let Some(rest) = auth.strip_prefix("AWS ") {
            return rest.split(':').next().map(clean);
        }
        return None;
    }
    let query = req.uri().query()?;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "X-Amz-Credential" || k == "AWSAccessKeyId" {
            let v = urlencoding::decode_binary(v.as_bytes());
            let v = String::from_utf8_lossy(&v);
            return v.split('/').next().map(clean);
        }
    }
    None
}

/// An access key id as logged: printable ASCII only, at most 128 characters.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn takes_bucket_key_and_access_key_never_the_signature() {
        let req = http::Request::builder()
            .method("PUT")
            .uri("/photos/2024/a%20b.jpg?partNumber=1")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=deadbeef",
            )
            .header("content-length", "42")
            .body(())
            .unwrap();
        let line = RequestLine::of(&req);
        assert_eq!(line.bucket, "photos");
        assert_eq!(line.key, "2024/a b.jpg");
        assert_eq!(line.access_key, "AKIDEXAMPLE");
        assert_eq!(line.bytes_in, 42);
        let presigned = http::Request::builder()
            .uri("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID2%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc")
            .body(())
            .unwrap();
        assert_eq!(RequestLine::of(&presigned).access_key, "AKID2");
        let anonymous = http::Request::builder().uri("/b").body(()).unwrap();
        let line = RequestLine::of(&anonymous);
        assert_eq!((line.bucket.as_str(), line.key.as_str()), ("b", ""));
        assert_eq!(line.access_key, "-");
    }
}
