//! A 3-node cluster and a gateway with mutual TLS (`cairn cluster certs`), node 1
//! behind a recording relay: PUT/GET work, `cluster status` works, the relay saw
//! traffic but neither the cluster secret nor the object's bytes; a process whose
//! certificate another CA signed is refused, and both sides log it as that.

use cairn_tests::tls::{contains, https_client, TestCa};
use cairn_tests::*;
use std::time::{Duration, Instant};

/// Waits until `path`'s text contains `what`.
async fn wait_log(path: &std::path::Path, what: &str, cluster: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(what) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never logged {what:?}\n{}",
            path.display(),
            cluster.log_tail(64 * 1024)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn mutual_tls_cluster_hides_secret_and_data() {
    let cluster = Cluster::start(ClusterOpts::new().tls().relay(1)).await;
    let client = cluster.client();
    create_bucket(&client, "mtls").await;
    // A payload no TLS record could contain by chance, over several chunks.
    let mut data = Vec::new();
    while data.len() < 6 * 1024 * 1024 {
        data.extend_from_slice(b"CAIRN-PLAINTEXT-MARKER-0123456789/");
    }
    put(&client, "mtls", "secret-object", data.clone()).await;
    assert_eq!(get_bytes(&client, "mtls", "secret-object").await, data);
    let small = b"small-inline-object-CAIRN-PLAINTEXT-MARKER".to_vec();
    put(&client, "mtls", "small", small.clone()).await;
    assert_eq!(get_bytes(&client, "mtls", "small").await, small);
    let status = cluster.status().await;
    assert!(status.contains("up"), "{status}");

    let seen = cluster.relay().expect("relay").recorded();
    assert!(
        seen.len() > data.len(),
        "the relay saw only {} bytes",
        seen.len()
    );
    assert!(
        !contains(&seen, cluster.secret().as_bytes()),
        "the cluster secret crossed in clear"
    );
    assert!(
        !contains(&seen, b"CAIRN-PLAINTEXT-MARKER"),
        "object bytes crossed in clear"
    );
    assert!(
        !contains(&seen, b"x-cairn-secret"),
        "an HTTP header crossed in clear"
    );

    // A client with a certificate of another CA: the handshake fails, the node says why.
    let other = TestCa::new("intruder");
    let intruder = other.issue(cluster.root(), "intruder", &["intruder"]);
    let ca = std::fs::read_to_string(cluster.tls_ca().unwrap()).unwrap();
    let refused = https_client(&ca, Some(&intruder))
        .post(format!("{}/rpc", cluster.node_url(2)))
        .header("x-cairn-secret", cluster.secret())
        .body(vec![0u8; 8])
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a foreign certificate was served: {refused:?}"
    );
    let node2_log = cluster.root().join("node2.log");
    wait_log(
        &node2_log,
        "refused a TLS connection: its certificate is not signed by the cluster CA",
        &cluster,
    )
    .await;

    // Without a certificate: /health answers, internal requests are refused.
    let anonymous = https_client(&ca, None);
    let health = anonymous
        .get(format!("{}/health", cluster.node_url(3)))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let rpc = anonymous
        .post(format!("{}/rpc", cluster.node_url(3)))
        .header("x-cairn-secret", cluster.secret())
        .body(vec![0u8; 8])
        .send()
        .await
        .unwrap();
    assert_eq!(rpc.status(), 403);
    assert!(rpc
        .text()
        .await
        .unwrap()
        .starts_with("no client certificate"));

    // A gateway whose certificate another CA signed: refused, logged on both sides.
    let foreign = cluster.root().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    let pair = other.issue(&foreign, "gateway", &["cairn-gateway"]);
    let text = std::fs::read_to_string(cluster.config_path()).unwrap();
    let own = format!("cert = {:?}\nkey = {:?}\n", pair.cert, pair.key);
    let text = text.replacen("\n[tls]\n", &format!("\n[tls]\n{own}"), 1);
    let config = foreign.join("cluster.toml");
    std::fs::write(&config, text).unwrap();
    let log_path = foreign.join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut gateway = std::process::Command::new(cairn_bin())
        .arg("gateway")
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("NO_COLOR", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_log(
        &log_path,
        "refused this process's certificate: it is not signed by the cluster CA",
        &cluster,
    )
    .await;
    // Each node logs a refusal at most every 10 s: wait for a second one.
    let refusal = "refused a TLS connection: its certificate is not signed by the cluster CA";
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let logs: String = (1..=3)
            .map(|id| {
                std::fs::read_to_string(cluster.root().join(format!("node{id}.log"))).unwrap()
            })
            .collect();
        if logs.matches(refusal).count() >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes did not log the gateway's refusal\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = gateway.kill();
    let _ = gateway.wait();
}
