//! The syntax of `cluster.toml` (the raw tables, unknown keys refused), its
//! defaults, and validating it into a `ClusterConfig`: every rule a file must
//! follow (ids, addresses, capacities, secret length, replication against nodes).

use super::{
    ClusterConfig, ConfigError, RaftTuning, ScrubSettings, TlsFiles, MAX_PLACEMENT_GROUPS,
    MIN_SECRET_CHARS,
};
use crate::cluster::members::{MoveLimits, NodeEntry};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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
    scrub: RawScrub,
    #[serde(default)]
    node: Vec<RawNode>,
    tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    node_cert: Option<PathBuf>,
    node_key: Option<PathBuf>,
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScrub {
    interval: Option<toml::Value>,
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
    /// Parses and validates `text`; relative paths resolve against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<ClusterConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        convert(raw, base_dir)
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
    let scrub = convert_scrub(raw.scrub)?;
    let tls = raw.tls.map(|t| convert_tls(t, base_dir)).transpose()?;

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
        scrub,
        nodes,
        tls,
        path: None,
    })
}

/// `[tls]`: `ca` is required; the other files default to the names `cairn
/// cluster certs` writes beside the CA.
fn convert_tls(raw: RawTls, base_dir: &Path) -> Result<TlsFiles, ConfigError> {
    if raw.ca.as_os_str().is_empty() {
        return Err(invalid("`[tls] ca` must not be empty"));
    }
    if raw.cert.is_some() != raw.key.is_some() {
        return Err(invalid(
            "`[tls] cert` and `key` must be set together or not at all",
        ));
    }
    if raw.node_cert.is_some() != raw.node_key.is_some() {
        return Err(invalid(
            "`[tls] node_cert` and `node_key` must be set together or not at all",
        ));
    }
    let ca = base_dir.join(raw.ca);
    let dir = ca.parent().unwrap_or(base_dir).to_path_buf();
    let file = |given: Option<PathBuf>, default: &str| match given {
        Some(p) => base_dir.join(p),
        None => dir.join(default),
    };
    Ok(TlsFiles {
        cert: file(raw.cert, "gateway.crt"),
        key: file(raw.key, "gateway.key"),
        node_cert: file(raw.node_cert, "node-{id}.crt"),
        node_key: file(raw.node_key, "node-{id}.key"),
        ca,
    })
}

fn convert_scrub(raw: RawScrub) -> Result<ScrubSettings, ConfigError> {
    let d = ScrubSettings::default();
    let interval = match &raw.interval {
        None => Some(d.interval),
        Some(toml::Value::Integer(i)) => u64::try_from(*i).ok().map(std::time::Duration::from_secs),
        Some(toml::Value::String(s)) => ClusterConfig::parse_duration(s),
        Some(_) => None,
    }
    .ok_or_else(|| {
        invalid("`[scrub] interval` must be seconds or a duration such as \"7d\", \"12h\", \"30m\" (0: off)")
    })?;
    let bandwidth = match &raw.bandwidth {
        None => Some(d.bandwidth),
        Some(toml::Value::Integer(i)) => u64::try_from(*i).ok(),
        Some(toml::Value::String(s)) => parse_capacity(s.trim_end_matches("/s")),
        Some(_) => None,
    }
    .ok_or_else(|| {
        invalid("`[scrub] bandwidth` must be bytes per second, e.g. \"32MiB\" (0: unlimited)")
    })?;
    Ok(ScrubSettings {
        interval,
        bandwidth,
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
impl ClusterConfig {
    /// A size as `capacity` takes it: bytes, or a number with a unit ("64MiB",
    /// "1GB"); for command-line options.
    pub fn parse_size(s: &str) -> Option<u64> {
        parse_capacity(s)
    }

    /// A duration: whole seconds ("3600"), or a number with a unit `ms`, `s`,
    /// `m`, `h` or `d` ("500ms", "30m", "7d"). None when malformed.
    pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let n: u64 = number.parse().ok()?;
        let ms_per: u64 = match unit.trim() {
            "ms" => 1,
            "" | "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        Some(std::time::Duration::from_millis(n.checked_mul(ms_per)?))
    }
}

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
