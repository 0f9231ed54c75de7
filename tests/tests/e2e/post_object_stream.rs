//! POST object beyond the form itself: CORS headers on the answer, the
//! per-operation `/metrics` counting it, and a 200 MiB file streamed with the
//! server's memory staying flat.

use super::post_object::*;
use cairn_tests::*;
use serde_json::json;

#[tokio::test]
async fn post_object_carries_cors_headers() {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "forms").await;
    let rule = CorsRule::builder()
        .allowed_origins("https://shop.example")
        .allowed_methods("POST")
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket("forms")
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let fields = with(
        v4_fields(ACCESS_KEY, SECRET_KEY, "forms", vec![key_prefix("")], 600),
        &[("key", "cors.bin")],
    );
    let (status, headers, _) = post_form(&server, "forms", &fields, "f", b"c").await;
    assert_eq!(status, 204);
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn post_object_streams_200_mib_with_flat_memory() {
    use md5::Digest;
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "forms").await;
    let pid = server.pid().unwrap();
    // Warm up (first chunk writes, allocator arenas), then measure.
    let fields = with(
        v4_fields(
            ACCESS_KEY,
            SECRET_KEY,
            "forms",
            vec![key_prefix("big/")],
            600,
        ),
        &[("key", "big/warm.bin")],
    );
    let (status, _, _) = post_form(&server, "forms", &fields, "w", &payload(4, 16 * MIB)).await;
    assert_eq!(status, 204);
    let before = vm_rss_kib(pid);

    const TOTAL: usize = 200 * MIB;
    let piece = payload(5, MIB);
    let mut md5 = md5::Md5::new();
    for _ in 0..TOTAL / MIB {
        md5.update(&piece);
    }
    let expected = hex::encode(md5.finalize());
    let fields = with(
        v4_fields(
            ACCESS_KEY,
            SECRET_KEY,
            "forms",
            vec![
                key_prefix("big/"),
                json!(["content-length-range", 0, TOTAL]),
            ],
            600,
        ),
        &[("key", "big/200mib.bin")],
    );
    let head = bytes::Bytes::from(form_head(&fields, "big.bin"));
    let tail = bytes::Bytes::from(form_tail());
    let piece = bytes::Bytes::from(piece);
    let pieces = std::iter::once(head)
        .chain(std::iter::repeat_n(piece, TOTAL / MIB))
        .chain(std::iter::once(tail));
    let stream = futures::stream::iter(pieces.map(Ok::<_, std::io::Error>));
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(vm_rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };
    let resp = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .unwrap()
        .post(server.url("forms"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    sampler.abort();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(status, 204, "{}", resp.text().await.unwrap());
    assert_eq!(etag, Some(format!("\"{expected}\"")));
    let head = c
        .head_object()
        .bucket("forms")
        .key("big/200mib.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(TOTAL as i64));
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    let growth_mib = peak.saturating_sub(before) / 1024;
    println!(
        "server VmRSS before {} MiB, peak during the 200 MiB POST {} MiB (+{growth_mib} MiB)",
        before / 1024,
        peak / 1024
    );
    assert!(
        growth_mib < 100,
        "server memory grew by {growth_mib} MiB for a 200 MiB POST"
    );
}

/// The value of the `/metrics` line starting with `prefix`.
fn metric(page: &str, prefix: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn operations_are_counted_in_metrics() {
    let server = Server::start_default().await;
    let c = server.client();
    create_bucket(&c, "forms").await;
    put(&c, "forms", "put.bin", vec![7u8; 1000]).await;
    let _ = c.get_object().bucket("forms").key("missing").send().await;
    let fields = with(
        v4_fields(ACCESS_KEY, SECRET_KEY, "forms", vec![key_prefix("")], 600),
        &[("key", "posted.bin")],
    );
    let (status, _, _) = post_form(&server, "forms", &fields, "f", b"posted").await;
    assert_eq!(status, 204);
    let page = server
        .http()
        .get(server.url("metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let op = |op: &str, class: &str| {
        metric(
            &page,
            &format!("cairn_s3_operation_requests_total{{op=\"{op}\",status=\"{class}\"}}"),
        )
    };
    assert_eq!(op("PostObject", "2xx"), Some(1.0), "{page}");
    assert_eq!(op("PutObject", "2xx"), Some(1.0), "{page}");
    assert_eq!(op("GetObject", "4xx"), Some(1.0), "{page}");
    assert_eq!(op("CreateBucket", "2xx"), Some(1.0), "{page}");
    assert!(
        metric(
            &page,
            "cairn_s3_operation_received_bytes_total{op=\"PutObject\"}"
        )
        .unwrap()
            >= 1000.0
    );
    assert_eq!(
        metric(&page, "cairn_s3_operation_seconds_count{op=\"PutObject\"}"),
        Some(1.0)
    );
}
