//! A node whose disk fills up from outside, then frees again, over the
//! simulated disk (a ballast takes its room): its Raft log meets `ENOSPC` (no
//! floor here, so nothing refuses the write first), poisons itself and stops
//! the node's groups; once the room is back the node reopens the log from disk
//! and restarts its groups by itself, without a process restart, and every
//! acknowledged write is still there.

use cairn_node::cluster::config::ClusterConfig;
use cairn_node::records::{BucketRecord, ObjectData, ObjectMeta, ObjectRecord};
use cairn_node::storage::disk::sim::SimDisk;
use cairn_node::storage::disk::Disk;
use cairn_node::{Node, NodeClient, NodeOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CAPACITY: u64 = 1 << 30;
const BUCKET: &str = "b";

fn cfg() -> ClusterConfig {
    let mut cfg = ClusterConfig::single_node("/sim/node1".into());
    cfg.raft.heartbeat_ms = 20;
    cfg.raft.election_min_ms = 60;
    cfg.raft.election_max_ms = 120;
    cfg
}

fn opts(disk: &Arc<SimDisk>) -> NodeOptions {
    NodeOptions {
        gc_grace: Duration::from_secs(3600),
        gc_interval: Duration::from_secs(3600),
        min_free: Some(0),
        drop_reply_keys: Vec::new(),
        lifecycle_interval: Duration::from_secs(3600),
        lifecycle_clock_offset_ms: 0,
        disk: Disk::Sim(disk.clone()),
        db_caches: Default::default(),
    }
}

fn record(data: &[u8]) -> ObjectRecord {
    ObjectRecord {
        size: data.len() as u64,
        etag: hex::encode(&blake3::hash(data).as_bytes()[..16]),
        last_modified_ms: cairn_node::now_ms(),
        meta: ObjectMeta::default(),
        checksums: Default::default(),
        part_sizes: Vec::new(),
        data: ObjectData::Inline(data.to_vec()),
    }
}

/// An inline PUT, given up after 2 s.
async fn put(c: &NodeClient, key: &str, data: &[u8]) -> Result<(), String> {
    let write = c.put_object(
        BUCKET.into(),
        key.into(),
        record(data),
        Default::default(),
        None,
    );
    match tokio::time::timeout(Duration::from_secs(2), write).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

async fn get(c: &NodeClient, key: &str) -> Option<Vec<u8>> {
    match c.get_object(BUCKET.into(), key.into()).await {
        Ok(rec) => match rec.data {
            ObjectData::Inline(b) => Some(b),
            ObjectData::Chunks(_) => None,
        },
        Err(_) => None,
    }
}

fn stopped_groups(node: &Node) -> usize {
    node.group_metrics()
        .iter()
        .filter(|(_, m)| m.running_state.is_err())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raft_log_recovers_from_a_full_disk_without_a_restart() {
    let sim = SimDisk::new(CAPACITY);
    let node = Node::start(cfg(), 1, opts(&sim))
        .await
        .expect("node starts");
    node.wait_for_catalog_leader(Duration::from_secs(20))
        .await
        .expect("catalog leader");
    let c = NodeClient::local(node.clone());
    let rec = BucketRecord {
        created_ms: cairn_node::now_ms(),
        location: "us-east-1".into(),
        ..BucketRecord::default()
    };
    c.create_bucket(BUCKET.into(), rec).await.expect("bucket");
    for i in 0..5 {
        put(&c, &format!("before{i}"), &[i; 3000])
            .await
            .expect("write before the disk fills");
    }

    // The disk fills from outside: writes fail, the log poisons itself.
    sim.set_ballast(CAPACITY);
    let filled = Instant::now();
    let mut refused = 0;
    while node.stores.log.failure().is_none() || stopped_groups(&node) == 0 {
        if put(&c, "during", &[9; 3000]).await.is_err() {
            refused += 1;
        }
        assert!(
            filled.elapsed() < Duration::from_secs(20),
            "the full disk did not stop the log (refused {refused} writes)"
        );
    }
    println!(
        "disk full: log failed ({}), {} groups stopped, {refused} writes refused",
        node.stores.log.failure().unwrap_or_default(),
        stopped_groups(&node)
    );

    // Room again: the node reopens the log and restarts its groups by itself.
    sim.set_ballast(0);
    let freed = Instant::now();
    loop {
        if put(&c, "after", b"after the space came back").await.is_ok() {
            break;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(45),
            "no write taken 45 s after the space came back (log: {:?}, {} groups stopped)",
            node.stores.log.failure(),
            stopped_groups(&node)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "writes taken again {:?} after the space came back ({} log reopenings)",
        freed.elapsed(),
        node.stores.log.reopens()
    );
    assert!(node.stores.log.reopens() >= 1);
    assert_eq!(node.stores.log.failure(), None);
    for i in 0..5 {
        assert_eq!(
            get(&c, &format!("before{i}")).await,
            Some(vec![i; 3000]),
            "acknowledged write before{i}"
        );
    }
    assert_eq!(
        get(&c, "after").await.as_deref(),
        Some(&b"after the space came back"[..])
    );
    let metrics = cairn_node::node::metrics::render_node_metrics(&node).await;
    assert!(
        metrics.contains("cairn_raft_log_reopens_total ")
            && !metrics.contains("cairn_raft_log_reopens_total 0\n"),
        "{metrics}"
    );
    node.shutdown().await;
}
