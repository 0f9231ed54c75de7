#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]
//! A catalog follower that was down while the log moved past it catches up from
//! a snapshot: the leader's snapshot is a pinned view of its catalog, dumped
//! only while it streams (no snapshot file is kept), and the follower ends with
//! every row: it then leads and serves every listing and read. No node keeps a
//! catalog snapshot file.

use std::time::{Duration, Instant};

use cairn_tests::*;

const SNAPSHOT_LOGS: u64 = 50;
const OBJECTS: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_catalog_follower_behind_the_purged_log_catches_up_from_a_view() {
    let mut cluster = Cluster::start(ClusterOpts::new().placement_groups(2).raft(RaftTuning {
        snapshot_logs: Some(SNAPSHOT_LOGS),
        keep_logs: Some(10),
        ..RaftTuning::default()
    }))
    .await;
    let c = cluster.client();
    create_bucket(&c, "snap").await;
    let leader = cluster.wait_catalog_leader(Duration::from_secs(10)).await;
    let victim = cluster
        .node_ids()
        .into_iter()
        .find(|&n| n != leader)
        .unwrap();
    cluster.kill9_node(victim);

    // Inline objects: catalog entries only, many snapshots' worth of them.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..OBJECTS).step_by(8) {
                put(&c, "snap", &format!("k{i:04}"), payload(i as u64, 512)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let catalog = cluster
        .status_groups()
        .await
        .into_iter()
        .find(|g| g.name == "catalog")
        .unwrap();
    assert!(
        catalog.last_log > 4 * SNAPSHOT_LOGS,
        "only {} catalog entries: too few to purge past node {victim}",
        catalog.last_log
    );

    let start = Instant::now();
    cluster.start_node(victim).await;
    let took = cluster
        .wait_caught_up(victim, Duration::from_secs(60))
        .await;
    println!(
        "node {victim} caught up over {} catalog entries in {:.2} s",
        catalog.last_log,
        took.max(start.elapsed()).as_secs_f64()
    );
    let log = std::fs::read_to_string(cluster.node_log_path(victim)).unwrap();
    assert!(
        log.contains("snapshot installed"),
        "node {victim} caught up without installing a snapshot (the log was not purged?)"
    );

    // The leader's snapshot was never written as a file.
    for id in cluster.node_ids() {
        let dir = cluster.node_data_dir(id).join("snapshots/0");
        let files: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            files.is_empty(),
            "node {id}: catalog snapshot files {files:?}"
        );
    }

    // Stop the node that was up all along, write one more object (it needs the
    // follower), stop the old leader and bring the other back: the follower is
    // the only node with the last entry, so it must lead, and serve every row.
    let other = cluster
        .node_ids()
        .into_iter()
        .find(|&n| n != leader && n != victim)
        .unwrap();
    cluster.kill9_node(other);
    put(&c, "snap", "after", payload(7, 512)).await;
    cluster.kill9_node(leader);
    cluster.start_node(other).await;
    let new_leader = cluster.wait_catalog_leader(Duration::from_secs(30)).await;
    assert_eq!(new_leader, victim, "the caught-up follower leads");
    let keys = list_keys(&c, "snap").await;
    assert_eq!(
        keys.len(),
        OBJECTS + 1,
        "listing from the caught-up follower"
    );
    for i in [0usize, OBJECTS / 2, OBJECTS - 1] {
        assert_eq!(
            get_bytes(&c, "snap", &format!("k{i:04}")).await,
            payload(i as u64, 512)
        );
    }
}
