//! `cluster.toml` as the rest of the crate sees it: `ClusterConfig` (name,
//! replication, placement groups, cluster secret, S3 keys, Raft tuning, the node
//! list, the `[tls]` files), loading it from a file, and the map it describes. The file's syntax,
//! defaults and validation are in `parse`.

mod parse;

use crate::cluster::map::ClusterMap;
use crate::cluster::members::{MoveLimits, NodeEntry};
use crate::cluster::placement;
use crate::ids::NodeId;
use std::path::{Path, PathBuf};

/// Highest allowed number of placement groups.
pub const MAX_PLACEMENT_GROUPS: u32 = 65536;
/// Shortest allowed cluster secret, in characters.
pub const MIN_SECRET_CHARS: usize = 16;

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    pub name: String,
    /// R, the number of replicas of every placement group (>= 1).
    pub replication: usize,
    /// Number of placement groups, a power of two.
    pub placement_groups: u32,
    /// Cluster secret carried by internal RPCs.
    pub secret: String,
    /// `[s3] access_key`.
    pub access_key: Option<String>,
    /// `[s3] secret_key` (set together with `access_key` or not at all).
    pub secret_key: Option<String>,
    /// `[s3] region`, default "us-east-1".
    pub region: String,
    pub raft: RaftTuning,
    /// The `[moves]` table: limits of data moves after a map change.
    pub moves: MoveLimits,
    /// The `[scrub]` table: this node's background re-verification of its chunks.
    pub scrub: ScrubSettings,
    /// Sorted by id.
    pub nodes: Vec<NodeEntry>,
    /// The `[tls]` table: mutual TLS between the cluster's processes (`None`:
    /// plain HTTP, the cluster secret alone).
    pub tls: Option<TlsFiles>,
    /// The file the config came from (None when built in code).
    pub path: Option<PathBuf>,
}

/// The `[raft]` table; every field is optional.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftTuning {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Build a snapshot after this many log entries.
    pub snapshot_logs: u64,
    /// Log entries kept behind a snapshot.
    pub keep_logs: u64,
}

/// The `[scrub]` table; every field is optional. Each node's own setting (not
/// part of the committed map).
#[derive(Clone, Debug, PartialEq)]
pub struct ScrubSettings {
    /// A full pass over the node's chunks starts every `interval` (at once after
    /// the previous one if a pass takes longer); zero turns scrubbing off.
    pub interval: std::time::Duration,
    /// Bytes per second a pass reads at most (0: no limit).
    pub bandwidth: u64,
}

impl Default for ScrubSettings {
    fn default() -> Self {
        ScrubSettings {
            interval: std::time::Duration::from_secs(7 * 24 * 3600),
            bandwidth: 32 << 20,
        }
    }
}

impl Default for RaftTuning {
    fn default() -> Self {
        RaftTuning {
            heartbeat_ms: 250,
            election_min_ms: 1000,
            election_max_ms: 2000,
            snapshot_logs: 1000,
            keep_logs: 100,
        }
    }
}

/// The `[tls]` table: where this process finds the cluster CA and its own
/// certificate. Paths are absolute (resolved against the file's directory).
#[derive(Clone, Debug, PartialEq)]
pub struct TlsFiles {
    /// The cluster CA's certificate: a peer must show a certificate it signed.
    pub ca: PathBuf,
    /// The certificate and key of gateways and `cairn cluster` commands.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A node's certificate and key, `{id}` standing for its id.
    pub node_cert: PathBuf,
    pub node_key: PathBuf,
}

impl TlsFiles {
    /// Node `id`'s certificate and key files.
    pub fn node_files(&self, id: NodeId) -> (PathBuf, PathBuf) {
        let fill = |p: &Path| PathBuf::from(p.to_string_lossy().replace("{id}", &id.to_string()));
        (fill(&self.node_cert), fill(&self.node_key))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cluster config: {0}")]
    Parse(String),
    #[error("invalid cluster config: {0}")]
    Invalid(String),
}

impl ClusterConfig {
    /// Reads, parses and validates `path`; relative paths in it (`data_dir`,
    /// `secret_file`) resolve against the file's directory, made absolute first.
    pub fn load(path: &Path) -> Result<ClusterConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let base_dir = std::path::absolute(parent).map_err(|source| ConfigError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
        let mut cfg = Self::parse(&text, &base_dir)?;
        cfg.path = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        Ok(cfg)
    }

    /// A one-node cluster for the embedded `cairn server`: replication 1, 4 placement
    /// groups, node 1 at address "local" (never dialled), a random secret.
    pub fn single_node(data_dir: PathBuf) -> ClusterConfig {
        ClusterConfig {
            name: "embedded".to_string(),
            replication: 1,
            placement_groups: 4,
            secret: hex::encode(rand::random::<[u8; 16]>()),
            access_key: None,
            secret_key: None,
            region: "us-east-1".to_string(),
            raft: RaftTuning::default(),
            moves: MoveLimits::default(),
            scrub: ScrubSettings::default(),
            nodes: vec![NodeEntry {
                id: 1,
                address: "local".to_string(),
                data_dir,
                capacity: u64::MAX / 4,
                zone: None,
                weight: 1.0,
                drain: false,
            }],
            tls: None,
            path: None,
        }
    }

    pub fn node(&self, id: NodeId) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The map this file describes (epoch 0: not committed).
    pub fn map(&self) -> ClusterMap {
        ClusterMap {
            epoch: 0,
            name: self.name.clone(),
            replication: self.replication,
            placement_groups: self.placement_groups,
            nodes: self.nodes.clone(),
            moves: self.moves.clone(),
            applied_at_ms: 0,
            planned_moves: 0,
            planned_bytes: 0,
        }
    }

    /// Every PG's replica set of the nodes this file lists.
    pub fn placement_table(&self) -> Vec<Vec<NodeId>> {
        placement::table(&self.nodes, self.placement_groups, self.replication)
    }
}

#[cfg(test)]
mod tests;
