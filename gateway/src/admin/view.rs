//! The cluster as the operator commands see it: the committed map, every node's
//! status (nodes of the map and of the local file), every placement group's target
//! and actual members, and the progress of the moves the last apply started. It is
//! what `cairn cluster status` prints (text or JSON), what `apply --wait` polls,
//! and what a gateway's `/metrics` reports.

use cairn_node::cluster::config::ClusterConfig;
use cairn_node::cluster::map::ClusterMap;
use cairn_node::ids::{pg_group, GroupId, NodeId, CATALOG_GROUP};
use cairn_node::rpc::client::RpcClient;
use cairn_node::rpc::messages::{GroupStatus, NodeStatus, Request, Response, ScrubStatus};
use cairn_node::NodeClient;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A move that failed this many times in a row counts as failed.
pub const FAILED_AFTER: u32 = 3;

#[derive(Clone, Debug, Serialize)]
pub struct ClusterView {
    pub name: String,
    pub epoch: u64,
    pub replication: usize,
    pub placement_groups: u32,
    pub usable_capacity: u64,
    pub nodes: Vec<NodeView>,
    pub catalog: GroupView,
    pub pgs: Vec<GroupView>,
    pub moves: MoveProgress,
    /// Every node's status (None: did not answer); not part of the JSON.
    #[serde(skip)]
    pub statuses: Vec<(NodeId, Option<NodeStatus>)>,
    /// The committed map (the file's, epoch 0, before the first commit).
    #[serde(skip)]
    pub map: ClusterMap,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeView {
    pub id: NodeId,
    pub address: String,
    pub in_map: bool,
    pub drain: bool,
    pub up: bool,
    pub capacity: u64,
    pub used: u64,
    pub chunks: u64,
    pub log_file_bytes: u64,
    /// Its background scrub (None: did not answer).
    pub scrub: Option<ScrubStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupView {
    /// The placement group (absent for the catalog).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg: Option<u32>,
    pub target: Vec<NodeId>,
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    pub leader: Option<NodeId>,
    /// Bytes of the PG's chunks (on the replica holding most).
    pub bytes: u64,
    /// On its leader: each follower's lag in log entries (the web console shows it).
    pub lag: Vec<(NodeId, u64)>,
    #[serde(skip)]
    pub status: Option<GroupStatus>,
}

impl GroupView {
    /// The group has exactly its target members, one of which leads it (a leader
    /// that removed itself hands over by an election among the new members).
    pub fn settled(&self) -> bool {
        self.voters == self.target
            && self.learners.is_empty()
            && self.leader.is_some_and(|l| self.target.contains(&l))
            && !self.status.as_ref().is_some_and(|s| s.joint)
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MoveProgress {
    pub pgs_total: u64,
    pub pgs_done: u64,
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub rate_bytes_per_s: f64,
    pub eta_s: Option<f64>,
    pub failed: Vec<FailedMove>,
    /// Nodes still holding groups or chunks the map no longer gives them.
    pub leftovers: Vec<NodeId>,
    pub done: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedMove {
    pub group: GroupId,
    pub error: String,
}

/// Reads the committed map and every node's status.
pub async fn collect(cfg: &ClusterConfig) -> Result<ClusterView, String> {
    let client = NodeClient::remote(cfg).map_err(|e| e.to_string())?;
    let map = match client.cluster_map().await {
        Ok(Some(map)) => map,
        Ok(None) => cfg.map(),
        Err(e) => return Err(format!("cannot read the cluster map: {e}")),
    };
    let mut addrs: BTreeMap<NodeId, String> = BTreeMap::new();
    for n in cfg.nodes.iter().chain(&map.nodes) {
        addrs.insert(n.id, n.address.clone());
    }
    let rpc = RpcClient::for_cluster(
        cfg,
        cairn_node::tls::cluster::Role::Client,
        addrs.clone().into_iter().collect(),
    )
    .map_err(|e| e.to_string())?;
    let calls = addrs.keys().map(|id| {
        let rpc = &rpc;
        async move {
            match rpc
                .call(*id, &Request::Status, Duration::from_secs(3))
                .await
            {
                Ok(Response::Status(s)) => (*id, Some(s)),
                _ => (*id, None),
            }
        }
    });
    let statuses = futures::future::join_all(calls).await;
    Ok(build(&map, &addrs, statuses))
}

fn build(
    map: &ClusterMap,
    addrs: &BTreeMap<NodeId, String>,
    statuses: Vec<(NodeId, Option<NodeStatus>)>,
) -> ClusterView {
    let nodes = statuses
        .iter()
        .map(|(id, s)| {
            let entry = map.node(*id);
            NodeView {
                id: *id,
                address: addrs.get(id).cloned().unwrap_or_default(),
                in_map: entry.is_some(),
                drain: entry.is_some_and(|e| e.drain),
                up: s.is_some(),
                capacity: entry.map(|e| e.capacity).unwrap_or(0),
                used: s.as_ref().map(|s| s.used).unwrap_or(0),
                chunks: s.as_ref().map(|s| s.chunks).unwrap_or(0),
                log_file_bytes: s.as_ref().map(|s| s.log_file_bytes).unwrap_or(0),
                scrub: s.as_ref().map(|s| s.scrub.clone()),
            }
        })
        .collect();
    let seen = groups_as_seen_by_leaders(&statuses);
    let pg_bytes = bytes_per_pg(&statuses);
    let group_view = |group: GroupId, pg: Option<u32>, mut target: Vec<NodeId>| {
        target.sort_unstable();
        let status = seen.get(&group).cloned();
        let mut voters = status
            .as_ref()
            .map(|s| s.voters.clone())
            .unwrap_or_default();
        let mut learners = status
            .as_ref()
            .map(|s| s.learners.clone())
            .unwrap_or_default();
        voters.sort_unstable();
        learners.sort_unstable();
        GroupView {
            pg,
            target,
            voters,
            learners,
            leader: status.as_ref().and_then(|s| s.leader),
            bytes: pg.map(|p| max_bytes(&pg_bytes, p)).unwrap_or(0),
            lag: status.as_ref().map(|s| s.lag.clone()).unwrap_or_default(),
            status,
        }
    };
    let catalog = group_view(CATALOG_GROUP, None, map.catalog_voters());
    let pgs: Vec<GroupView> = map
        .table()
        .into_iter()
        .zip(0u32..)
        .map(|(target, pg)| group_view(pg_group(pg), Some(pg), target))
        .collect();
    let moves = progress(map, &catalog, &pgs, &pg_bytes, &statuses);
    ClusterView {
        name: map.name.clone(),
        epoch: map.epoch,
        replication: map.replication,
        placement_groups: map.placement_groups,
        usable_capacity: map.usable_capacity(),
        nodes,
        catalog,
        pgs,
        moves,
        statuses,
        map: map.clone(),
    }
}

/// Bytes of each PG on each node that answered.
type PgBytes = BTreeMap<u32, BTreeMap<NodeId, u64>>;

fn bytes_per_pg(statuses: &[(NodeId, Option<NodeStatus>)]) -> PgBytes {
    let mut out: PgBytes = BTreeMap::new();
    for (id, s) in statuses {
        for (pg, bytes) in s.iter().flat_map(|s| s.pg_bytes.iter()) {
            out.entry(*pg).or_default().insert(*id, *bytes);
        }
    }
    out
}

fn max_bytes(pg_bytes: &PgBytes, pg: u32) -> u64 {
    pg_bytes
        .get(&pg)
        .and_then(|m| m.values().max().copied())
        .unwrap_or(0)
}

/// The bytes each PG holds (on its fullest replica), for planning.
pub fn pg_sizes(view: &ClusterView) -> BTreeMap<u32, u64> {
    view.pgs
        .iter()
        .filter_map(|g| g.pg.map(|pg| (pg, g.bytes)))
        .collect()
}

fn progress(
    map: &ClusterMap,
    catalog: &GroupView,
    pgs: &[GroupView],
    pg_bytes: &PgBytes,
    statuses: &[(NodeId, Option<NodeStatus>)],
) -> MoveProgress {
    let mut unsettled = 0u64;
    let mut remaining = 0u64;
    for g in pgs.iter().filter(|g| !g.settled()) {
        unsettled += 1;
        let Some(pg) = g.pg else { continue };
        for n in g.target.iter().filter(|n| !g.voters.contains(n)) {
            let have = pg_bytes
                .get(&pg)
                .and_then(|m| m.get(n))
                .copied()
                .unwrap_or(0);
            remaining += g.bytes.saturating_sub(have);
        }
    }
    let failed: Vec<FailedMove> = statuses
        .iter()
        .flat_map(|(_, s)| s.iter().flat_map(|s| s.moves.iter()))
        .filter(|m| m.failures >= FAILED_AFTER)
        .map(|m| FailedMove {
            group: m.group,
            error: m.error.clone().unwrap_or_default(),
        })
        .collect();
    let leftovers = leftovers(map, statuses);
    let pgs_total = u64::from(map.planned_moves).max(unsettled);
    let bytes_total = map.planned_bytes.max(remaining);
    let bytes_done = bytes_total - remaining;
    let elapsed = (cairn_node::now_ms() - map.applied_at_ms).max(1) as f64 / 1000.0;
    let rate = bytes_done as f64 / elapsed;
    MoveProgress {
        pgs_total,
        pgs_done: pgs_total - unsettled.min(pgs_total),
        bytes_total,
        bytes_done,
        rate_bytes_per_s: rate,
        eta_s: (remaining > 0 && rate > 0.0).then(|| remaining as f64 / rate),
        failed,
        done: unsettled == 0 && catalog.settled() && leftovers.is_empty(),
        leftovers,
    }
}

/// Nodes that answered and still run a group, or hold chunks of a PG, that the map
/// does not give them.
fn leftovers(map: &ClusterMap, statuses: &[(NodeId, Option<NodeStatus>)]) -> Vec<NodeId> {
    let placed = |node: NodeId, group: GroupId| map.members_of(group).contains(&node);
    statuses
        .iter()
        .filter_map(|(id, s)| s.as_ref().map(|s| (*id, s)))
        .filter(|(id, s)| {
            s.groups.iter().any(|g| !placed(*id, g.group))
                || s.pg_bytes
                    .iter()
                    .any(|(pg, bytes)| *bytes > 0 && !placed(*id, pg_group(*pg)))
        })
        .map(|(id, _)| id)
        .collect()
}

/// One status per group: the leader's when the leader answered, else any member's.
fn groups_as_seen_by_leaders(
    statuses: &[(NodeId, Option<NodeStatus>)],
) -> BTreeMap<GroupId, GroupStatus> {
    let mut out: BTreeMap<GroupId, GroupStatus> = BTreeMap::new();
    let mut from_leader: BTreeSet<GroupId> = BTreeSet::new();
    for (id, status) in statuses {
        for g in status.iter().flat_map(|s| s.groups.iter()) {
            let is_leader = g.leader == Some(*id) && g.state == "Leader";
            if is_leader {
                from_leader.insert(g.group);
                out.insert(g.group, g.clone());
            } else if !from_leader.contains(&g.group) && !out.contains_key(&g.group) {
                out.insert(g.group, g.clone());
            }
        }
    }
    out
}

/// The view's figures as Prometheus gauges.
pub fn prometheus(view: &ClusterView) -> String {
    let p = &view.moves;
    let nodes_up = view.nodes.iter().filter(|n| n.in_map && n.up).count();
    let nodes_in_map = view.nodes.iter().filter(|n| n.in_map).count();
    let gauges: [(&str, f64); 11] = [
        ("cairn_cluster_map_epoch", view.epoch as f64),
        ("cairn_cluster_nodes", nodes_in_map as f64),
        ("cairn_cluster_nodes_up", nodes_up as f64),
        (
            "cairn_cluster_usable_capacity_bytes",
            view.usable_capacity as f64,
        ),
        ("cairn_moves_pgs_total", p.pgs_total as f64),
        ("cairn_moves_pgs_done", p.pgs_done as f64),
        ("cairn_moves_bytes_total", p.bytes_total as f64),
        ("cairn_moves_bytes_done", p.bytes_done as f64),
        ("cairn_moves_rate_bytes_per_second", p.rate_bytes_per_s),
        ("cairn_moves_eta_seconds", p.eta_s.unwrap_or(0.0)),
        ("cairn_moves_failed", p.failed.len() as f64),
    ];
    let mut out = String::new();
    for (name, value) in gauges {
        out += &format!("# TYPE {name} gauge\n{name} {value}\n");
    }
    out
}
