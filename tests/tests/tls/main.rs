#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]
//! TLS, with real processes and real clients: `cairn server` over HTTPS with a
//! certificate of a test CA (aws-sdk-s3 and the admin API through it; plain HTTP
//! and clients not trusting the CA get nowhere), `--tls-self-signed` (the printed
//! fingerprint is the served certificate's, the same after a restart), SIGHUP
//! swapping the certificate (a bad file keeps the old one), and in `cluster` a
//! 3-node cluster with mutual TLS.

mod cluster;

use cairn_tests::tls::{
    fingerprint, https_client, s3_client, served_fingerprint, TestCa, TlsServer,
};
use cairn_tests::*;
use std::time::{Duration, Instant};

/// The fingerprint the start-up output printed last.
fn printed_fingerprint(log: &str) -> String {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("SHA-256 fingerprint"))
        .unwrap_or_else(|| panic!("no fingerprint printed:\n{log}"));
    let at = line.find("fingerprint ").unwrap() + "fingerprint ".len();
    line[at..].split(';').next().unwrap().trim().to_string()
}

fn cert_fingerprint(path: &std::path::Path) -> String {
    let der = cairn_node::tls::load_certs(path).unwrap();
    fingerprint(&der[0])
}

#[tokio::test]
async fn https_with_a_ca_signed_certificate() {
    let ca = TestCa::new("s3");
    let mut server = TlsServer::new();
    let pair = ca.issue(&server.dir, "server", &["127.0.0.1", "localhost"]);
    let (cert, key) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap());
    server.start(&["--tls-cert", cert, "--tls-key", key]).await;
    let log = server.log();
    assert!(
        log.contains(&format!("serving S3 at https://{}", server.addr)),
        "{log}"
    );
    assert_eq!(printed_fingerprint(&log), cert_fingerprint(&pair.cert));

    // aws-sdk-s3 trusting the test CA: the usual round trip.
    let client = s3_client(&server.endpoint(), &ca.cert_pem);
    create_bucket(&client, "tls-bucket").await;
    let data = payload(7, 3 * 1024 * 1024 + 17);
    put(&client, "tls-bucket", "big", data.clone()).await;
    assert_eq!(get_bytes(&client, "tls-bucket", "big").await, data);
    assert_eq!(
        list_keys(&client, "tls-bucket").await,
        vec!["big".to_string()]
    );

    // A client trusting another CA refuses the server; plain HTTP gets no answer.
    let other = TestCa::new("other");
    let refused = s3_client(&server.endpoint(), &other.cert_pem)
        .list_buckets()
        .send()
        .await;
    assert!(refused.is_err(), "a client of another CA was served");
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://{}/health", server.addr))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");

    // The admin API serves HTTPS with the same certificate.
    let admin = https_client(&ca.cert_pem, None)
        .get(format!("https://{}/v1/keys", server.admin_addr))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    assert!(
        log.contains(&format!("admin API at https://{}", server.admin_addr)),
        "{log}"
    );
}

#[tokio::test]
async fn self_signed_fingerprint_is_printed_and_kept() {
    let mut server = TlsServer::new();
    server.start(&["--tls-self-signed"]).await;
    let log = server.log();
    assert!(
        log.contains("Made a self-signed TLS certificate for"),
        "{log}"
    );
    for name in ["localhost", "127.0.0.1"] {
        assert!(log.contains(name), "{log}");
    }
    let printed = printed_fingerprint(&log);
    assert_eq!(printed.len(), 32 * 3 - 1, "{printed}");
    assert_eq!(served_fingerprint(server.addr).await.unwrap(), printed);
    let key = server.data_dir.join("tls/self-signed.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // The certificate is reused on restart: the pinned fingerprint stays valid.
    server.stop();
    server.start(&["--tls-self-signed"]).await;
    let log = server.log();
    assert_eq!(printed_fingerprint(&log), printed);
    assert_eq!(served_fingerprint(server.addr).await.unwrap(), printed);
    assert_eq!(log.matches("Made a self-signed").count(), 1, "{log}");

    // An S3 client pinning nothing but that certificate works.
    let cert = std::fs::read_to_string(server.data_dir.join("tls/self-signed.crt")).unwrap();
    let client = s3_client(&server.endpoint(), &cert);
    create_bucket(&client, "pinned").await;
    put(&client, "pinned", "k", b"v".to_vec()).await;
    assert_eq!(get_bytes(&client, "pinned", "k").await, b"v");
}

fn sighup(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP failed");
}

/// Waits until a new connection is served the certificate `want`.
async fn wait_served(server: &TlsServer, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = served_fingerprint(server.addr).await.unwrap();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still served {got}, want {want}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sighup_swaps_the_certificate() {
    let ca = TestCa::new("reload");
    let mut server = TlsServer::new();
    let first = ca.issue(&server.dir, "first", &["127.0.0.1"]);
    let (cert, key) = (first.cert.clone(), first.key.clone());
    server
        .start(&[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .await;
    let old = cert_fingerprint(&cert);
    assert_eq!(served_fingerprint(server.addr).await.unwrap(), old);

    // A connection opened before the swap keeps working after it.
    let client = s3_client(&server.endpoint(), &ca.cert_pem);
    create_bucket(&client, "reload").await;

    // New files in place, SIGHUP: new connections see the new certificate.
    let second = ca.issue(&server.dir, "second", &["127.0.0.1"]);
    std::fs::copy(&second.cert, &cert).unwrap();
    std::fs::copy(&second.key, &key).unwrap();
    let new = cert_fingerprint(&cert);
    assert_ne!(old, new);
    sighup(server.pid());
    wait_served(&server, &new).await;
    put(&client, "reload", "after", b"x".to_vec()).await;

    // A broken file: the server keeps the certificate it has and says why.
    std::fs::write(&cert, "not a certificate").unwrap();
    sighup(server.pid());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains("TLS certificate not reloaded") {
        assert!(
            Instant::now() < deadline,
            "no reload error logged\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.is_running());
    assert_eq!(served_fingerprint(server.addr).await.unwrap(), new);
    assert_eq!(get_bytes(&client, "reload", "after").await, b"x");
}

/// Over HTTPS `aws:SecureTransport` is true, for requests to the S3 listener and
/// for those the console forwards to it (the console's `/s3/` proxy speaks TLS to
/// its own listener): a policy that denies everything not sent over TLS leaves the
/// owner working, and one that opens anonymous reads only over TLS opens them.
#[tokio::test]
async fn secure_transport_is_true_over_https_and_through_the_console() {
    let ca = TestCa::new("secure");
    let mut server = TlsServer::new();
    let pair = ca.issue(&server.dir, "server", &["127.0.0.1", "localhost"]);
    let console = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    server
        .start(&[
            "--tls-cert",
            pair.cert.to_str().unwrap(),
            "--tls-key",
            pair.key.to_str().unwrap(),
            "--console-listen",
            &console.to_string(),
        ])
        .await;
    let client = s3_client(&server.endpoint(), &ca.cert_pem);
    create_bucket(&client, "secure").await;
    put(&client, "secure", "k", b"over tls".to_vec()).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"TlsOnly","Effect":"Deny","Principal":"*","Action":"s3:*",
         "Resource":["arn:aws:s3:::secure","arn:aws:s3:::secure/*"],
         "Condition":{"Bool":{"aws:SecureTransport":"false"}}},
        {"Sid":"AnonOverTls","Effect":"Allow","Principal":"*","Action":"s3:GetObject",
         "Resource":"arn:aws:s3:::secure/*",
         "Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;
    client
        .put_bucket_policy()
        .bucket("secure")
        .policy(policy)
        .send()
        .await
        .unwrap();
    // The owner is not denied: the request came over TLS.
    assert_eq!(get_bytes(&client, "secure", "k").await, b"over tls");
    put(&client, "secure", "k2", b"still".to_vec()).await;

    let https = https_client(&ca.cert_pem, None);
    let anon = https
        .get(format!("{}/secure/k", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 200, "anonymous GET over HTTPS");
    assert_eq!(anon.bytes().await.unwrap().as_ref(), b"over tls");

    // The console serves HTTPS too, and its proxy reaches the S3 listener over TLS.
    let via_console = https
        .get(format!("https://{console}/s3/secure/k2"))
        .send()
        .await
        .unwrap();
    assert_eq!(via_console.status(), 200, "{}", server.log());
    assert_eq!(via_console.bytes().await.unwrap().as_ref(), b"still");
    let listing = https
        .get(format!("https://{console}/s3/secure"))
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 403, "anonymous listing is not opened");
}
