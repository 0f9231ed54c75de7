//! The cluster map: the committed description of the cluster — epoch, replication,
//! placement-group count, the nodes (address, capacity, zone, weight, drain) and
//! the limits of data moves. It lives in the catalog and changes only when
//! `cairn cluster apply` commits the next epoch. Placement, the catalog's voters and
//! the usable capacity are all functions of it.

use crate::cluster::members::{MoveLimits, NodeEntry};
use crate::cluster::placement;
use crate::ids::NodeId;
use crate::ids::PgId;
use crate::ids::{group_pg, pg_group, GroupId, CATALOG_GROUP};
use serde::{Deserialize, Serialize};

/// Largest number of voters in the catalog Raft group.
pub const MAX_CATALOG_VOTERS: usize = 5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterMap {
    /// 0 for a map read from a file, 1 for the first committed map, +1 per apply.
    pub epoch: u64,
    pub name: String,
    pub replication: usize,
    pub placement_groups: u32,
    /// Sorted by id.
    pub nodes: Vec<NodeEntry>,
    pub moves: MoveLimits,
    /// When this epoch was committed (ms since the Unix epoch).
    pub applied_at_ms: i64,
    /// Replica changes (PG, new node) and bytes to copy that the apply planned.
    pub planned_moves: u32,
    pub planned_bytes: u64,
}

impl ClusterMap {
    pub fn node(&self, id: NodeId) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Every PG's replica set (index = PG), the preferred leader first.
    pub fn table(&self) -> Vec<Vec<NodeId>> {
        placement::table(&self.nodes, self.placement_groups, self.replication)
    }

    pub fn replicas(&self, pg: PgId) -> Vec<NodeId> {
        placement::replicas(pg, &self.nodes, self.replication)
    }

    /// The catalog group's voters: the (at most 5) lowest ids of the nodes not
    /// draining (of all nodes if every node drains).
    pub fn catalog_voters(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|n| !n.drain)
            .map(|n| n.id)
            .collect();
        if ids.is_empty() {
            ids = self.nodes.iter().map(|n| n.id).collect();
        }
        ids.sort_unstable();
        ids.truncate(MAX_CATALOG_VOTERS);
        ids
    }

    /// Usable capacity: the summed capacity of the nodes not draining, divided by R.
    pub fn usable_capacity(&self) -> u64 {
        let total: u128 = self
            .nodes
            .iter()
            .filter(|n| !n.drain)
            .map(|n| u128::from(n.capacity))
            .sum();
        let r = u128::try_from(self.replication.max(1)).unwrap_or(1);
        u64::try_from(total / r).unwrap_or(u64::MAX)
    }

    /// The members this map gives a Raft group: the catalog's voters or a PG's
    /// replicas.
    pub fn members_of(&self, group: GroupId) -> Vec<NodeId> {
        match group_pg(group) {
            Some(pg) => self.replicas(pg),
            None => self.catalog_voters(),
        }
    }

    /// Every group with its members: the catalog, then each PG.
    pub fn groups(&self) -> Vec<(GroupId, Vec<NodeId>)> {
        std::iter::once((CATALOG_GROUP, self.catalog_voters()))
            .chain(
                self.table()
                    .into_iter()
                    .zip(0..)
                    .map(|(members, pg)| (pg_group(pg), members)),
            )
            .collect()
    }

    /// Where to look for a PG's chunks: its `replicas`, then every other node of
    /// the map (which may still hold them while the PG moves).
    pub fn with_fallbacks(&self, mut replicas: Vec<NodeId>) -> Vec<NodeId> {
        for n in &self.nodes {
            if !replicas.contains(&n.id) {
                replicas.push(n.id);
            }
        }
        replicas
    }
}
