#![allow(clippy::unwrap_used)]
//! The S3 listener's limits, with short timeouts set by flags: idle keep-alive
//! connections and connections that never send are closed, a header sent a byte
//! at a time is dropped, a stalled PUT body fails and stores nothing, connections
//! over the cap are answered `503 SlowDown`.

use std::time::{Duration, Instant};

use super::transport::{signed_head, RawConn};
use cairn_tests::*;

fn limits(args: &[&str]) -> ServerOpts {
    let mut opts = ServerOpts::new();
    opts.extra_args = args.iter().map(|s| s.to_string()).collect();
    opts
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n";

/// A keep-alive connection idle after a response, and one that never sent a
/// byte, are closed after `--idle-timeout`; a busy connection is not.
#[tokio::test]
async fn idle_connections_closed_after_idle_timeout() {
    let server = Server::start(limits(&["--idle-timeout", "2", "--header-timeout", "10"])).await;
    let mut used = RawConn::open(&server).await;
    used.send(HEALTH).await.unwrap();
    let resp = used.response(Duration::from_secs(5)).await.unwrap();
    assert_eq!(resp.status, 200);
    let mut silent = RawConn::open(&server).await;
    let started = Instant::now();
    // Used every second for 4 s: stays open.
    let mut busy = RawConn::open(&server).await;
    for _ in 0..4 {
        busy.send(HEALTH).await.unwrap();
        assert_eq!(
            busy.response(Duration::from_secs(5)).await.unwrap().status,
            200
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    used.closed_within(Duration::from_secs(5))
        .await
        .expect("idle keep-alive connection closed");
    silent
        .closed_within(Duration::from_secs(5))
        .await
        .expect("silent connection closed");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

/// A header arriving a byte every 300 ms is dropped after `--header-timeout`,
/// while it is still incomplete (the idle timeout is longer).
#[tokio::test]
async fn slowloris_header_dropped() {
    let server = Server::start(limits(&["--header-timeout", "2", "--idle-timeout", "30"])).await;
    let mut conn = RawConn::open(&server).await;
    let header =
        b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let started = Instant::now();
    let mut dropped = false;
    for byte in header.iter().cycle().take(100) {
        if conn.send(&[*byte]).await.is_err() {
            dropped = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if !dropped {
        dropped = conn.closed_within(Duration::from_secs(1)).await.is_ok();
    }
    assert!(dropped, "slow header not dropped");
    assert!(started.elapsed() < Duration::from_secs(8));
    // The server still serves others.
    let mut other = RawConn::open(&server).await;
    other.send(HEALTH).await.unwrap();
    assert_eq!(
        other.response(Duration::from_secs(5)).await.unwrap().status,
        200
    );
}

/// A PUT announcing 5 MiB that sends 1 MiB and stalls fails after
/// `--body-idle-timeout` (400 RequestTimeout or a closed connection) and stores
/// nothing.
#[tokio::test]
async fn stalled_put_body_aborted() {
    let server = Server::start(
        limits(&["--body-idle-timeout", "2", "--idle-timeout", "30"]).chunk_size(MIB),
    )
    .await;
    let c = server.client();
    create_bucket(&c, "stall").await;
    let len = (5 * MIB).to_string();
    let mut conn = RawConn::open(&server).await;
    let head = signed_head(&server, "PUT", "/stall/obj", &[("content-length", &len)]);
    conn.send(head.as_bytes()).await.unwrap();
    conn.send(&vec![7u8; MIB]).await.unwrap();
    let started = Instant::now();
    if let Some(resp) = conn.response(Duration::from_secs(10)).await {
        assert_eq!(resp.status, 400, "{resp:?}");
        assert_eq!(xml_code(&resp.body).as_deref(), Some("RequestTimeout"));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(list_keys(&c, "stall").await.is_empty());
}

/// Past `--max-connections`, a new connection is answered 503 SlowDown and
/// closed; once one closes, connections are served again.
#[tokio::test]
async fn connection_cap_refuses_with_slow_down() {
    let server = Server::start(limits(&["--max-connections", "4", "--idle-timeout", "30"])).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut conn = RawConn::open(&server).await;
        conn.send(HEALTH).await.unwrap();
        assert_eq!(
            conn.response(Duration::from_secs(5)).await.unwrap().status,
            200
        );
        held.push(conn);
    }
    let mut over = RawConn::open(&server).await;
    let _ = over.send(HEALTH).await;
    let resp = over.response(Duration::from_secs(5)).await.unwrap();
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(xml_code(&resp.body).as_deref(), Some("SlowDown"));
    assert_eq!(resp.header("connection").as_deref(), Some("close"));
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut conn = RawConn::open(&server).await;
        let _ = conn.send(HEALTH).await;
        let status = conn
            .response(Duration::from_secs(5))
            .await
            .map(|r| r.status);
        if status == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "not served again: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
