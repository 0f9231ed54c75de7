//! Placement: which placement group (PG) a chunk belongs to, and which nodes hold a PG
//! (capacity-weighted rendezvous hashing, spread over zones, avoiding draining nodes).

use crate::cluster::members::NodeEntry;
use crate::ids::ChunkId;
use crate::ids::{NodeId, PgId};
use std::cmp::Ordering;
use std::collections::HashSet;

/// The PG of a chunk: the leading log2(`pg_count`) bits of its id (`pg_count` is a power
/// of two; otherwise the largest power of two below it is used). `pg_count` <= 1 gives 0.
pub fn pg_of(id: &ChunkId, pg_count: u32) -> PgId {
    if pg_count <= 1 {
        return 0;
    }
    let bits = pg_count.ilog2();
    let lead = u32::from_be_bytes([id.0[0], id.0[1], id.0[2], id.0[3]]);
    lead >> (32 - bits)
}

/// The hash half of the rendezvous score of (`pg`, `node`): `-1 / ln(u)`, where `u` in
/// (0, 1) comes from the top 53 bits of the first 8 bytes (LE) of
/// `blake3("cairn-pg" ‖ pg LE ‖ node id LE)`. Independent of weights, so a balancer can
/// compute it once and re-rank under other weights (`cluster::balance`).
pub fn hash_term(pg: PgId, node: NodeId) -> f64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"cairn-pg");
    hasher.update(&pg.to_le_bytes());
    hasher.update(&node.to_le_bytes());
    let digest = hasher.finalize();
    let bytes = digest.as_bytes();
    let h = u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ]);
    // 53 bits are exact in an f64, so u stays strictly inside (0, 1).
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    -1.0 / u.ln()
}

/// The weight half of the score: `weight * capacity / 2^30`.
pub fn weight_eff(node: &NodeEntry) -> f64 {
    node.weight * (node.capacity as f64 / (1u64 << 30) as f64)
}

/// The rendezvous score of (`pg`, `node`): `weight_eff * hash_term`. Higher wins.
fn score(pg: PgId, node: &NodeEntry) -> f64 {
    weight_eff(node) * hash_term(pg, node.id)
}

/// The replicas of `pg`, at most `r` distinct nodes, in pick order (the first is the
/// preferred leader). Highest rendezvous score first; at most one node per zone while
/// possible (a node without a zone is its own zone), then the best remaining nodes;
/// draining nodes only when fewer than `r` others exist. Independent of slice order.
pub fn replicas(pg: PgId, nodes: &[NodeEntry], r: usize) -> Vec<NodeId> {
    pick(nodes.iter().map(|n| (score(pg, n), n)).collect(), r)
}

/// The pick rule of `replicas` over already scored candidates (any order).
pub fn pick(mut ranked: Vec<(f64, &NodeEntry)>, r: usize) -> Vec<NodeId> {
    ranked.sort_by(|(sa, a), (sb, b)| match sb.total_cmp(sa) {
        Ordering::Equal => a.id.cmp(&b.id),
        other => other,
    });
    let (active, draining): (Vec<&NodeEntry>, Vec<&NodeEntry>) =
        ranked.into_iter().map(|(_, n)| n).partition(|n| !n.drain);

    let mut picked: Vec<NodeId> = Vec::with_capacity(r);
    let mut zones: HashSet<&str> = HashSet::new();
    for tier in [&active, &draining] {
        // First pass: one node per zone.
        for n in tier {
            if picked.len() >= r {
                return picked;
            }
            if picked.contains(&n.id) {
                continue;
            }
            let new_zone = match n.zone.as_deref() {
                Some(z) => zones.insert(z),
                None => true,
            };
            if new_zone {
                picked.push(n.id);
            }
        }
        // Second pass: the best remaining nodes, whatever their zone.
        for n in tier {
            if picked.len() >= r {
                return picked;
            }
            if !picked.contains(&n.id) {
                picked.push(n.id);
            }
        }
    }
    picked
}

/// Every PG's replica set for `pg_count` PGs with `r` replicas; index = PG id.
pub fn table(nodes: &[NodeEntry], pg_count: u32, r: usize) -> Vec<Vec<NodeId>> {
    (0..pg_count).map(|pg| replicas(pg, nodes, r)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cluster::config::ClusterConfig;
    use std::collections::HashMap;
    use std::path::PathBuf;

    /// The PGs `node` holds a replica of, ascending.
    fn pgs_of_node(table: &[Vec<NodeId>], node: NodeId) -> Vec<PgId> {
        (0..)
            .zip(table)
            .filter(|(_, set)| set.contains(&node))
            .map(|(pg, _)| pg)
            .collect()
    }

    const GIB: u64 = 1 << 30;

    fn node(id: NodeId, capacity_gib: u64, zone: Option<&str>) -> NodeEntry {
        NodeEntry {
            id,
            address: format!("127.0.0.1:{}", 7000 + id),
            data_dir: PathBuf::from(format!("/data/node{id}")),
            capacity: capacity_gib * GIB,
            zone: zone.map(str::to_string),
            weight: 1.0,
            drain: false,
        }
    }

    fn equal_nodes(n: u64) -> Vec<NodeEntry> {
        (1..=n).map(|id| node(id, 100, None)).collect()
    }

    #[test]
    fn pg_of_uses_leading_bits_and_covers_all_pgs() {
        for pg_count in [2u32, 8, 256, 65536] {
            let bits = pg_count.ilog2();
            let mut seen = vec![false; pg_count as usize];
            for i in 0u32..(pg_count * 20) {
                let id = ChunkId::of(&i.to_le_bytes());
                let pg = pg_of(&id, pg_count);
                assert!(pg < pg_count);
                let lead = u32::from_be_bytes([id.0[0], id.0[1], id.0[2], id.0[3]]);
                assert_eq!(pg, lead >> (32 - bits));
                seen[pg as usize] = true;
            }
            assert!(
                seen.iter().all(|s| *s),
                "pg_count {pg_count}: some PG never hit"
            );
        }
        let id = ChunkId([0xff; 32]);
        assert_eq!(pg_of(&id, 1), 0);
        assert_eq!(pg_of(&id, 8), 7);
        assert_eq!(pg_of(&ChunkId([0xa5; 32]), 16), 0xa);
        assert_eq!(pg_of(&ChunkId([0x12; 32]), 65536), 0x1212);
    }

    #[test]
    fn replicas_distinct_sized_and_order_independent() {
        let nodes = equal_nodes(5);
        let mut reversed = nodes.clone();
        reversed.reverse();
        let mut rotated = nodes.clone();
        rotated.rotate_left(2);
        for r in 0..=7 {
            for pg in 0..64 {
                let set = replicas(pg, &nodes, r);
                assert_eq!(set.len(), r.min(nodes.len()));
                let unique: HashSet<_> = set.iter().collect();
                assert_eq!(unique.len(), set.len());
                assert_eq!(set, replicas(pg, &nodes, r), "deterministic");
                assert_eq!(set, replicas(pg, &reversed, r), "reversed order");
                assert_eq!(set, replicas(pg, &rotated, r), "rotated order");
                // A smaller R is a prefix of a larger one (no zones involved).
                assert_eq!(set[..], replicas(pg, &nodes, 7)[..set.len()]);
            }
        }
        assert!(replicas(0, &[], 3).is_empty());
    }

    #[test]
    fn leaders_spread_over_nodes() {
        let nodes = equal_nodes(3);
        let mut leaders = HashSet::new();
        for pg in 0..64 {
            leaders.insert(replicas(pg, &nodes, 3)[0]);
        }
        assert_eq!(leaders.len(), 3);
    }

    #[test]
    fn distinct_zones_when_possible() {
        let zones = ["a", "a", "b", "b", "c", "c"];
        let nodes: Vec<NodeEntry> = (1..=6)
            .map(|id| node(id, 100, Some(zones[id as usize - 1])))
            .collect();
        let zone_of = |id: NodeId| nodes[id as usize - 1].zone.clone();
        for pg in 0..256 {
            let set = replicas(pg, &nodes, 3);
            let z: HashSet<_> = set.iter().map(|id| zone_of(*id)).collect();
            assert_eq!(z.len(), 3, "pg {pg}: {set:?}");
        }
        // Only two zones for R=3: both zones used, the third replica fills in.
        let two: Vec<NodeEntry> = nodes
            .iter()
            .filter(|n| n.zone.as_deref() != Some("c"))
            .cloned()
            .collect();
        for pg in 0..256 {
            let set = replicas(pg, &two, 3);
            assert_eq!(set.len(), 3);
            let z: HashSet<_> = set.iter().map(|id| zone_of(*id)).collect();
            assert_eq!(z.len(), 2, "pg {pg}: {set:?}");
            let first_two: HashSet<_> = set[..2].iter().map(|id| zone_of(*id)).collect();
            assert_eq!(first_two.len(), 2, "distinct zones are picked first");
        }
        // Nodes without a zone each count as their own zone.
        let mut mixed = vec![node(1, 100, Some("a")), node(2, 100, Some("a"))];
        mixed.push(node(3, 100, None));
        mixed.push(node(4, 100, None));
        for pg in 0..256 {
            let set = replicas(pg, &mixed, 3);
            assert!(set.contains(&3) && set.contains(&4), "pg {pg}: {set:?}");
        }
    }

    fn shares(table: &[Vec<NodeId>]) -> HashMap<NodeId, f64> {
        let mut counts: HashMap<NodeId, usize> = HashMap::new();
        for set in table {
            for id in set {
                *counts.entry(*id).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(id, c)| (id, 100.0 * c as f64 / table.len() as f64))
            .collect()
    }

    fn config(nodes: Vec<NodeEntry>, r: usize, pgs: u32) -> ClusterConfig {
        let mut cfg = ClusterConfig::single_node(PathBuf::from("/d"));
        cfg.nodes = nodes;
        cfg.replication = r;
        cfg.placement_groups = pgs;
        cfg
    }

    #[test]
    fn shares_follow_capacity() {
        let cfg = config(
            vec![node(1, 100, None), node(2, 100, None), node(3, 200, None)],
            1,
            4096,
        );
        let table = ClusterConfig::placement_table(&cfg);
        assert_eq!(table.len(), 4096);
        let s = shares(&table);
        assert!((s[&1] - 25.0).abs() < 5.0, "{s:?}");
        assert!((s[&2] - 25.0).abs() < 5.0, "{s:?}");
        assert!((s[&3] - 50.0).abs() < 5.0, "{s:?}");

        // The weight multiplies the capacity.
        let mut weighted = cfg.clone();
        weighted.nodes[0].weight = 2.0;
        let s = shares(&ClusterConfig::placement_table(&weighted));
        assert!((s[&1] - 40.0).abs() < 5.0, "{s:?}");
    }

    #[test]
    fn draining_nodes_avoided_unless_needed() {
        let mut nodes = equal_nodes(4);
        nodes[1].drain = true;
        for pg in 0..256 {
            let set = replicas(pg, &nodes, 3);
            assert_eq!(set.len(), 3);
            assert!(!set.contains(&2), "pg {pg}: {set:?}");
        }
        for pg in 0..256 {
            let set = replicas(pg, &nodes, 4);
            assert_eq!(set.len(), 4);
            assert_eq!(set[3], 2, "the draining node comes last");
        }
        let cfg = config(nodes, 3, 64);
        let table = ClusterConfig::placement_table(&cfg);
        assert!(pgs_of_node(&table, 2).is_empty());
        assert_eq!(pgs_of_node(&table, 1).len(), 64);
    }

    #[test]
    fn adding_a_node_moves_few_pgs() {
        let before = ClusterConfig::placement_table(&config(equal_nodes(3), 1, 4096));
        let after = ClusterConfig::placement_table(&config(equal_nodes(4), 1, 4096));
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let pct = 100.0 * moved as f64 / 4096.0;
        assert!(pct < 35.0, "{pct}% moved");
        assert!(pct > 15.0, "{pct}% moved");
        // Every moved PG moved to the new node.
        for (a, b) in before.iter().zip(&after) {
            if a != b {
                assert_eq!(b, &vec![4]);
            }
        }
    }

    #[test]
    fn pgs_of_node_lists_indexes() {
        let table = vec![vec![1, 2], vec![2, 3], vec![3, 1], vec![2]];
        assert_eq!(pgs_of_node(&table, 1), vec![0, 2]);
        assert_eq!(pgs_of_node(&table, 2), vec![0, 1, 3]);
        assert_eq!(pgs_of_node(&table, 9), Vec::<PgId>::new());
    }
}
