#![allow(clippy::unwrap_used)]
//! Connection framing and transport-level checks, with raw sockets where the SDK
//! cannot say what we need: a request refused before its body was read leaves the
//! connection either intact (the announced body read and discarded) or closed —
//! never with the body's bytes taken as the next request; a request with two auth
//! mechanisms, a presigned URL valid longer than a week and a credential scope of
//! another region are refused as AWS refuses them; PutObject with a plain chunked
//! body (no Content-Length) streams.

use std::time::Duration;

use cairn_tests::*;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// A raw HTTP/1.1 connection with a read buffer.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub async fn open(server: &Server) -> RawConn {
        RawConn {
            stream: TcpStream::connect(server.addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads more bytes; false at EOF, on a reset or after `wait`.
    async fn fill(&mut self, wait: Duration) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// The next final response (1xx responses are skipped), or `None` when the
    /// connection ends (or nothing comes within `wait`).
    pub async fn response(&mut self, wait: Duration) -> Option<RawResponse> {
        loop {
            let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                if !self.fill(wait).await {
                    return None;
                }
                continue;
            };
            let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
            let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
            let mut resp = RawResponse {
                status,
                head,
                body: String::new(),
            };
            if (100..200).contains(&status) {
                self.buf.drain(..end + 4);
                continue;
            }
            let len: usize = resp
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while self.buf.len() < end + 4 + len {
                if !self.fill(wait).await {
                    return None;
                }
            }
            resp.body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).to_string();
            self.buf.drain(..end + 4 + len);
            return Some(resp);
        }
    }

    /// A `100 Continue` arrives within `wait` (and is consumed).
    pub async fn got_continue(&mut self, wait: Duration) -> bool {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let is_continue = self.buf.starts_with(b"HTTP/1.1 100");
                if is_continue {
                    self.buf.drain(..end + 4);
                }
                return is_continue;
            }
            if !self.fill(wait).await {
                return false;
            }
        }
    }

    /// The server closes the connection within `wait` (what it still sends is
    /// returned).
    pub async fn closed_within(&mut self, wait: Duration) -> Result<Vec<u8>, Vec<u8>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(std::mem::take(&mut self.buf)),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return Err(std::mem::take(&mut self.buf)),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A signed request head (no body), with `extra` headers and `Host`.
pub fn signed_head(server: &Server, method: &str, path: &str, extra: &[(&str, &str)]) -> String {
    let url = server.url(path.trim_start_matches('/'));
    let signed = sign_request(method, &url, extra, PayloadMode::Unsigned);
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", server.addr);
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in signed {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n";

fn long_key_path() -> String {
    format!("/framing/{}", "k".repeat(1025))
}

async fn framing_server() -> Server {
    let server = Server::start_default().await;
    create_bucket(&server.client(), "framing").await;
    server
}

/// The client waits for `100 Continue`; the refusal comes first and none went
/// out, so the connection closes: what the client sends next is never read as the
/// refused body.
#[tokio::test]
async fn refused_expect_continue_put_closes_when_client_waits() {
    let server = framing_server().await;
    for framing in [("content-length", "1"), ("transfer-encoding", "chunked")] {
        let mut conn = RawConn::open(&server).await;
        let head = signed_head(
            &server,
            "PUT",
            &long_key_path(),
            &[framing, ("expect", "100-continue")],
        );
        conn.send(head.as_bytes()).await.unwrap();
        let resp = conn.response(Duration::from_secs(10)).await.unwrap();
        assert_eq!(resp.status, 400, "{framing:?}: {resp:?}");
        assert_eq!(xml_code(&resp.body).as_deref(), Some("KeyTooLongError"));
        assert_eq!(
            resp.header("connection").as_deref(),
            Some("close"),
            "{framing:?}: {resp:?}"
        );
        // The next request on the connection is not served as the refused body.
        let _ = conn.send(HEALTH).await;
        let rest = conn.closed_within(Duration::from_secs(10)).await;
        let rest = rest.unwrap_or_else(|b| panic!("{framing:?}: not closed; got {b:?}"));
        let text = String::from_utf8_lossy(&rest);
        assert!(!text.contains("501"), "{framing:?}: {text}");
    }
}

/// The client sends the body without waiting (with or without `Expect`), then its
/// next request at once: either the announced body is read and the next request
/// answered, or the connection closes — never a misread next request.
#[tokio::test]
async fn refused_put_with_body_sent_keeps_framing() {
    let server = framing_server().await;
    let body = vec![b'x'; 1000];
    let chunked = {
        let mut c = format!("{:x}\r\n", body.len()).into_bytes();
        c.extend_from_slice(&body);
        c.extend_from_slice(b"\r\n0\r\n\r\n");
        c
    };
    let len = body.len().to_string();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8]);
    let cases: Vec<Case> = vec![
        ("fixed", vec![("content-length", len.as_str())], &body),
        (
            "fixed+expect",
            vec![("content-length", len.as_str()), ("expect", "100-continue")],
            &body,
        ),
        ("chunked", vec![("transfer-encoding", "chunked")], &chunked),
        (
            "chunked+expect",
            vec![("transfer-encoding", "chunked"), ("expect", "100-continue")],
            &chunked,
        ),
    ];
    for (name, headers, payload) in cases {
        let mut conn = RawConn::open(&server).await;
        let mut bytes = signed_head(&server, "PUT", &long_key_path(), &headers).into_bytes();
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(HEALTH);
        conn.send(&bytes).await.unwrap();
        let resp = conn.response(Duration::from_secs(10)).await.unwrap();
        assert_eq!(resp.status, 400, "{name}: {resp:?}");
        assert_eq!(xml_code(&resp.body).as_deref(), Some("KeyTooLongError"));
        let closes = resp.header("connection").as_deref() == Some("close");
        match conn.response(Duration::from_secs(10)).await {
            Some(next) => {
                assert!(!closes, "{name}: answered after Connection: close");
                assert_eq!(next.status, 200, "{name}: {next:?}");
                assert_eq!(next.body, "ok", "{name}");
            }
            None => assert!(closes, "{name}: closed without saying so"),
        }
    }
    // A fixed-length body sent right away is read to its end: the connection stays.
    let mut conn = RawConn::open(&server).await;
    let mut bytes = signed_head(
        &server,
        "PUT",
        &long_key_path(),
        &[("content-length", &len)],
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(HEALTH);
    conn.send(&bytes).await.unwrap();
    assert_eq!(
        conn.response(Duration::from_secs(10)).await.unwrap().status,
        400
    );
    let next = conn.response(Duration::from_secs(10)).await.unwrap();
    assert_eq!((next.status, next.body.as_str()), (200, "ok"));
}

/// A successful PUT with `Expect: 100-continue` gets its `100 Continue`, and the
/// connection serves the next request.
#[tokio::test]
async fn accepted_expect_continue_put_keeps_connection() {
    let server = framing_server().await;
    let mut conn = RawConn::open(&server).await;
    let head = signed_head(
        &server,
        "PUT",
        "/framing/ok",
        &[("content-length", "5"), ("expect", "100-continue")],
    );
    conn.send(head.as_bytes()).await.unwrap();
    assert!(conn.got_continue(Duration::from_secs(10)).await);
    conn.send(b"hello").await.unwrap();
    let resp = conn.response(Duration::from_secs(10)).await.unwrap();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_ne!(resp.header("connection").as_deref(), Some("close"));
    conn.send(HEALTH).await.unwrap();
    let next = conn.response(Duration::from_secs(10)).await.unwrap();
    assert_eq!((next.status, next.body.as_str()), (200, "ok"));
    assert_eq!(get_bytes(&server.client(), "framing", "ok").await, b"hello");
}

/// Query-string auth and an `Authorization` header together: 400 InvalidArgument.
#[tokio::test]
async fn two_auth_mechanisms_refused() {
    use aws_sdk_s3::presigning::PresigningConfig;
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "auth2").await;
    put(&c, "auth2", "k", "secret bytes").await;
    let presigned = c
        .get_object()
        .bucket("auth2")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let url = presigned.uri().to_string();
    // The presigned URL alone works.
    let ok = server.http().get(&url).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let mut rb = server.http().get(&url);
    for (k, v) in sign_request("GET", &url, &[], PayloadMode::Unsigned) {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("InvalidArgument"),
        "{text}"
    );
    assert!(text.contains("Only one auth mechanism allowed"), "{text}");
}

/// A presigned URL signed (correctly) for more than 7 days is refused.
#[tokio::test]
async fn presigned_url_longer_than_a_week_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "week").await;
    put(&c, "week", "k", "data").await;
    let url = server.url("week/k");
    let week = presign_url("GET", &url, Duration::from_secs(604_800), REGION);
    let resp = server.http().get(&week).send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap()
    );
    let longer = presign_url("GET", &url, Duration::from_secs(604_801), REGION);
    let resp = server.http().get(&longer).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("AuthorizationQueryParametersError"),
        "{text}"
    );
    assert!(text.contains("604800"), "{text}");
}

/// A credential scope naming another region than the server's is refused, naming
/// the expected one (header auth and presigned).
#[tokio::test]
async fn credential_scope_of_another_region_refused() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "regions").await;
    let other = aws_sdk_s3::Client::from_conf(
        server
            .config_builder(ACCESS_KEY, SECRET_KEY)
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    );
    let err = other
        .list_objects_v2()
        .bucket("regions")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&err), "AuthorizationHeaderMalformed", "{err:?}");
    assert_eq!(err_status(&err), 400);
    let msg = err
        .as_service_error()
        .and_then(|e| aws_sdk_s3::error::ProvideErrorMetadata::message(e).map(str::to_string));
    assert!(
        msg.as_deref()
            .is_some_and(|m| m.contains("expecting 'us-east-1'")),
        "{msg:?}"
    );
    let url = presign_url(
        "GET",
        &server.url("regions"),
        Duration::from_secs(60),
        "eu-west-1",
    );
    let resp = server.http().get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("AuthorizationQueryParametersError"),
        "{text}"
    );
    assert!(text.contains("expecting &apos;us-east-1&apos;"), "{text}");
    // The right region still works.
    c.list_objects_v2().bucket("regions").send().await.unwrap();
}

/// A PutObject with `Transfer-Encoding: chunked` and no Content-Length (not
/// aws-chunked) streams into an object, signed with UNSIGNED-PAYLOAD or with the
/// body's SHA-256; a wrong SHA-256 stores nothing.
#[tokio::test]
async fn put_object_with_plain_chunked_body() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "plain").await;
    let data = payload(7, 3 * MIB + 12_345);
    let sha = hex::encode(Sha256::digest(&data));
    for (key, mode) in [("unsigned", None), ("hashed", Some(sha.as_str()))] {
        let (status, text) = put_streaming(&server, &format!("plain/{key}"), &data, mode).await;
        assert_eq!(status, 200, "{key}: {text}");
        assert_eq!(get_bytes(&c, "plain", key).await, data, "{key}");
    }
    let wrong = hex::encode(Sha256::digest(b"something else"));
    let (status, text) = put_streaming(&server, "plain/wrong", &data, Some(&wrong)).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("XAmzContentSHA256Mismatch"),
        "{text}"
    );
    let keys = list_keys(&c, "plain").await;
    assert_eq!(keys, vec!["hashed".to_string(), "unsigned".to_string()]);
}

/// PUTs `data` as a plain chunked body (no Content-Length), over a raw socket.
async fn put_streaming(
    server: &Server,
    path: &str,
    data: &[u8],
    sha256: Option<&str>,
) -> (u16, String) {
    let url = server.url(path);
    let mode = match sha256 {
        Some(sha) => PayloadMode::Precomputed(sha),
        None => PayloadMode::Unsigned,
    };
    let extra = [("transfer-encoding", "chunked")];
    let signed = sign_request("PUT", &url, &extra, mode);
    let mut head = format!(
        "PUT /{path} HTTP/1.1\r\nhost: {}\r\ntransfer-encoding: chunked\r\n",
        server.addr
    );
    for (k, v) in signed {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut conn = RawConn::open(server).await;
    conn.send(head.as_bytes()).await.unwrap();
    for piece in data.chunks(256 * 1024) {
        let mut bytes = format!("{:x}\r\n", piece.len()).into_bytes();
        bytes.extend_from_slice(piece);
        bytes.extend_from_slice(b"\r\n");
        conn.send(&bytes).await.unwrap();
    }
    conn.send(b"0\r\n\r\n").await.unwrap();
    let resp = conn.response(Duration::from_secs(30)).await.unwrap();
    (resp.status, resp.body)
}
