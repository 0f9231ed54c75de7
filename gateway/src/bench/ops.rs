//! The S3 requests of the bench client, over a pooled HTTP/1.1 keep-alive client
//! (hyper, TCP_NODELAY), path-style and SigV4-signed with `UNSIGNED-PAYLOAD`.

use super::payload::{ObjectBody, Payload};
use super::sigv4::{self, AmzDate, Signer};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A request body: nothing, bytes in memory, or (part of) a payload object.
pub enum ReqBody {
    Empty,
    Full(Option<Bytes>),
    Object(ObjectBody),
}

impl ReqBody {
    fn len(&self) -> u64 {
        match self {
            ReqBody::Empty => 0,
            ReqBody::Full(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            ReqBody::Object(o) => o.len(),
        }
    }
}

impl http_body::Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqBody::Object(o) => Pin::new(o).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Full(b) => b.is_none(),
            ReqBody::Object(o) => o.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}

/// A minimal path-style S3 client for one bucket.
pub struct S3Client {
    http: Client<HttpConnector, ReqBody>,
    /// `http://host:port`
    base: String,
    host: HeaderValue,
    signer: Signer,
    pub bucket: String,
    region: String,
}

type OpResult<T> = Result<T, String>;

impl S3Client {
    pub fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        bucket: &str,
        max_connections: usize,
    ) -> OpResult<Self> {
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e| format!("bad --endpoint {endpoint}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "--endpoint: only http:// is supported (not {other}://)"
                ))
            }
            None => return Err(format!("--endpoint {endpoint}: needs http://")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--endpoint {endpoint}: no host"))?
            .as_str()
            .to_string();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_connections.max(1))
            .build(connector);
        let host = HeaderValue::from_str(&authority).map_err(|e| format!("bad host: {e}"))?;
        Ok(S3Client {
            http,
            base: format!("http://{authority}"),
            host,
            signer: Signer::new(access_key, secret_key, region),
            bucket: bucket.to_string(),
            region: region.to_string(),
        })
    }

    /// Sends a signed request; `path` and `query` in canonical form.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        extra: &[(&'static str, String)],
        body: ReqBody,
    ) -> OpResult<http::Response<Incoming>> {
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(http::header::HOST, self.host.clone());
        for (name, value) in extra {
            let v = HeaderValue::from_str(value).map_err(|e| format!("bad header value: {e}"))?;
            headers.insert(*name, v);
        }
        self.signer.sign(
            &method,
            path,
            query,
            &mut headers,
            sigv4::UNSIGNED_PAYLOAD,
            &AmzDate::now(),
        );
        let len = body.len();
        if len > 0 || method == Method::PUT || method == Method::POST {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        let uri = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let mut req = http::Request::new(body);
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri.parse().map_err(|e| format!("bad uri {uri}: {e}"))?;
        *req.headers_mut() = headers;
        self.http
            .request(req)
            .await
            .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))
    }

    /// Sends and requires `want` (else reads the error body into the message).
    pub(super) async fn expect(
        &self,
        method: Method,
        path: &str,
        query: &str,
        extra: &[(&'static str, String)],
        body: ReqBody,
        want: &[StatusCode],
    ) -> OpResult<http::Response<Incoming>> {
        let resp = self.send(method.clone(), path, query, extra, body).await?;
        if want.contains(&resp.status()) {
            return Ok(resp);
        }
        let status = resp.status();
        let text = read_text(resp).await.unwrap_or_default();
        Err(format!(
            "{method} {path}{}{query}: {status}{}",
            if query.is_empty() { "" } else { "?" },
            summarize_error(&text)
        ))
    }

    pub fn object_path(&self, key: &str) -> String {
        sigv4::object_path(&self.bucket, key)
    }

    /// Creates the bucket unless it exists (and is ours).
    pub async fn ensure_bucket(&self) -> OpResult<()> {
        let path = sigv4::bucket_path(&self.bucket);
        let head = self
            .send(Method::HEAD, &path, "", &[], ReqBody::Empty)
            .await?;
        if head.status().is_success() {
            return Ok(());
        }
        let body = if self.region == "us-east-1" {
            ReqBody::Empty
        } else {
            ReqBody::Full(Some(Bytes::from(format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            ))))
        };
        let resp = self.send(Method::PUT, &path, "", &[], body).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = read_text(resp).await.unwrap_or_default();
        if status == StatusCode::CONFLICT && text.contains("BucketAlreadyOwnedByYou") {
            return Ok(());
        }
        Err(format!(
            "creating bucket {}: {status}{}",
            self.bucket,
            summarize_error(&text)
        ))
    }

    /// PutObject of object `obj` of the payload.
    pub async fn put(&self, key: &str, payload: &Payload, obj: u64) -> OpResult<u64> {
        let body = payload.body(obj);
        let n = body.len();
        let resp = self
            .expect(
                Method::PUT,
                &self.object_path(key),
                "",
                &[],
                ReqBody::Object(body),
                &[StatusCode::OK],
            )
            .await?;
        drain(resp.into_body()).await?;
        Ok(n)
    }

    /// GetObject (optionally of a range); returns the body length, checked against
    /// `expect_len`.
    pub async fn get(
        &self,
        key: &str,
        range: Option<(u64, u64)>,
        expect_len: u64,
    ) -> OpResult<u64> {
        let path = self.object_path(key);
        let (extra, want) = match range {
            Some((a, b)) => (
                vec![("range", format!("bytes={a}-{}", b - 1))],
                StatusCode::PARTIAL_CONTENT,
            ),
            None => (Vec::new(), StatusCode::OK),
        };
        let resp = self
            .expect(Method::GET, &path, "", &extra, ReqBody::Empty, &[want])
            .await?;
        let n = drain(resp.into_body())
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if n != expect_len {
            return Err(format!("GET {path}: got {n} bytes, expected {expect_len}"));
        }
        Ok(n)
    }

    /// GET of a whole object as parallel ranged GETs of `part` bytes.
    pub async fn get_ranged(&self, key: &str, size: u64, part: u64, conc: usize) -> OpResult<u64> {
        if size <= part {
            return self.get(key, None, size).await;
        }
        let ranges = (0..size.div_ceil(part)).map(|i| (i * part, ((i + 1) * part).min(size)));
        stream::iter(ranges)
            .map(|(a, b)| self.get(key, Some((a, b)), b - a))
            .buffer_unordered(conc.max(1))
            .try_fold(0u64, |acc, n| async move { Ok(acc + n) })
            .await
    }

    pub async fn delete(&self, key: &str) -> OpResult<()> {
        let resp = self
            .expect(
                Method::DELETE,
                &self.object_path(key),
                "",
                &[],
                ReqBody::Empty,
                &[StatusCode::NO_CONTENT, StatusCode::OK],
            )
            .await?;
        drain(resp.into_body()).await?;
        Ok(())
    }

    /// A whole multipart upload of object `obj`: create, parts (`conc` at a time),
    /// complete. Aborts the upload on failure.
    pub async fn multipart(
        &self,
        key: &str,
        payload: &Payload,
        obj: u64,
        part: u64,
        conc: usize,
    ) -> OpResult<u64> {
        let path = self.object_path(key);
        let resp = self
            .expect(
                Method::POST,
                &path,
                &sigv4::canonical_query(&[("uploads", "")]),
                &[],
                ReqBody::Empty,
                &[StatusCode::OK],
            )
            .await?;
        let text = read_text(resp).await?;
        let upload_id = xml_tag(&text, "UploadId")
            .map(xml_unescape)
            .ok_or_else(|| format!("POST {path}?uploads: no UploadId in {text}"))?;
        let result = self
            .upload_parts(&path, &upload_id, payload, obj, part, conc)
            .await;
        if result.is_err() {
            let q = sigv4::canonical_query(&[("uploadId", &upload_id)]);
            let _ = self
                .send(Method::DELETE, &path, &q, &[], ReqBody::Empty)
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        path: &str,
        upload_id: &str,
        payload: &Payload,
        obj: u64,
        part: u64,
        conc: usize,
    ) -> OpResult<u64> {
        let size = payload.size();
        let n_parts = size.div_ceil(part).max(1);
        let mut etags: Vec<(u64, String)> = stream::iter(1..=n_parts)
            .map(|pn| async move {
                let start = (pn - 1) * part;
                let end = (start + part).min(size);
                let q = sigv4::canonical_query(&[
                    ("partNumber", &pn.to_string()),
                    ("uploadId", upload_id),
                ]);
                let resp = self
                    .expect(
                        Method::PUT,
                        path,
                        &q,
                        &[],
                        ReqBody::Object(payload.range(obj, start, end)),
                        &[StatusCode::OK],
                    )
                    .await?;
                let etag = resp
                    .headers()
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .ok_or_else(|| format!("PUT {path} part {pn}: no ETag"))?;
                drain(resp.into_body()).await?;
                Ok::<_, String>((pn, etag))
            })
            .buffer_unordered(conc.max(1))
            .try_collect()
            .await?;
        etags.sort_unstable();
        let mut xml = String::with_capacity(64 + etags.len() * 96);
        xml.push_str("<CompleteMultipartUpload>");
        for (pn, etag) in &etags {
            xml.push_str(&format!(
                "<Part><PartNumber>{pn}</PartNumber><ETag>{}</ETag></Part>",
                xml_escape(etag)
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let q = sigv4::canonical_query(&[("uploadId", upload_id)]);
        let resp = self
            .expect(
                Method::POST,
                path,
                &q,
                &[("content-type", "application/xml".to_string())],
                ReqBody::Full(Some(Bytes::from(xml))),
                &[StatusCode::OK],
            )
            .await?;
        // CompleteMultipartUpload may fail with 200 and an <Error> body.
        let text = read_text(resp).await?;
        if text.contains("<Error>") {
            return Err(format!("POST {path}?uploadId: {}", summarize_error(&text)));
        }
        Ok(size)
    }

    /// A GET of the bucket with the query `pairs` (a listing): its body as text.
    async fn bucket_get(&self, pairs: &[(&str, &str)]) -> OpResult<String> {
        let q = sigv4::canonical_query(pairs);
        let path = sigv4::bucket_path(&self.bucket);
        let resp = self
            .expect(
                Method::GET,
                &path,
                &q,
                &[],
                ReqBody::Empty,
                &[StatusCode::OK],
            )
            .await?;
        read_text(resp).await
    }

    /// One ListObjectsV2 page. Returns the page with, when `parse_keys`, its keys
    /// and sizes (else only their count).
    pub async fn list_page(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        token: Option<&str>,
        max_keys: u32,
        parse_keys: bool,
    ) -> OpResult<ListPage> {
        let max = max_keys.to_string();
        let mut pairs: Vec<(&str, &str)> =
            vec![("list-type", "2"), ("prefix", prefix), ("max-keys", &max)];
        if let Some(s) = start_after {
            pairs.push(("start-after", s));
        }
        if let Some(t) = token {
            pairs.push(("continuation-token", t));
        }
        let text = self.bucket_get(&pairs).await?;
        let mut page = ListPage {
            bytes: text.len() as u64,
            ..ListPage::default()
        };
        let mut rest = text.as_str();
        while let Some(i) = rest.find("<Contents>") {
            let end = rest[i..]
                .find("</Contents>")
                .map(|j| i + j)
                .ok_or("ListObjectsV2: unterminated <Contents>")?;
            page.count += 1;
            if parse_keys {
                let item = &rest[i..end];
                let key = xml_tag(item, "Key").map(xml_unescape).unwrap_or_default();
                let size = xml_tag(item, "Size")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                page.keys.push((key, size));
            }
            rest = &rest[end..];
        }
        if xml_tag(&text, "IsTruncated") == Some("true") {
            page.next = xml_tag(&text, "NextContinuationToken").map(xml_unescape);
        }
        Ok(page)
    }

    /// One ListObjectVersions page after `key_marker`: its entries (versions and
    /// delete markers) counted, not parsed.
    pub async fn list_versions_page(
        &self,
        prefix: &str,
        key_marker: Option<&str>,
        max_keys: u32,
    ) -> OpResult<ListPage> {
        let max = max_keys.to_string();
        let mut pairs: Vec<(&str, &str)> =
            vec![("versions", ""), ("prefix", prefix), ("max-keys", &max)];
        if let Some(m) = key_marker {
            pairs.push(("key-marker", m));
        }
        let text = self.bucket_get(&pairs).await?;
        Ok(ListPage {
            bytes: text.len() as u64,
            count: (text.matches("<Version>").count() + text.matches("<DeleteMarker>").count())
                as u64,
            ..ListPage::default()
        })
    }

    /// Every key under `prefix` with its size.
    pub async fn list_all(&self, prefix: &str) -> OpResult<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .list_page(prefix, None, token.as_deref(), 1000, true)
                .await?;
            out.extend(page.keys);
            match page.next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

/// A page of ListObjectsV2.
#[derive(Default)]
pub struct ListPage {
    /// Keys and sizes (when parsed).
    pub keys: Vec<(String, u64)>,
    /// Keys on the page.
    pub count: u64,
    /// The continuation token when the listing goes on.
    pub next: Option<String>,
    /// Size of the response body.
    pub bytes: u64,
}

/// Reads and discards a body; its length.
async fn drain(mut body: Incoming) -> OpResult<u64> {
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading body: {}", error_chain(&e)))?;
        if let Some(data) = frame.data_ref() {
            n += data.len() as u64;
        }
    }
    Ok(n)
}

async fn read_text(resp: http::Response<Incoming>) -> OpResult<String> {
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading body: {}", error_chain(&e)))?
        .to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// ": Code: Message" of an S3 error body, if it has one.
fn summarize_error(text: &str) -> String {
    match (xml_tag(text, "Code"), xml_tag(text, "Message")) {
        (Some(c), Some(m)) => format!(": {c}: {}", xml_unescape(m)),
        (Some(c), None) => format!(": {c}"),
        _ if text.trim().is_empty() => String::new(),
        _ => format!(": {}", text.chars().take(200).collect::<String>()),
    }
}

/// An error and its sources, ": "-separated.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn xml_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

pub fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let ent = &rest[1..end];
        let c = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn xml_helpers() {
        let x = "<R><UploadId>a&amp;b</UploadId><Code>NoSuchKey</Code></R>";
        assert_eq!(xml_tag(x, "UploadId"), Some("a&amp;b"));
        assert_eq!(xml_unescape("a&amp;b&lt;&#x41;&#66;&bogus"), "a&b<AB&bogus");
        assert_eq!(summarize_error(x), ": NoSuchKey");
        assert_eq!(xml_escape("\"e&\""), "\"e&amp;\"");
    }
}
