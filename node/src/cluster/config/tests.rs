//! Tests of `cluster.toml` parsing, defaults and validation.
#![allow(clippy::unwrap_used)]

use super::parse::parse_capacity;
use super::*;
use crate::cluster::members::NodeEntry;

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
    assert_eq!(cfg.scrub, super::ScrubSettings::default());
}

#[test]
fn scrub_table() {
    let base = r#"
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
    let with = |table: &str| parse(&format!("{base}\n[scrub]\n{table}"));
    let cfg = with("interval = \"12h\"\nbandwidth = \"8MiB/s\"").unwrap();
    assert_eq!(
        cfg.scrub.interval,
        std::time::Duration::from_secs(12 * 3600)
    );
    assert_eq!(cfg.scrub.bandwidth, 8 << 20);
    let cfg = with("interval = 90\nbandwidth = 0").unwrap();
    assert_eq!(cfg.scrub.interval, std::time::Duration::from_secs(90));
    assert_eq!(cfg.scrub.bandwidth, 0);
    let cfg = with("interval = \"0\"").unwrap();
    assert!(cfg.scrub.interval.is_zero());
    assert_eq!(cfg.scrub.bandwidth, 32 << 20);
    for bad in [
        "interval = \"soon\"",
        "interval = -1",
        "bandwidth = \"fast\"",
        "bandwidth = -5",
        "speed = 1",
    ] {
        assert!(with(bad).is_err(), "{bad} accepted");
    }
    assert_eq!(
        ClusterConfig::parse_duration("500ms"),
        Some(std::time::Duration::from_millis(500))
    );
    assert_eq!(
        ClusterConfig::parse_duration("7d"),
        Some(std::time::Duration::from_secs(7 * 86400))
    );
    assert_eq!(ClusterConfig::parse_duration("1.5h"), None);
    assert_eq!(ClusterConfig::parse_duration(""), None);
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
    let text = include_str!("../../../../cluster.toml");
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
