//! Bit-rot helpers for cluster tests (tests/tests/scrub.rs, the fault suite): the
//! path of a chunk file on a node, flipping bytes in it, the node a gateway reads a
//! chunk from first, and waiting until chunks are on every node.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::reconfig::load_config;
use crate::{chunk_pg, Cluster};

/// Path of chunk `hex` in node `id`'s store.
pub fn chunk_path(cluster: &Cluster, id: u64, hex: &str) -> PathBuf {
    cluster
        .node_data_dir(id)
        .join("chunks")
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(hex)
}

/// Flips 4 bytes in the middle of a file.
pub fn flip4(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let at = bytes.len() / 2;
    for b in &mut bytes[at..at + 4] {
        *b ^= 0xA5;
    }
    std::fs::write(path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Waits until every chunk of `ids` is on all three nodes.
pub async fn wait_replicated(cluster: &Cluster, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let holders = cluster.chunk_holders();
        if ids
            .iter()
            .all(|id| holders.get(id).is_some_and(|h| h.len() == 3))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "chunks not replicated: {holders:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (up to `limit`) until `path` holds exactly `want`; the time it took.
pub async fn wait_content(path: &Path, want: &[u8], limit: Duration, what: &str) -> Duration {
    let start = Instant::now();
    loop {
        if std::fs::read(path).is_ok_and(|b| b == want) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{what}: {} not repaired within {limit:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node a gateway reads chunk `hex` from first (see `NodeClient::get_chunk`).
pub fn first_reader(cluster: &Cluster, hex: &str) -> u64 {
    let cfg = load_config(cluster.config_path());
    let pg = chunk_pg(hex, cfg.placement_groups);
    let replicas = cfg.map().replicas(pg);
    let id = cairn_node::ChunkId::from_hex(hex).expect("a chunk id");
    replicas[usize::from(id.0[31]) % replicas.len()]
}
