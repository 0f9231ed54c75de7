//! `cluster.toml`: parsing and validating the cluster description (name, replication,
//! placement groups, cluster secret, S3 keys, Raft tuning, the node list).

use crate::cluster_map::ClusterMap;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub type NodeId = u64;

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
    /// Sorted by id.
    pub nodes: Vec<NodeEntry>,
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

/// The `[moves]` table: how hard a node pulls data when placement groups move to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoveLimits {
    /// Placement-group moves a leader runs at once.
    pub concurrency: u32,
    /// Bytes per second a node fetches for moves (0: unlimited).
    pub bandwidth: u64,
}

impl Default for MoveLimits {
    fn default() -> Self {
        MoveLimits {
            concurrency: 2,
            bandwidth: 100 << 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// >= 1, unique.
    pub id: NodeId,
    /// "host:port" internal RPC address, unique.
    pub address: String,
    /// Absolute when loaded from a file (relative paths resolve against its directory).
    pub data_dir: PathBuf,
    /// Bytes, > 0.
    pub capacity: u64,
    pub zone: Option<String>,
    /// > 0, default 1.0.
    pub weight: f64,
    /// Being emptied; placement avoids it.
    pub drain: bool,
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

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    replication: i64,
    placement_groups: i64,
    secret: Option<String>,
    secret_file: Option<PathBuf>,
    #[serde(default)]
    s3: RawS3,
    #[serde(default)]
    raft: RawRaft,
    #[serde(default)]
    moves: RawMoves,
    #[serde(default)]
    node: Vec<RawNode>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    access_key: Option<String>,
    secret_key: Option<String>,
    region: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRaft {
    heartbeat_ms: Option<u64>,
    election_min_ms: Option<u64>,
    election_max_ms: Option<u64>,
    snapshot_logs: Option<u64>,
    keep_logs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMoves {
    concurrency: Option<u32>,
    bandwidth: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: i64,
    address: String,
    data_dir: PathBuf,
    capacity: toml::Value,
    zone: Option<String>,
    weight: Option<f64>,
    #[serde(default)]
    drain: bool,
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

    /// Parses and validates `text`; relative paths resolve against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<ClusterConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        convert(raw, base_dir)
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
            nodes: vec![NodeEntry {
                id: 1,
                address: "local".to_string(),
                data_dir,
                capacity: u64::MAX / 4,
                zone: None,
                weight: 1.0,
                drain: false,
            }],
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
}

fn convert(raw: RawConfig, base_dir: &Path) -> Result<ClusterConfig, ConfigError> {
    if raw.name.trim().is_empty() {
        return Err(invalid("`name` must not be empty"));
    }

    let secret = match (raw.secret, raw.secret_file) {
        (Some(s), None) => s,
        (None, Some(file)) => {
            let path = base_dir.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ConfigError::Io { path, source })?;
            text.trim().to_string()
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "set exactly one of `secret` and `secret_file`, not both",
            ))
        }
        (None, None) => return Err(invalid("one of `secret` or `secret_file` is required")),
    };
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(invalid(format!(
            "the cluster secret must be at least {MIN_SECRET_CHARS} characters"
        )));
    }

    let (access_key, secret_key) = match (raw.s3.access_key, raw.s3.secret_key) {
        (Some(a), Some(s)) => {
            if a.is_empty() || s.is_empty() {
                return Err(invalid(
                    "`[s3] access_key` and `secret_key` must not be empty",
                ));
            }
            (Some(a), Some(s))
        }
        (None, None) => (None, None),
        _ => {
            return Err(invalid(
                "`[s3] access_key` and `secret_key` must be set together or not at all",
            ))
        }
    };
    let region = raw.s3.region.unwrap_or_else(|| "us-east-1".to_string());
    if region.is_empty() {
        return Err(invalid("`[s3] region` must not be empty"));
    }

    let raft = convert_raft(raw.raft)?;
    let moves = convert_moves(raw.moves)?;

    let mut nodes = raw
        .node
        .into_iter()
        .map(|n| convert_node(n, base_dir))
        .collect::<Result<Vec<_>, _>>()?;
    nodes.sort_by_key(|n| n.id);
    if nodes.is_empty() {
        return Err(invalid("at least one [[node]] is required"));
    }
    let mut ids = HashSet::new();
    let mut addresses = HashSet::new();
    for n in &nodes {
        if !ids.insert(n.id) {
            return Err(invalid(format!("node id {} appears more than once", n.id)));
        }
        if !addresses.insert(n.address.as_str()) {
            return Err(invalid(format!(
                "node {}: address {:?} is used by another node",
                n.id, n.address
            )));
        }
    }

    let replication = usize::try_from(raw.replication)
        .ok()
        .filter(|r| *r >= 1)
        .ok_or_else(|| {
            invalid(format!(
                "`replication` must be >= 1, got {}",
                raw.replication
            ))
        })?;
    if replication > nodes.len() {
        return Err(invalid(format!(
            "`replication` {replication} exceeds the number of nodes ({})",
            nodes.len()
        )));
    }

    let placement_groups = u32::try_from(raw.placement_groups)
        .ok()
        .filter(|pg| pg.is_power_of_two() && *pg <= MAX_PLACEMENT_GROUPS)
        .ok_or_else(|| {
            invalid(format!(
                "`placement_groups` must be a power of two between 1 and {MAX_PLACEMENT_GROUPS}, got {}",
                raw.placement_groups
            ))
        })?;

    Ok(ClusterConfig {
        name: raw.name,
        replication,
        placement_groups,
        secret,
        access_key,
        secret_key,
        region,
        raft,
        moves,
        nodes,
        path: None,
    })
}

fn convert_moves(raw: RawMoves) -> Result<MoveLimits, ConfigError> {
    let d = MoveLimits::default();
    let concurrency = raw.concurrency.unwrap_or(d.concurrency);
    if concurrency == 0 {
        return Err(invalid("`[moves] concurrency` must be >= 1"));
    }
    let bandwidth = match &raw.bandwidth {
        None => Some(d.bandwidth),
        Some(toml::Value::Integer(i)) => u64::try_from(*i).ok(),
        Some(toml::Value::String(s)) => parse_capacity(s.trim_end_matches("/s")),
        Some(_) => None,
    }
    .ok_or_else(|| {
        invalid("`[moves] bandwidth` must be bytes per second, e.g. \"100MiB\" (0: unlimited)")
    })?;
    Ok(MoveLimits {
        concurrency,
        bandwidth,
    })
}

fn convert_raft(raw: RawRaft) -> Result<RaftTuning, ConfigError> {
    let d = RaftTuning::default();
    let t = RaftTuning {
        heartbeat_ms: raw.heartbeat_ms.unwrap_or(d.heartbeat_ms),
        election_min_ms: raw.election_min_ms.unwrap_or(d.election_min_ms),
        election_max_ms: raw.election_max_ms.unwrap_or(d.election_max_ms),
        snapshot_logs: raw.snapshot_logs.unwrap_or(d.snapshot_logs),
        keep_logs: raw.keep_logs.unwrap_or(d.keep_logs),
    };
    if t.heartbeat_ms == 0 {
        return Err(invalid("`[raft] heartbeat_ms` must be > 0"));
    }
    if t.heartbeat_ms >= t.election_min_ms {
        return Err(invalid(
            "`[raft] heartbeat_ms` must be less than `election_min_ms`",
        ));
    }
    if t.election_min_ms >= t.election_max_ms {
        return Err(invalid(
            "`[raft] election_min_ms` must be less than `election_max_ms`",
        ));
    }
    if t.snapshot_logs == 0 {
        return Err(invalid("`[raft] snapshot_logs` must be > 0"));
    }
    Ok(t)
}

fn convert_node(raw: RawNode, base_dir: &Path) -> Result<NodeEntry, ConfigError> {
    let id = u64::try_from(raw.id)
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| invalid(format!("node id must be >= 1, got {}", raw.id)))?;
    if raw.address.trim().is_empty() {
        return Err(invalid(format!("node {id}: `address` must not be empty")));
    }
    if raw.data_dir.as_os_str().is_empty() {
        return Err(invalid(format!("node {id}: `data_dir` must not be empty")));
    }
    let capacity = match &raw.capacity {
        toml::Value::Integer(i) => u64::try_from(*i).ok(),
        toml::Value::String(s) => parse_capacity(s),
        _ => None,
    }
    .filter(|c| *c > 0)
    .ok_or_else(|| {
        invalid(format!(
            "node {id}: `capacity` must be a positive byte count or a size like \"100GiB\", got {}",
            raw.capacity
        ))
    })?;
    let weight = raw.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0) {
        return Err(invalid(format!(
            "node {id}: `weight` must be > 0, got {weight}"
        )));
    }
    if raw.zone.as_deref().is_some_and(str::is_empty) {
        return Err(invalid(format!("node {id}: `zone` must not be empty")));
    }
    Ok(NodeEntry {
        id,
        address: raw.address,
        data_dir: base_dir.join(raw.data_dir),
        capacity,
        zone: raw.zone,
        weight,
        drain: raw.drain,
    })
}

/// Parses a size such as "100GiB", "500 MB", "1.5TiB", "2T" or "4096" into bytes.
/// K/M/G/T/P with "i" are 1024-based, with only "B" 1000-based, bare letters 1024-based.
/// Letters are case-insensitive. None when malformed or out of range.
pub fn parse_capacity(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let unit = unit.trim_start().to_ascii_uppercase();
    let (prefix, suffix) = match unit.chars().next() {
        Some(c @ ('K' | 'M' | 'G' | 'T' | 'P')) => (Some(c), &unit[1..]),
        _ => (None, unit.as_str()),
    };
    let exponent: i32 = match prefix {
        None => 0,
        Some('K') => 1,
        Some('M') => 2,
        Some('G') => 3,
        Some('T') => 4,
        Some(_) => 5,
    };
    let base: f64 = match (prefix, suffix) {
        (None, "" | "B") => 1.0,
        (Some(_), "" | "I" | "IB") => 1024.0,
        (Some(_), "B") => 1000.0,
        _ => return None,
    };
    let bytes = (value * base.powi(exponent)).round();
    // u64::MAX as f64 rounds up to 2^64, so `<` keeps the cast in range.
    if !(bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64) {
        return None;
    }
    Some(bytes as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GIB: u64 = 1 << 30;

    const FULL: &str = r#"
name = "cairn-dev"
replication = 3
placement_groups = 8
secret = "change-me-0123456789"
[s3]
access_key = "CKEXAMPLE"
secret_key = "example-secret"
region = "eu-west-1"
[raft]
heartbeat_ms = 100
election_max_ms = 3000
[[node]]
id = 3
address = "127.0.0.1:7003"
data_dir = "/abs/node3"
capacity = "1.5TiB"
zone = "b"
weight = 2.5
drain = true
[[node]]
id = 1
address = "127.0.0.1:7001"
data_dir = "data/node1"
capacity = "20GiB"
zone = "a"
[[node]]
id = 2
address = "127.0.0.1:7002"
data_dir = "data/node2"
capacity = 1073741824
"#;

    fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
        ClusterConfig::parse(text, Path::new("/etc/cairn"))
    }

    #[test]
    fn parses_full_example() {
        let cfg = parse(FULL).unwrap();
        assert_eq!(cfg.name, "cairn-dev");
        assert_eq!(cfg.replication, 3);
        assert_eq!(cfg.placement_groups, 8);
        assert_eq!(cfg.secret, "change-me-0123456789");
        assert_eq!(cfg.access_key.as_deref(), Some("CKEXAMPLE"));
        assert_eq!(cfg.secret_key.as_deref(), Some("example-secret"));
        assert_eq!(cfg.region, "eu-west-1");
        assert_eq!(
            cfg.raft,
            RaftTuning {
                heartbeat_ms: 100,
                election_min_ms: 1000,
                election_max_ms: 3000,
                snapshot_logs: 1000,
                keep_logs: 100,
            }
        );
        let ids: Vec<NodeId> = cfg.nodes.iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        let n1 = cfg.node(1).unwrap();
        assert_eq!(n1.data_dir, PathBuf::from("/etc/cairn/data/node1"));
        assert_eq!(n1.capacity, 20 * GIB);
        assert_eq!(n1.zone.as_deref(), Some("a"));
        assert_eq!(n1.weight, 1.0);
        assert!(!n1.drain);
        let n2 = cfg.node(2).unwrap();
        assert_eq!(n2.capacity, GIB);
        assert_eq!(n2.zone, None);
        let n3 = cfg.node(3).unwrap();
        assert_eq!(n3.data_dir, PathBuf::from("/abs/node3"));
        assert_eq!(n3.capacity, 3 * 512 * GIB);
        assert_eq!(n3.weight, 2.5);
        assert!(n3.drain);
        assert!(cfg.node(4).is_none());
        assert_eq!(cfg.path, None);
        assert_eq!(cfg.map().usable_capacity(), 21 * GIB / 3);
        // Node 3 drains, so it leaves the catalog's voters.
        assert_eq!(cfg.map().catalog_voters(), vec![1, 2]);
    }

    #[test]
    fn defaults_for_optional_sections() {
        let text = r#"
name = "x"
replication = 1
placement_groups = 1
secret = "0123456789abcdef"
[[node]]
id = 1
address = "a:1"
data_dir = "d"
capacity = 10
"#;
        let cfg = parse(text).unwrap();
        assert_eq!(cfg.region, "us-east-1");
        assert_eq!(cfg.access_key, None);
        assert_eq!(cfg.secret_key, None);
        assert_eq!(cfg.raft, RaftTuning::default());
    }

    #[test]
    fn load_resolves_relative_paths_and_reads_secret_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.txt"), "  s3cr3t-from-a-file-123\n").unwrap();
        let text = FULL.replace(
            "secret = \"change-me-0123456789\"",
            "secret_file = \"secret.txt\"",
        );
        let file = dir.path().join("cluster.toml");
        std::fs::write(&file, text).unwrap();
        let cfg = ClusterConfig::load(&file).unwrap();
        assert_eq!(cfg.secret, "s3cr3t-from-a-file-123");
        assert_eq!(cfg.path.as_deref(), Some(file.as_path()));
        assert_eq!(cfg.node(1).unwrap().data_dir, dir.path().join("data/node1"));
        assert_eq!(cfg.node(3).unwrap().data_dir, PathBuf::from("/abs/node3"));
    }

    #[test]
    fn load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            ClusterConfig::load(&missing),
            Err(ConfigError::Io { path, .. }) if path == missing
        ));
        let text = FULL.replace(
            "secret = \"change-me-0123456789\"",
            "secret_file = \"absent.txt\"",
        );
        let file = dir.path().join("cluster.toml");
        std::fs::write(&file, text).unwrap();
        assert!(matches!(
            ClusterConfig::load(&file),
            Err(ConfigError::Io { path, .. }) if path == dir.path().join("absent.txt")
        ));
    }

    #[test]
    fn validation_errors() {
        let secret_line = "secret = \"change-me-0123456789\"";
        // (replace this, with that, expected text in the error)
        let cases: &[(&str, &str, &str)] = &[
            ("replication = 3", "replication = 0", "replication"),
            ("replication = 3", "replication = -1", "replication"),
            (
                "replication = 3",
                "replication = 4",
                "exceeds the number of nodes",
            ),
            (
                "placement_groups = 8",
                "placement_groups = 0",
                "placement_groups",
            ),
            (
                "placement_groups = 8",
                "placement_groups = 6",
                "placement_groups",
            ),
            (
                "placement_groups = 8",
                "placement_groups = 131072",
                "placement_groups",
            ),
            (secret_line, "", "secret"),
            (
                secret_line,
                "secret = \"0123456789abcdef\"\nsecret_file = \"s.txt\"",
                "not both",
            ),
            (secret_line, "secret = \"too-short\"", "at least 16"),
            (secret_line, "secret = \"\"", "at least 16"),
            ("secret_key = \"example-secret\"\n", "", "together"),
            ("access_key = \"CKEXAMPLE\"\n", "", "together"),
            ("region = \"eu-west-1\"", "region = \"\"", "region"),
            ("id = 2", "id = 1", "node id 1 appears more than once"),
            ("id = 2", "id = 0", "node id must be >= 1"),
            ("127.0.0.1:7002", "127.0.0.1:7001", "address"),
            (
                "capacity = 1073741824",
                "capacity = 0",
                "node 2: `capacity`",
            ),
            (
                "capacity = 1073741824",
                "capacity = -5",
                "node 2: `capacity`",
            ),
            (
                "capacity = 1073741824",
                "capacity = \"lots\"",
                "node 2: `capacity`",
            ),
            (
                "capacity = 1073741824",
                "capacity = \"0GiB\"",
                "node 2: `capacity`",
            ),
            (
                "capacity = 1073741824",
                "capacity = 1.5",
                "node 2: `capacity`",
            ),
            ("weight = 2.5", "weight = 0.0", "node 3: `weight`"),
            ("weight = 2.5", "weight = -1.0", "node 3: `weight`"),
            ("zone = \"a\"", "zone = \"\"", "node 1: `zone`"),
            ("heartbeat_ms = 100", "heartbeat_ms = 0", "heartbeat_ms"),
            ("heartbeat_ms = 100", "heartbeat_ms = 1000", "heartbeat_ms"),
            (
                "election_max_ms = 3000",
                "election_max_ms = 1000",
                "election_min_ms",
            ),
            (
                "election_max_ms = 3000",
                "snapshot_logs = 0",
                "snapshot_logs",
            ),
            ("name = \"cairn-dev\"", "name = \"\"", "name"),
        ];
        for (from, to, expect) in cases {
            assert!(FULL.contains(from), "test case does not apply: {from}");
            let text = FULL.replacen(from, to, 1);
            match parse(&text) {
                Err(ConfigError::Invalid(msg)) => {
                    assert!(
                        msg.contains(expect),
                        "{from} -> {to}: {msg:?} lacks {expect:?}"
                    )
                }
                other => panic!("{from} -> {to}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn no_nodes_rejected() {
        let text =
            "name = \"x\"\nreplication = 1\nplacement_groups = 1\nsecret = \"0123456789abcdef\"\n";
        match parse(text) {
            Err(ConfigError::Invalid(msg)) => assert!(msg.contains("at least one"), "{msg}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_syntax_rejected() {
        for (from, to) in [
            ("replication = 3", "replication = 3\nreplicaton = 3"),
            ("region = \"eu-west-1\"", "regoin = \"eu-west-1\""),
            ("heartbeat_ms = 100", "heartbeat = 100"),
            ("zone = \"a\"", "zones = \"a\""),
            ("name = \"cairn-dev\"", "name = cairn-dev"),
            ("name = \"cairn-dev\"", ""),
        ] {
            let text = FULL.replacen(from, to, 1);
            match parse(&text) {
                Err(ConfigError::Parse(msg)) => assert!(msg.contains("line"), "{msg}"),
                other => panic!("{to:?}: expected Parse, got {other:?}"),
            }
        }
    }

    #[test]
    fn capacity_strings() {
        let cases: &[(&str, Option<u64>)] = &[
            ("100GiB", Some(100 * GIB)),
            ("1.5TB", Some(1_500_000_000_000)),
            ("500 MB", Some(500_000_000)),
            ("1.5TiB", Some(3 * 512 * GIB)),
            ("2T", Some(2 << 40)),
            ("20G", Some(20 * GIB)),
            ("4Ki", Some(4096)),
            ("1kb", Some(1000)),
            ("1PiB", Some(1 << 50)),
            ("4096", Some(4096)),
            ("4096B", Some(4096)),
            (" 7 GiB ", Some(7 * GIB)),
            ("", None),
            ("GiB", None),
            ("1.", None),
            (".5G", None),
            ("1.2.3G", None),
            ("10 XB", None),
            ("10GiBs", None),
            ("-1G", None),
            ("1iB", None),
            ("99999999999P", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_capacity(s), *want, "{s:?}");
        }
        let text = FULL.replace("capacity = 1073741824", "capacity = \"2T\"");
        assert_eq!(parse(&text).unwrap().node(2).unwrap().capacity, 2 << 40);
    }

    #[test]
    fn single_node_config() {
        let a = ClusterConfig::single_node(PathBuf::from("/data"));
        assert_eq!(a.name, "embedded");
        assert_eq!(a.replication, 1);
        assert_eq!(a.placement_groups, 4);
        assert_eq!(a.secret.len(), 32);
        assert!(a.secret.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.nodes.len(), 1);
        assert_eq!(a.nodes[0].id, 1);
        assert_eq!(a.nodes[0].address, "local");
        assert_eq!(a.nodes[0].data_dir, PathBuf::from("/data"));
        assert_eq!(a.nodes[0].capacity, u64::MAX / 4);
        assert_eq!(a.map().usable_capacity(), u64::MAX / 4);
        assert_eq!(a.map().catalog_voters(), vec![1]);
        assert_eq!(a.path, None);
        let b = ClusterConfig::single_node(PathBuf::from("/data"));
        assert_ne!(a.secret, b.secret);
    }

    #[test]
    fn catalog_voters_are_five_lowest_ids() {
        let mut cfg = ClusterConfig::single_node(PathBuf::from("/d"));
        let template = cfg.nodes[0].clone();
        cfg.nodes = [9, 2, 7, 4, 1, 8, 3]
            .into_iter()
            .map(|id| NodeEntry {
                id,
                address: format!("h:{id}"),
                ..template.clone()
            })
            .collect();
        assert_eq!(cfg.map().catalog_voters(), vec![1, 2, 3, 4, 7]);
    }

    #[test]
    fn usable_capacity_skips_draining_nodes() {
        let mut cfg = parse(FULL).unwrap();
        cfg.replication = 2;
        assert_eq!(cfg.map().usable_capacity(), 21 * GIB / 2);
        cfg.nodes[0].drain = true;
        assert_eq!(cfg.map().usable_capacity(), GIB / 2);
    }

    #[test]
    fn repository_example_parses() {
        let text = include_str!("../../cluster.toml");
        let cfg = ClusterConfig::parse(text, Path::new("/srv/cairn")).unwrap();
        assert_eq!(cfg.nodes.len(), 3);
        assert_eq!(cfg.replication, 3);
        assert_eq!(cfg.placement_groups, 8);
        assert_eq!(cfg.node(1).unwrap().address, "127.0.0.1:7001");
        assert_eq!(
            cfg.node(3).unwrap().data_dir,
            PathBuf::from("/srv/cairn/data/node3")
        );
        assert!(cfg.nodes.iter().all(|n| n.capacity == 20 * GIB));
    }
}
