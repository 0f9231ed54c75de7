//! `cairn cluster plan`: compares a cluster file with the committed cluster map and
//! says what applying it would change — nodes added, drained, removed or changed,
//! the placement groups that move (from → to, bytes), capacity before → after — or
//! why it would be refused. Changes nothing; `apply` commits the same plan.

use super::status::human;
use cairn_node::cluster::config::ClusterConfig;
use cairn_node::cluster::map::ClusterMap;
use cairn_node::cluster::members::NodeEntry;
use cairn_node::ids::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The committed epoch the plan starts from.
    pub epoch: u64,
    /// The epoch applying commits (= `epoch` when nothing changes).
    pub next_epoch: u64,
    pub added: Vec<NodeId>,
    pub removed: Vec<NodeId>,
    pub drained: Vec<NodeId>,
    /// Nodes whose address, capacity, zone or weight (or drain back off) changes.
    pub changed: Vec<NodeId>,
    pub moves: Vec<PgMove>,
    pub bytes_to_move: u64,
    pub usable_capacity_before: u64,
    pub usable_capacity_after: u64,
    /// The map `apply` commits.
    #[serde(skip)]
    pub map: ClusterMap,
}

#[derive(Clone, Debug, Serialize)]
pub struct PgMove {
    pub pg: u32,
    pub from: Vec<NodeId>,
    pub to: Vec<NodeId>,
    /// Bytes copied to the new members.
    pub bytes: u64,
}

impl Plan {
    pub fn changes_anything(&self) -> bool {
        self.next_epoch != self.epoch
    }
}

/// The plan to go from `committed` to the map `file` describes, given the bytes
/// each placement group holds; `Err` says why the file would be refused.
pub fn plan(
    committed: &ClusterMap,
    file: &ClusterConfig,
    pg_sizes: &BTreeMap<u32, u64>,
) -> Result<Plan, String> {
    if committed.epoch == 0 {
        return Err("the cluster has no committed map yet (is it running?)".into());
    }
    if file.name != committed.name {
        return Err(format!(
            "the file describes cluster {:?}, the running cluster is {:?}",
            file.name, committed.name
        ));
    }
    if file.replication != committed.replication {
        return Err(format!(
            "`replication` cannot change on a running cluster ({} → {})",
            committed.replication, file.replication
        ));
    }
    if file.placement_groups != committed.placement_groups {
        return Err(format!(
            "`placement_groups` cannot change on a running cluster ({} → {})",
            committed.placement_groups, file.placement_groups
        ));
    }
    let active = file.nodes.iter().filter(|n| !n.drain).count();
    if active < file.replication {
        return Err(format!(
            "only {active} nodes would remain that are not draining; replication {} needs at least as many",
            file.replication
        ));
    }

    let mut next = file.map();
    let old: BTreeMap<NodeId, &NodeEntry> = committed.nodes.iter().map(|n| (n.id, n)).collect();
    let new: BTreeMap<NodeId, &NodeEntry> = next.nodes.iter().map(|n| (n.id, n)).collect();
    let added: Vec<NodeId> = new
        .keys()
        .filter(|id| !old.contains_key(id))
        .copied()
        .collect();
    let removed: Vec<NodeId> = old
        .keys()
        .filter(|id| !new.contains_key(id))
        .copied()
        .collect();
    let mut drained = Vec::new();
    let mut changed = Vec::new();
    for (id, n) in &new {
        let Some(o) = old.get(id) else { continue };
        if n.drain && !o.drain {
            drained.push(*id);
        }
        if n.address != o.address
            || n.capacity != o.capacity
            || n.zone != o.zone
            || n.weight != o.weight
            || (o.drain && !n.drain)
        {
            changed.push(*id);
        }
    }

    let before = committed.table();
    let after = next.table();
    let mut moves = Vec::new();
    let mut held: BTreeMap<NodeId, u64> = BTreeMap::new();
    for (pg, (from, to)) in (0u32..).zip(before.iter().zip(&after)) {
        let size = pg_sizes.get(&pg).copied().unwrap_or(0);
        for n in to {
            *held.entry(*n).or_default() += size;
        }
        let from_set: BTreeSet<NodeId> = from.iter().copied().collect();
        let to_set: BTreeSet<NodeId> = to.iter().copied().collect();
        if from_set != to_set {
            let new_members = to_set.difference(&from_set).count() as u64;
            moves.push(PgMove {
                pg,
                from: from_set.into_iter().collect(),
                to: to_set.into_iter().collect(),
                bytes: size * new_members,
            });
        }
    }
    for (id, bytes) in &held {
        let capacity = new.get(id).map(|n| n.capacity).unwrap_or(0);
        if *bytes > capacity {
            return Err(format!(
                "InsufficientCapacity: node {id} would hold {} but its capacity is {}",
                human(*bytes),
                human(capacity)
            ));
        }
    }

    let bytes_to_move = moves.iter().map(|m| m.bytes).sum();
    let nodes_differ =
        !added.is_empty() || !removed.is_empty() || !drained.is_empty() || !changed.is_empty();
    let changes = nodes_differ || next.moves != committed.moves;
    next.epoch = if changes {
        committed.epoch + 1
    } else {
        committed.epoch
    };
    next.planned_moves = u32::try_from(moves.len()).unwrap_or(u32::MAX);
    next.planned_bytes = bytes_to_move;
    Ok(Plan {
        epoch: committed.epoch,
        next_epoch: next.epoch,
        added,
        removed,
        drained,
        changed,
        moves,
        bytes_to_move,
        usable_capacity_before: committed.usable_capacity(),
        usable_capacity_after: next.usable_capacity(),
        map: next,
    })
}

pub fn render(plan: &Plan, committed: &ClusterMap) -> String {
    let mut out = String::new();
    if !plan.changes_anything() {
        let _ = writeln!(
            out,
            "cluster map epoch {}: the file matches it; nothing to apply",
            plan.epoch
        );
        return out;
    }
    let _ = writeln!(
        out,
        "cluster map epoch {} → {}",
        plan.epoch, plan.next_epoch
    );
    for id in &plan.added {
        if let Some(n) = plan.map.node(*id) {
            let _ = writeln!(
                out,
                "  + node {id} added ({}, capacity {})",
                n.address,
                human(n.capacity)
            );
        }
    }
    for id in &plan.drained {
        let _ = writeln!(out, "  ~ node {id} drains (its placement groups move away)");
    }
    for id in &plan.removed {
        let _ = writeln!(
            out,
            "  - node {id} removed (its placement groups are re-replicated from the others)"
        );
    }
    for id in &plan.changed {
        if let (Some(o), Some(n)) = (committed.node(*id), plan.map.node(*id)) {
            let _ = writeln!(
                out,
                "  * node {id} changes: address {} → {}, capacity {} → {}, weight {} → {}, zone {:?} → {:?}{}",
                o.address,
                n.address,
                human(o.capacity),
                human(n.capacity),
                o.weight,
                n.weight,
                o.zone,
                n.zone,
                if o.drain && !n.drain { ", no longer draining" } else { "" }
            );
        }
    }
    let _ = writeln!(
        out,
        "placement groups moving: {} of {}",
        plan.moves.len(),
        plan.map.placement_groups
    );
    let ids = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    for m in &plan.moves {
        let _ = writeln!(
            out,
            "  pg {:<5} {} → {} ({})",
            m.pg,
            ids(&m.from),
            ids(&m.to),
            human(m.bytes)
        );
    }
    let _ = writeln!(out, "bytes to move: {}", human(plan.bytes_to_move));
    let _ = writeln!(
        out,
        "usable capacity: {} → {}",
        human(plan.usable_capacity_before),
        human(plan.usable_capacity_after)
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

    /// A cluster file with nodes `ids` (1 GiB each), `drain` draining; R=3, 16 PGs.
    fn file(ids: &[u64], drain: &[u64], replication: usize, pgs: u32) -> ClusterConfig {
        let mut text = format!(
            "name = \"t\"\nreplication = {replication}\nplacement_groups = {pgs}\nsecret = \"0123456789abcdef0123\"\n"
        );
        for id in ids {
            text += &format!(
                "[[node]]\nid = {id}\naddress = \"127.0.0.1:{}\"\ndata_dir = \"n{id}\"\ncapacity = \"1GiB\"\ndrain = {}\n",
                7000 + id,
                drain.contains(id)
            );
        }
        ClusterConfig::parse(&text, Path::new("/d")).unwrap()
    }

    fn committed(ids: &[u64]) -> ClusterMap {
        let mut map = file(ids, &[], 3, 16).map();
        map.epoch = 7;
        map
    }

    fn sizes(each: u64) -> BTreeMap<u32, u64> {
        (0..16).map(|pg| (pg, each)).collect()
    }

    #[test]
    fn adding_a_node_moves_some_groups_to_it() {
        let old = committed(&[1, 2, 3]);
        let p = plan(&old, &file(&[1, 2, 3, 4], &[], 3, 16), &sizes(100)).unwrap();
        assert_eq!((p.epoch, p.next_epoch), (7, 8));
        assert_eq!(p.added, vec![4]);
        assert!(p.removed.is_empty() && p.drained.is_empty() && p.changed.is_empty());
        assert!(!p.moves.is_empty() && p.moves.len() < 16);
        for m in &p.moves {
            assert_eq!(m.from, vec![1, 2, 3]);
            assert!(m.to.contains(&4), "{m:?}");
            assert_eq!(m.bytes, 100);
        }
        assert_eq!(p.bytes_to_move, 100 * p.moves.len() as u64);
        assert_eq!(p.usable_capacity_before, 1 << 30);
        assert_eq!(p.usable_capacity_after, (4u64 << 30) / 3);
        assert_eq!(p.map.planned_moves as usize, p.moves.len());
        // What the plan says moves is what the new map's placement changes.
        let table = p.map.table();
        let unchanged = (0..16u32).filter(|pg| !p.moves.iter().any(|m| m.pg == *pg));
        for pg in unchanged {
            let mut set = table[pg as usize].clone();
            set.sort_unstable();
            assert_eq!(set, vec![1, 2, 3]);
        }
    }

    #[test]
    fn unchanged_file_plans_nothing() {
        let old = committed(&[1, 2, 3]);
        let p = plan(&old, &file(&[1, 2, 3], &[], 3, 16), &sizes(100)).unwrap();
        assert!(!p.changes_anything());
        assert!(p.moves.is_empty());
        assert_eq!(p.bytes_to_move, 0);
    }

    #[test]
    fn draining_moves_everything_off_the_node() {
        let old = committed(&[1, 2, 3, 4]);
        let p = plan(&old, &file(&[1, 2, 3, 4], &[4], 3, 16), &sizes(10)).unwrap();
        assert_eq!(p.drained, vec![4]);
        assert!(p.map.table().iter().all(|set| !set.contains(&4)));
        assert_eq!(p.usable_capacity_after, 1 << 30);
    }

    #[test]
    fn removing_a_node_re_replicates_its_groups() {
        let old = committed(&[1, 2, 3, 4]);
        let p = plan(&old, &file(&[1, 3, 4], &[], 3, 16), &sizes(10)).unwrap();
        assert_eq!(p.removed, vec![2]);
        for m in &p.moves {
            assert!(m.from.contains(&2));
            assert_eq!(m.to, vec![1, 3, 4]);
        }
    }

    #[test]
    fn refuses_what_cannot_change_or_fit() {
        let old = committed(&[1, 2, 3]);
        let err = |cfg: ClusterConfig, size: u64| plan(&old, &cfg, &sizes(size)).unwrap_err();
        assert!(err(file(&[1, 2, 3, 4], &[], 2, 16), 0).contains("replication"));
        assert!(err(file(&[1, 2, 3], &[], 3, 32), 0).contains("placement_groups"));
        assert!(err(file(&[1, 2, 3], &[3], 3, 16), 0).contains("not draining"));
        // 16 PGs of 100 MiB on every node: 1.6 GiB > 1 GiB.
        assert!(err(file(&[1, 2, 3], &[], 3, 16), 100 << 20).starts_with("InsufficientCapacity"));
        let mut uncommitted = old.clone();
        uncommitted.epoch = 0;
        assert!(plan(&uncommitted, &file(&[1, 2, 3], &[], 3, 16), &sizes(0)).is_err());
    }
}
