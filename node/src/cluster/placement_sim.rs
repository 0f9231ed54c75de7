//! Placement at scale, simulated (no processes): 65,536 PGs × 3 replicas over 1,000
//! nodes of mixed capacity in 10 zones. Checks, on the real `placement::table` over the
//! balancer's corrected weights: every node's share within ±5% of its weight's share,
//! adding one node moves at most 1.2× its share of the replicas, no PG has two replicas
//! in one zone, and removing a whole zone leaves every PG placed in distinct zones.
//! Prints the figures `docs/scaling.md` quotes.

#![allow(clippy::unwrap_used)]

use crate::cluster::balance::{balance, corrected, BalanceOptions};
use crate::cluster::members::NodeEntry;
use crate::cluster::placement::{table, weight_eff};
use crate::ids::NodeId;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

const PGS: u32 = 65_536;
const R: usize = 3;
const NODES: u64 = 1_000;
const ZONES: u64 = 10;
const TIB: u64 = 1 << 40;

fn fleet() -> Vec<NodeEntry> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    (1..=NODES)
        .map(|id| entry(id, rng.gen_range(1..=4) * 4 * TIB, id % ZONES))
        .collect()
}

fn entry(id: NodeId, capacity: u64, zone: u64) -> NodeEntry {
    NodeEntry {
        id,
        address: format!("10.0.{}.{}:7000", id / 250, id % 250),
        data_dir: PathBuf::from("/data"),
        capacity,
        zone: Some(format!("z{zone}")),
        weight: 1.0,
        drain: false,
    }
}

/// The largest |replicas / target - 1| of the table, targets by uncorrected weight.
fn worst_deviation(nodes: &[NodeEntry], table: &[Vec<NodeId>]) -> f64 {
    let mut counts: HashMap<NodeId, usize> = HashMap::new();
    for set in table {
        for id in set {
            *counts.entry(*id).or_default() += 1;
        }
    }
    let total: f64 = nodes.iter().map(weight_eff).sum();
    let slots = (table.len() * R) as f64;
    nodes
        .iter()
        .map(|n| {
            let target = slots * weight_eff(n) / total;
            (counts.get(&n.id).copied().unwrap_or(0) as f64 / target - 1.0).abs()
        })
        .fold(0.0, f64::max)
}

/// Asserts every PG has R replicas in R distinct zones.
fn assert_zone_spread(nodes: &[NodeEntry], table: &[Vec<NodeId>]) {
    let zone: HashMap<NodeId, &str> = nodes
        .iter()
        .map(|n| (n.id, n.zone.as_deref().unwrap()))
        .collect();
    for (pg, set) in table.iter().enumerate() {
        assert_eq!(set.len(), R, "PG {pg}: {set:?}");
        let zones: HashSet<&str> = set.iter().map(|id| zone[id]).collect();
        assert_eq!(
            zones.len(),
            R,
            "PG {pg} has two replicas in one zone: {set:?}"
        );
    }
}

/// Replica slots of `after` not in the same PG's set of `before`.
fn moved_slots(before: &[Vec<NodeId>], after: &[Vec<NodeId>]) -> usize {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.iter().filter(|id| !b.contains(id)).count())
        .sum()
}

#[test]
fn placement_at_scale_is_balanced_stable_and_zone_safe() {
    let started = Instant::now();
    let nodes = fleet();
    let fresh = BalanceOptions::default();

    let unbalanced = balance(
        &nodes,
        PGS,
        R,
        &BTreeMap::new(),
        &BalanceOptions {
            max_rounds: 0,
            ..fresh.clone()
        },
    );
    let first = balance(&nodes, PGS, R, &BTreeMap::new(), &fresh);
    let t1 = table(&corrected(&nodes, &first.factors), PGS, R);
    let worst1 = worst_deviation(&nodes, &t1);
    println!(
        "figure: {NODES} nodes, {ZONES} zones, {PGS} PGs x {R}: share deviation without \
         balancing {:.1}%, balanced {:.1}% after {} rounds",
        unbalanced.worst * 100.0,
        worst1 * 100.0,
        first.rounds
    );
    assert!(worst1 <= 0.05, "worst share deviation {worst1}");
    // The balancer ranks only each PG's best candidates; the real table agrees.
    assert!(
        (first.worst - worst1).abs() < 1e-9,
        "{} vs {worst1}",
        first.worst
    );
    assert_zone_spread(&nodes, &t1);

    // One node more (average zone, a small capacity): corrections start from the
    // previous factors and only touch nodes that left a wider band.
    let mut grown = nodes.clone();
    let new_node = entry(NODES + 1, 8 * TIB, 3);
    grown.push(new_node.clone());
    let incremental = BalanceOptions {
        trigger: 0.04,
        ..fresh.clone()
    };
    let second = balance(&grown, PGS, R, &first.factors, &incremental);
    let t2 = table(&corrected(&grown, &second.factors), PGS, R);
    let worst2 = worst_deviation(&grown, &t2);
    assert!(
        worst2 <= 0.05,
        "after adding a node: worst deviation {worst2}"
    );
    assert_zone_spread(&grown, &t2);
    let moved = moved_slots(&t1, &t2) as f64 / (PGS as usize * R) as f64;
    let share = weight_eff(&new_node) / grown.iter().map(weight_eff).sum::<f64>();
    let n = grown.len() as f64;
    println!(
        "figure: adding node {} moved {:.3}% of replica slots (its share {:.3}%, 1/N {:.3}%), \
         {} rounds, worst deviation {:.1}%",
        new_node.id,
        moved * 100.0,
        share * 100.0,
        100.0 / n,
        second.rounds,
        worst2 * 100.0
    );
    assert!(moved <= 1.2 * share, "moved {moved}, share {share}");
    assert!(moved <= 1.2 / n, "moved {moved}, 1/N {}", 1.0 / n);

    // A whole zone lost: every PG still gets R replicas in distinct zones.
    let survivors: Vec<NodeEntry> = nodes
        .iter()
        .filter(|n| n.zone.as_deref() != Some("z9"))
        .cloned()
        .collect();
    let t3 = table(&corrected(&survivors, &first.factors), PGS, R);
    assert_zone_spread(&survivors, &t3);
    println!(
        "figure: zone z9 removed: every PG placed in {R} distinct zones; worst deviation \
         {:.1}% before rebalancing; simulation took {:.1} s",
        worst_deviation(&survivors, &t3) * 100.0,
        started.elapsed().as_secs_f64()
    );
}
