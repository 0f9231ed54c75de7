//! `cairn cluster status`: asks every node of the cluster file for its status and
//! prints the nodes (up/down, capacity, used), every Raft group (leader, members,
//! term, log and lag as the leader sees it) and the usable capacity.

use cairn_node::cluster_config::ClusterConfig;
use cairn_node::rpc::client::RpcClient;
use cairn_node::rpc::messages::{GroupStatus, NodeStatus, Request, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Every node's status, `None` for nodes that did not answer.
pub async fn collect(cfg: &ClusterConfig) -> Result<Vec<(u64, Option<NodeStatus>)>, String> {
    let addrs = cfg
        .nodes
        .iter()
        .map(|n| (n.id, n.address.clone()))
        .collect();
    let rpc = RpcClient::new(&cfg.secret, addrs).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for n in &cfg.nodes {
        let status = match rpc
            .call(n.id, &Request::Status, Duration::from_secs(3))
            .await
        {
            Ok(Response::Status(s)) => Some(s),
            _ => None,
        };
        out.push((n.id, status));
    }
    Ok(out)
}

pub fn render(cfg: &ClusterConfig, statuses: &[(u64, Option<NodeStatus>)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster {}: {} nodes, replication {}, {} placement groups",
        cfg.name,
        cfg.nodes.len(),
        cfg.replication,
        cfg.placement_groups
    );
    let _ = writeln!(out, "\nNODES");
    let _ = writeln!(
        out,
        "{:>4}  {:<22} {:<5} {:>12} {:>12} {:>8} {:>10}",
        "id", "address", "state", "capacity", "used", "chunks", "raft log"
    );
    for (id, status) in statuses {
        let addr = cfg.node(*id).map(|n| n.address.as_str()).unwrap_or("?");
        let capacity = cfg.node(*id).map(|n| n.capacity).unwrap_or(0);
        match status {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "{id:>4}  {addr:<22} {:<5} {:>12} {:>12} {:>8} {:>10}",
                    "up",
                    human(capacity),
                    human(s.used),
                    s.chunks,
                    human(s.log_file_bytes)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{id:>4}  {addr:<22} {:<5} {:>12} {:>12} {:>8} {:>10}",
                    "DOWN",
                    human(capacity),
                    "-",
                    "-",
                    "-"
                );
            }
        }
    }
    let _ = writeln!(out, "\nRAFT GROUPS");
    let _ = writeln!(
        out,
        "{:<8} {:>6} {:>6} {:<12} {:>10} {:>10} {:>8}  lag",
        "group", "leader", "term", "voters", "last log", "applied", "log len"
    );
    for (group, g) in groups_as_seen_by_leaders(statuses) {
        let name = if group == 0 {
            "catalog".to_string()
        } else {
            format!("pg {}", group - 1)
        };
        let voters = g
            .voters
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let lag = g
            .lag
            .iter()
            .map(|(n, l)| format!("{n}:{l}"))
            .collect::<Vec<_>>()
            .join(" ");
        let leader = g
            .leader
            .map(|l| l.to_string())
            .unwrap_or_else(|| "none".into());
        let _ = writeln!(
            out,
            "{name:<8} {leader:>6} {:>6} {voters:<12} {:>10} {:>10} {:>8}  {lag}",
            g.term,
            g.last_log_index.unwrap_or(0),
            g.applied_index.unwrap_or(0),
            g.log_entries
        );
    }
    let up: u64 = statuses
        .iter()
        .filter(|(_, s)| s.is_some())
        .filter_map(|(id, _)| cfg.node(*id).map(|n| n.capacity))
        .sum();
    let _ = writeln!(
        out,
        "\nusable capacity: {} (sum of capacities / R; {} of it on nodes up now)",
        human(cfg.usable_capacity()),
        human(up / cfg.replication.max(1) as u64)
    );
    out
}

/// One line per group: the leader's view when the leader answered, else any
/// member's.
fn groups_as_seen_by_leaders(statuses: &[(u64, Option<NodeStatus>)]) -> BTreeMap<u64, GroupStatus> {
    let mut out: BTreeMap<u64, GroupStatus> = BTreeMap::new();
    for (id, status) in statuses {
        for g in status.iter().flat_map(|s| s.groups.iter()) {
            let is_leader = g.leader == Some(*id);
            if is_leader || !out.contains_key(&g.group) {
                out.insert(g.group, g.clone());
            }
        }
    }
    out
}

pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
