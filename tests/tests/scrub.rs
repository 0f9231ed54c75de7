#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]
//! Bit rot on a 3-node cluster (always a cluster): a chunk file with 4 bytes
//! flipped on one node, and a chunk file deleted on another, are found by the
//! background scrub within its interval and fetched again from a healthy
//! replica; reads return the right bytes throughout. With the scrub off, a
//! gateway that reads a corrupt copy reports it and the node repairs it. The
//! counts show in the nodes' `/metrics` and in `cairn cluster status`.

use std::time::{Duration, Instant};

use cairn_tests::rot::{chunk_path, first_reader, flip4, wait_content, wait_replicated};
use cairn_tests::*;

async fn metric(cluster: &Cluster, node: u64, name: &str) -> f64 {
    let m = cluster.node_metrics(node).await.expect("node metrics");
    m.get(name)
        .unwrap_or_else(|| panic!("node {node} has no {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scrub_repairs_flipped_and_deleted_chunks() {
    let interval = 3;
    let opts = ServerOpts::new().node_args(&[
        "--scrub-interval",
        &interval.to_string(),
        "--scrub-bandwidth",
        "0",
    ]);
    let cluster = Cluster::start(ClusterOpts::new().server(opts)).await;
    let c = cluster.client();
    create_bucket(&c, "rot").await;
    let a = payload(0xB17, 10 * MIB);
    let b = payload(0x0FF, 10 * MIB);
    put(&c, "rot", "a", a.clone()).await;
    put(&c, "rot", "b", b.clone()).await;
    let a_ids = chunk_ids_of(&a, DEFAULT_CHUNK);
    let b_ids = chunk_ids_of(&b, DEFAULT_CHUNK);
    wait_replicated(&cluster, &[a_ids.clone(), b_ids.clone()].concat()).await;

    // 4 bytes flipped in a chunk of `a` on a node that gateways do not read it
    // from first (so only the scrub can find it).
    let rotten = first_reader(&cluster, &a_ids[1]) % 3 + 1;
    let flipped = chunk_path(&cluster, rotten, &a_ids[1]);
    let good = a[DEFAULT_CHUNK..2 * DEFAULT_CHUNK].to_vec();
    flip4(&flipped);
    for _ in 0..3 {
        assert!(
            get_bytes(&c, "rot", "a").await == a,
            "a read returned bad bytes"
        );
    }
    let took = wait_content(
        &flipped,
        &good,
        Duration::from_secs(3 * interval + 10),
        "flipped chunk",
    )
    .await;
    println!("flipped chunk repaired {took:?} after the flip (interval {interval} s)");
    assert_eq!(
        metric(&cluster, rotten, "cairn_scrub_corrupt_found_total").await,
        1.0
    );
    assert!(metric(&cluster, rotten, "cairn_scrub_repaired_total").await >= 1.0);
    let quarantine = cluster
        .node_data_dir(rotten)
        .join("chunks")
        .join("quarantine");
    let aside: Vec<_> = std::fs::read_dir(&quarantine)
        .unwrap_or_else(|e| panic!("{}: {e}", quarantine.display()))
        .collect();
    assert_eq!(aside.len(), 1, "the bad copy is kept aside");

    // A chunk file of `b` deleted on another node.
    let lost = rotten % 3 + 1;
    let deleted = chunk_path(&cluster, lost, &b_ids[2]);
    std::fs::remove_file(&deleted).unwrap();
    let took = wait_content(
        &deleted,
        &b[2 * DEFAULT_CHUNK..],
        Duration::from_secs(3 * interval + 10),
        "deleted chunk",
    )
    .await;
    println!("deleted chunk restored {took:?} after the delete");
    assert!(metric(&cluster, lost, "cairn_scrub_missing_found_total").await >= 1.0);
    assert!(metric(&cluster, lost, "cairn_scrub_repaired_total").await >= 1.0);
    assert_eq!(get_bytes(&c, "rot", "b").await, b);

    // Passes keep running and verify what the node holds.
    let deadline = Instant::now() + Duration::from_secs(3 * interval + 10);
    while metric(&cluster, 1, "cairn_scrub_passes_total").await < 2.0 {
        assert!(
            Instant::now() < deadline,
            "node 1 finished fewer than 2 passes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let verified = metric(&cluster, 1, "cairn_scrub_chunks_verified_total").await;
    assert!(verified >= 12.0, "node 1 verified {verified} chunks");
    assert!(metric(&cluster, 1, "cairn_scrub_last_pass_timestamp_seconds").await > 0.0);
    assert_eq!(
        metric(&cluster, 1, "cairn_scrub_unrepaired_chunks").await,
        0.0
    );

    // `cluster status`: the SCRUB section, and the counts in its JSON.
    let text = cluster.status().await;
    assert!(text.contains("SCRUB"), "no scrub section:\n{text}");
    println!("{text}");
    let out = cluster
        .cli_async(&["cluster", "status", "--json"], Duration::from_secs(60))
        .await;
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node = |id: u64| {
        json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .unwrap()["scrub"]
            .clone()
    };
    assert!(
        node(rotten)["corrupt_found"].as_u64().unwrap() >= 1,
        "{json}"
    );
    assert!(node(rotten)["repaired"].as_u64().unwrap() >= 1, "{json}");
    assert!(node(lost)["missing_found"].as_u64().unwrap() >= 1, "{json}");
    assert!(node(1)["passes"].as_u64().unwrap() >= 2, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_of_a_corrupt_copy_gets_it_repaired() {
    // The scrub is off: only the read path can notice.
    let opts = ServerOpts::new().node_args(&["--scrub-interval", "0"]);
    let cluster = Cluster::start(ClusterOpts::new().server(opts)).await;
    let c = cluster.client();
    create_bucket(&c, "readrot").await;
    let data = payload(0xAB, 6 * MIB);
    put(&c, "readrot", "x", data.clone()).await;
    let ids = chunk_ids_of(&data, DEFAULT_CHUNK);
    wait_replicated(&cluster, &ids).await;

    let target = first_reader(&cluster, &ids[0]);
    let path = chunk_path(&cluster, target, &ids[0]);
    flip4(&path);
    assert!(
        get_bytes(&c, "readrot", "x").await == data,
        "the read returned bad bytes"
    );
    let took = wait_content(
        &path,
        &data[..DEFAULT_CHUNK],
        Duration::from_secs(20),
        "corrupt copy read by the gateway",
    )
    .await;
    println!("node {target}'s corrupt copy repaired {took:?} after the read");
    assert_eq!(
        metric(&cluster, target, "cairn_scrub_corrupt_found_total").await,
        1.0
    );
    assert_eq!(
        metric(&cluster, target, "cairn_scrub_passes_total").await,
        0.0
    );

    // Every copy of the chunk corrupt: the read fails, it never returns bad bytes.
    for id in cluster.node_ids() {
        flip4(&chunk_path(&cluster, id, &ids[1]));
    }
    let started = Instant::now();
    let resp = c.get_object().bucket("readrot").key("x").send().await;
    match resp {
        Err(e) => println!("GET with every copy corrupt failed: {}", describe(&e)),
        Ok(r) => {
            let body = r.body.collect().await;
            assert!(
                body.is_err(),
                "a GET with every copy of a chunk corrupt returned a whole body"
            );
        }
    }
    println!(
        "GET with every copy corrupt ended after {:?}",
        started.elapsed()
    );
}
