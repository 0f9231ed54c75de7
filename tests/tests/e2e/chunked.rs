#![allow(clippy::unwrap_used)]
//! Protocol-level upload tests the SDK cannot produce on its own:
//! unsigned aws-chunked bodies with trailing checksums (what SDKs send over
//! HTTPS), corrupted trailers, payload-hash mismatches and clients that
//! disconnect in the middle of an upload.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::ChecksumMode;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cairn_tests::*;
use tokio::io::AsyncWriteExt;

fn crc32_b64(data: &[u8]) -> String {
    B64.encode(
        (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32).to_be_bytes(),
    )
}

/// Send a signed `aws-chunked` PUT with an unsigned payload and a trailer.
async fn put_chunked_unsigned(
    server: &Server,
    path: &str,
    decoded_len: usize,
    encoded: Vec<u8>,
) -> (u16, String) {
    let url = server.url(path);
    let decoded = decoded_len.to_string();
    let extra = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ];
    let signed = sign_request("PUT", &url, &extra, PayloadMode::StreamingUnsignedTrailer);
    let mut rb = server.http().put(&url).body(encoded);
    for (k, v) in extra.iter() {
        rb = rb.header(*k, *v);
    }
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn unsigned_trailer_upload() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "raw").await;
    for (i, (size, chunk)) in [
        (0usize, 65_536usize),
        (1, 8192),
        (200_000, 65_536),
        (3 * MIB + 5, 1_000_000),
    ]
    .into_iter()
    .enumerate()
    {
        let data = payload(i as u64, size);
        let crc = crc32_b64(&data);
        let encoded = aws_chunked_unsigned(&data, chunk, &[("x-amz-checksum-crc32", &crc)]);
        let key = format!("obj{i}");
        let (status, text) =
            put_chunked_unsigned(&server, &format!("raw/{key}"), size, encoded).await;
        assert_eq!(
            status, 200,
            "unsigned aws-chunked PUT of {size} bytes: {text}"
        );
        let got = c
            .get_object()
            .bucket("raw")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(got.checksum_crc32(), Some(crc.as_str()), "stored CRC32");
        assert_eq!(got.e_tag(), Some(etag_of(&data).as_str()));
        assert_eq!(
            got.content_encoding(),
            None,
            "aws-chunked must not be stored as Content-Encoding"
        );
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(
            body.as_ref() == data.as_slice(),
            "{size} bytes: content differs"
        );
    }
}

#[tokio::test]
async fn unsigned_trailer_wrong_checksum_rejected() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "raw").await;
    let original = payload(1, 5000);
    put(&c, "raw", "existing", original.clone()).await;

    let data = payload(2, 2 * MIB + 10);
    let wrong = crc32_b64(b"something else");
    for key in ["existing", "new"] {
        let encoded = aws_chunked_unsigned(&data, 65_536, &[("x-amz-checksum-crc32", &wrong)]);
        let (status, text) =
            put_chunked_unsigned(&server, &format!("raw/{key}"), data.len(), encoded).await;
        assert_eq!(
            status, 400,
            "wrong trailing checksum accepted for {key}: {text}"
        );
        let code = xml_code(&text).unwrap_or_default();
        assert!(
            ["BadDigest", "InvalidRequest", "XAmzContentChecksumMismatch"].contains(&code.as_str()),
            "unexpected error code {code}: {text}"
        );
    }
    assert_eq!(
        get_bytes(&c, "raw", "existing").await,
        original,
        "old version damaged"
    );
    assert_eq!(
        list_keys(&c, "raw").await,
        vec!["existing"],
        "bad upload stored"
    );
}

async fn chunked_setup() -> (Server, aws_sdk_s3::Client, Vec<u8>, String) {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "raw").await;
    let data = payload(3, 100_000);
    let crc = crc32_b64(&data);
    (server, c, data, crc)
}

#[tokio::test]
async fn aws_chunked_decoded_length_mismatch_rejected() {
    let (server, c, data, crc) = chunked_setup().await;
    // x-amz-decoded-content-length larger than the data actually sent.
    let encoded = aws_chunked_unsigned(&data, 65_536, &[("x-amz-checksum-crc32", &crc)]);
    let (status, text) = put_chunked_unsigned(&server, "raw/a", data.len() + 1, encoded).await;
    if status == 200 {
        let head = c.head_object().bucket("raw").key("a").send().await.unwrap();
        panic!(
            "x-amz-decoded-content-length {} but {} bytes decoded: accepted (200), stored {:?} bytes",
            data.len() + 1,
            data.len(),
            head.content_length()
        );
    }
    assert!((400..500).contains(&status), "{status} {text}");
    assert!(
        list_keys(&c, "raw").await.is_empty(),
        "malformed upload stored"
    );
}

#[tokio::test]
async fn aws_chunked_bad_framing_rejected() {
    let (server, c, data, crc) = chunked_setup().await;
    // A chunk header announcing more bytes than follow.
    let mut bad = format!("{:x}\r\n", data.len() + 100).into_bytes();
    bad.extend_from_slice(&data);
    bad.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
    let (status, text) = put_chunked_unsigned(&server, "raw/b", data.len(), bad).await;
    assert!(
        (400..500).contains(&status),
        "bad chunk framing: {status} {text}"
    );
    // Garbage instead of a hex chunk size.
    let mut bad = b"zz\r\n".to_vec();
    bad.extend_from_slice(&data);
    let (status, text) = put_chunked_unsigned(&server, "raw/b2", data.len(), bad).await;
    assert!(
        (400..500).contains(&status),
        "non-hex chunk size: {status} {text}"
    );
    assert!(
        list_keys(&c, "raw").await.is_empty(),
        "malformed upload stored"
    );
}

#[tokio::test]
async fn aws_chunked_missing_final_chunk_rejected() {
    let (server, c, data, _) = chunked_setup().await;
    // Missing final zero-length chunk and trailer.
    let mut cut = format!("{:x}\r\n", data.len()).into_bytes();
    cut.extend_from_slice(&data);
    cut.extend_from_slice(b"\r\n");
    let (status, text) = put_chunked_unsigned(&server, "raw/c", data.len(), cut).await;
    assert!(
        (400..500).contains(&status),
        "missing final chunk: {status} {text}"
    );
    assert!(
        list_keys(&c, "raw").await.is_empty(),
        "malformed upload stored"
    );
}

#[tokio::test]
async fn aws_chunked_missing_declared_trailer_rejected() {
    let (server, c, data, _) = chunked_setup().await;
    // x-amz-trailer announces a checksum that never comes.
    let encoded = aws_chunked_unsigned(&data, 65_536, &[]);
    let (status, text) = put_chunked_unsigned(&server, "raw/d", data.len(), encoded).await;
    assert!(
        (400..500).contains(&status),
        "missing trailer: {status} {text}"
    );
    assert!(
        list_keys(&c, "raw").await.is_empty(),
        "upload without its trailer stored"
    );
}

#[tokio::test]
async fn payload_sha256_mismatch_rejected() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "raw").await;
    put(&c, "raw", "existing", b"original".to_vec()).await;

    let signed_body = payload(4, 10_000);
    let sent_body = payload(5, 10_000);
    for key in ["existing", "new"] {
        let url = server.url(&format!("raw/{key}"));
        let signed = sign_request("PUT", &url, &[], PayloadMode::Bytes(&signed_body));
        let mut rb = server.http().put(&url).body(sent_body.clone());
        for (k, v) in signed {
            rb = rb.header(k, v);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(
            status, 400,
            "body not matching x-amz-content-sha256 accepted: {text}"
        );
    }
    assert_eq!(get_bytes(&c, "raw", "existing").await, b"original");
    assert_eq!(list_keys(&c, "raw").await, vec!["existing"]);

    // Sanity: correctly signed raw PUTs (hashed and UNSIGNED-PAYLOAD) work.
    let url = server.url("raw/signed");
    let signed = sign_request("PUT", &url, &[], PayloadMode::Bytes(&sent_body));
    let mut rb = server.http().put(&url).body(sent_body.clone());
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    assert_eq!(rb.send().await.unwrap().status().as_u16(), 200);
    assert_eq!(get_bytes(&c, "raw", "signed").await, sent_body);
    let url = server.url("raw/unsigned");
    let signed = sign_request("PUT", &url, &[], PayloadMode::Unsigned);
    let mut rb = server.http().put(&url).body(sent_body.clone());
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    assert_eq!(rb.send().await.unwrap().status().as_u16(), 200);
    assert_eq!(get_bytes(&c, "raw", "unsigned").await, sent_body);
}

/// Write a request head declaring `declared_len` body bytes, send only `sent`,
/// then close the connection.
async fn send_truncated(
    server: &Server,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    declared_len: usize,
    sent: &[u8],
) {
    let path = url
        .strip_prefix(&server.endpoint())
        .expect("url on this server");
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {declared_len}\r\n",
        server.addr
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may already have answered and closed; ignore write errors.
    let _ = s.write_all(sent).await;
    let _ = s.flush().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s);
}

#[tokio::test]
async fn client_disconnect_mid_upload_stores_nothing() {
    let server = Server::start(ServerOpts::new().chunk_size(MIB)).await;
    let c = server.client();
    create_bucket(&c, "raw").await;
    let original = payload(6, 2 * MIB);
    put(&c, "raw", "existing", original.clone()).await;
    let data = payload(7, 3 * MIB);

    // Plain presigned PUT (UNSIGNED-PAYLOAD), cut after 1.5 MiB of 3 MiB.
    for key in ["existing", "new"] {
        let req = c
            .put_object()
            .bucket("raw")
            .key(key)
            .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
            .await
            .unwrap();
        send_truncated(
            &server,
            "PUT",
            req.uri(),
            &[],
            data.len(),
            &data[..3 * MIB / 2],
        )
        .await;
    }

    // aws-chunked with a trailer, cut in the middle of the chunk stream.
    let crc = crc32_b64(&data);
    let encoded = aws_chunked_unsigned(&data, 65_536, &[("x-amz-checksum-crc32", &crc)]);
    for key in ["existing", "chunked-new"] {
        let url = server.url(&format!("raw/{key}"));
        let decoded = data.len().to_string();
        let extra = [
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", decoded.as_str()),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ];
        let mut headers: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        headers.extend(sign_request(
            "PUT",
            &url,
            &extra,
            PayloadMode::StreamingUnsignedTrailer,
        ));
        send_truncated(
            &server,
            "PUT",
            &url,
            &headers,
            encoded.len(),
            &encoded[..encoded.len() / 2],
        )
        .await;
    }

    // Multipart part cut short.
    let id = c
        .create_multipart_upload()
        .bucket("raw")
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let req = c
        .upload_part()
        .bucket("raw")
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    send_truncated(&server, "PUT", req.uri(), &[], data.len(), &data[..MIB]).await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get_bytes(&c, "raw", "existing").await,
        original,
        "interrupted overwrite changed the object"
    );
    assert_eq!(
        list_keys(&c, "raw").await,
        vec!["existing"],
        "interrupted upload created an object"
    );
    let lp = c
        .list_parts()
        .bucket("raw")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert!(
        lp.parts().is_empty(),
        "interrupted part was recorded: {:?}",
        lp.parts()
    );

    // The server is still healthy and the same keys can be written completely.
    put(&c, "raw", "new", data.clone()).await;
    assert_eq!(get_bytes(&c, "raw", "new").await, data);
}

#[tokio::test]
async fn payload_sha256_mismatch_error_code() {
    // S3 answers a body that does not match x-amz-content-sha256 with
    // 400 XAmzContentSHA256Mismatch.
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "raw").await;
    let url = server.url("raw/k");
    let signed = sign_request("PUT", &url, &[], PayloadMode::Bytes(b"signed body"));
    let mut rb = server.http().put(&url).body(b"other body".to_vec());
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        xml_code(&text).as_deref(),
        Some("XAmzContentSHA256Mismatch"),
        "{text}"
    );
}
