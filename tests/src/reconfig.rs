//! The JSON lines of `cairn cluster plan|apply|status --json`, and checks of a
//! cluster's chunk files against the placement of a cluster file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use cairn_node::cluster::config::ClusterConfig;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::chunk_pg;

/// `cairn cluster plan --json` (also the first line of `apply --json`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Plan {
    /// The committed map epoch.
    pub epoch: u64,
    /// The epoch `apply` would commit (`epoch` when nothing changes).
    pub next_epoch: u64,
    pub added: Vec<u64>,
    pub removed: Vec<u64>,
    pub drained: Vec<u64>,
    pub changed: Vec<u64>,
    /// Only the PGs whose replica set changes.
    pub moves: Vec<PgMove>,
    pub bytes_to_move: u64,
    pub usable_capacity_before: u64,
    pub usable_capacity_after: u64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PgMove {
    pub pg: u32,
    /// Sorted node ids.
    pub from: Vec<u64>,
    /// Sorted node ids.
    pub to: Vec<u64>,
    pub bytes: u64,
}

/// `cairn cluster status --json`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ClusterStatus {
    pub epoch: u64,
    pub replication: u64,
    pub usable_capacity: u64,
    pub nodes: Vec<NodeStatus>,
    pub pgs: Vec<PgStatus>,
    pub moves: MoveProgress,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct NodeStatus {
    pub id: u64,
    pub address: String,
    pub in_map: bool,
    pub drain: bool,
    pub up: bool,
    pub capacity: u64,
    /// `None` when the node does not answer.
    pub used: Option<u64>,
    pub chunks: Option<u64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PgStatus {
    pub pg: u32,
    pub target: Vec<u64>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    pub leader: Option<u64>,
    pub bytes: Option<u64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct MoveProgress {
    pub pgs_total: u64,
    pub pgs_done: u64,
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub rate_bytes_per_s: f64,
    pub eta_s: Option<f64>,
    pub failed: Vec<serde_json::Value>,
    pub done: bool,
}

impl ClusterStatus {
    /// Sorted voters of every PG.
    pub fn voters(&self) -> BTreeMap<u32, Vec<u64>> {
        self.pgs.iter().map(|p| (p.pg, sorted(&p.voters))).collect()
    }

    pub fn node(&self, id: u64) -> Option<&NodeStatus> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

/// What `cairn cluster apply --wait --json` printed, and how long it took.
#[derive(Clone, Debug)]
pub struct Applied {
    pub plan: Plan,
    /// The final status line.
    pub last: Option<ClusterStatus>,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

/// `ids`, sorted.
pub fn sorted(ids: &[u64]) -> Vec<u64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v
}

/// The JSON lines (lines starting with `{`) of a command's stdout.
pub(crate) fn json_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('{'))
        .collect()
}

/// Parse one JSON line as `T`; panics with the line on a mismatch.
pub(crate) fn parse_line<T: DeserializeOwned>(what: &str, line: &str) -> T {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: unexpected JSON ({e}):\n{line}"))
}

/// The cluster file at `path`; panics if it does not load.
pub fn load_config(path: &Path) -> ClusterConfig {
    ClusterConfig::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every PG's replica set under `cfg`, sorted, as the placement library computes it.
pub fn expected_placement(cfg: &ClusterConfig) -> Vec<Vec<u64>> {
    cfg.placement_table().iter().map(|s| sorted(s)).collect()
}

/// Usable capacity of a cluster file: Σ capacity of the nodes not draining / R.
pub fn usable_capacity(cfg: &ClusterConfig) -> u64 {
    let total: u64 = cfg
        .nodes
        .iter()
        .filter(|n| !n.drain)
        .map(|n| n.capacity)
        .sum();
    total / cfg.replication as u64
}

/// How the chunk files found on some nodes (`holders`: chunk id -> nodes holding it)
/// differ from the placement `table` (PG -> sorted nodes) for a cluster of `pgs`
/// placement groups. Every chunk in `live` must be on exactly its PG's nodes; no
/// chunk may be on a node outside its PG's set. Returns `(violations, notes)`:
/// notes list chunks of no live object (deleted, awaiting GC) that are on fewer
/// nodes than their PG's set.
pub fn placement_violations(
    holders: &BTreeMap<String, Vec<u64>>,
    live: &BTreeSet<String>,
    table: &[Vec<u64>],
    pgs: u32,
) -> (Vec<String>, Vec<String>) {
    let mut violations = Vec::new();
    let mut notes = Vec::new();
    let none = Vec::new();
    for chunk in live {
        let pg = chunk_pg(chunk, pgs);
        let want = &table[pg as usize];
        let have = holders.get(chunk).unwrap_or(&none);
        if sorted(have) != *want {
            violations.push(format!(
                "live chunk {chunk} (pg {pg}) is on nodes {have:?}, expected {want:?}"
            ));
        }
    }
    for (chunk, have) in holders {
        if live.contains(chunk) {
            continue;
        }
        let pg = chunk_pg(chunk, pgs);
        let want = &table[pg as usize];
        let stray: Vec<u64> = have.iter().filter(|n| !want.contains(n)).copied().collect();
        if !stray.is_empty() {
            violations.push(format!(
                "chunk {chunk} (pg {pg}, no live object) is on nodes {stray:?} outside {want:?}"
            ));
        } else if have.len() < want.len() {
            notes.push(format!(
                "chunk {chunk} (pg {pg}, no live object) is only on nodes {have:?} of {want:?}"
            ));
        }
    }
    (violations, notes)
}
