//! Share balancing for placement at scale. Weighted rendezvous hashing gives each node
//! its weight's share only on average: with 65,536 PGs × 3 replicas over 1,000 nodes a
//! node holds ~197 replicas and the spread is ±7% (one σ), so some nodes hold a quarter
//! more than their share. The balancer computes per-node correction factors on top of the
//! operator's weights (the table is then `placement::table` over the corrected weights)
//! so that every node is within a tolerance of its share, and it starts from the previous
//! factors and only corrects nodes that left the tolerance, so a membership change moves
//! little more than what it must. Pure computation; `docs/scaling.md` says where the
//! factors would live in the cluster map.

use crate::cluster::members::NodeEntry;
use crate::cluster::placement::{hash_term, pick, weight_eff};
use crate::ids::{NodeId, PgId};
use std::collections::{BTreeMap, HashMap};

/// How tightly to balance.
#[derive(Debug, Clone)]
pub struct BalanceOptions {
    /// A node whose share deviates from its target by more than this fraction is
    /// corrected (moved back to its target); balancing stops when none does.
    pub trigger: f64,
    /// Rounds of correction before giving up (the result then says how far it got).
    pub max_rounds: usize,
    /// Candidates kept per PG (its best nodes by uncorrected score). Factors stay within
    /// [1/4, 4], so a node far down a PG's ranking can never reach its top replicas.
    pub candidates: usize,
}

impl Default for BalanceOptions {
    fn default() -> Self {
        BalanceOptions {
            trigger: 0.025,
            max_rounds: 200,
            candidates: 48,
        }
    }
}

/// The balancer's answer.
#[derive(Debug, Clone)]
pub struct Balance {
    /// Correction factor per node (1.0 = none); multiply into `NodeEntry::weight`.
    pub factors: BTreeMap<NodeId, f64>,
    /// Correction rounds run.
    pub rounds: usize,
    /// The largest |share / target - 1| over all nodes at the end.
    pub worst: f64,
}

/// How much of a node's deviation one round corrects (in the exponent): less than
/// all, because the others' corrections move its share too.
const GAIN: f64 = 0.7;

/// The smallest gain a node's damping reaches.
const MIN_GAIN: f64 = 0.05;

const MIN_FACTOR: f64 = 0.25;
const MAX_FACTOR: f64 = 4.0;

/// Each PG's best `k` nodes by uncorrected score, with their hash terms.
struct Candidates {
    lists: Vec<Vec<(f64, usize)>>,
}

impl Candidates {
    fn build(nodes: &[NodeEntry], pg_count: u32, k: usize) -> Candidates {
        let weights: Vec<f64> = nodes.iter().map(weight_eff).collect();
        let pgs: Vec<PgId> = (0..pg_count).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = pgs.len().div_ceil(threads).max(1);
        let lists = std::thread::scope(|s| {
            let handles: Vec<_> = pgs
                .chunks(chunk)
                .map(|part| {
                    let weights = &weights;
                    s.spawn(move || {
                        part.iter()
                            .map(|&pg| best_k(pg, nodes, weights, k))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(lists) => lists,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        Candidates { lists }
    }
}

fn best_k(pg: PgId, nodes: &[NodeEntry], weights: &[f64], k: usize) -> Vec<(f64, usize)> {
    let mut all: Vec<(f64, usize)> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (hash_term(pg, n.id), i))
        .collect();
    let by_score =
        |a: &(f64, usize), b: &(f64, usize)| (weights[b.1] * b.0).total_cmp(&(weights[a.1] * a.0));
    if all.len() > k {
        all.select_nth_unstable_by(k - 1, by_score);
        all.truncate(k);
    }
    all
}

/// Balances `nodes` (the operator's weights) for `pg_count` PGs with `r` replicas,
/// starting from `prior` factors (missing nodes start at 1.0).
pub fn balance(
    nodes: &[NodeEntry],
    pg_count: u32,
    r: usize,
    prior: &BTreeMap<NodeId, f64>,
    opts: &BalanceOptions,
) -> Balance {
    let candidates = Candidates::build(nodes, pg_count, opts.candidates);
    let total_weight: f64 = nodes.iter().map(weight_eff).sum();
    let slots = (pg_count as usize * r.min(nodes.len())) as f64;
    let targets: Vec<f64> = nodes
        .iter()
        .map(|n| slots * weight_eff(n) / total_weight)
        .collect();
    let mut factors: Vec<f64> = nodes
        .iter()
        .map(|n| prior.get(&n.id).copied().unwrap_or(1.0))
        .collect();
    let index: HashMap<NodeId, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();

    let mut gain = vec![GAIN; nodes.len()];
    let mut last_sign = vec![0i8; nodes.len()];
    let mut rounds = 0;
    let worst = loop {
        let counts = count_replicas(nodes, &candidates, &factors, r, &index);
        let deviation: Vec<f64> = counts
            .iter()
            .zip(&targets)
            .map(|(&c, &t)| c as f64 / t - 1.0)
            .collect();
        let worst = deviation.iter().fold(0.0f64, |w, d| w.max(d.abs()));
        if worst <= opts.trigger || rounds >= opts.max_rounds {
            break worst;
        }
        rounds += 1;
        for (i, &d) in deviation.iter().enumerate() {
            if d.abs() > opts.trigger {
                // A node that overshot since its last correction halves its gain: one
                // factor step moves whole PGs, so a small node can otherwise swing
                // between too many and too few for ever.
                let sign = if d > 0.0 { 1 } else { -1 };
                if last_sign[i] == -sign {
                    gain[i] = (gain[i] * 0.5).max(MIN_GAIN);
                }
                last_sign[i] = sign;
                let correction = (1.0 + d).max(0.05).powf(-gain[i]);
                factors[i] = (factors[i] * correction).clamp(MIN_FACTOR, MAX_FACTOR);
            }
        }
    };
    Balance {
        factors: nodes.iter().map(|n| n.id).zip(factors).collect(),
        rounds,
        worst,
    }
}

/// Replicas per node (by index) when each PG picks among its candidates with the
/// corrected weights, by the same rule as `placement::replicas`.
fn count_replicas(
    nodes: &[NodeEntry],
    candidates: &Candidates,
    factors: &[f64],
    r: usize,
    index: &HashMap<NodeId, usize>,
) -> Vec<usize> {
    // The same float operations as `placement::table` over `corrected` nodes.
    let weights: Vec<f64> = nodes
        .iter()
        .zip(factors)
        .map(|(n, f)| {
            weight_eff(&NodeEntry {
                weight: n.weight * f,
                ..n.clone()
            })
        })
        .collect();
    let mut counts = vec![0usize; nodes.len()];
    for list in &candidates.lists {
        let ranked = list
            .iter()
            .map(|&(h, i)| (weights[i] * h, &nodes[i]))
            .collect();
        for id in pick(ranked, r) {
            if let Some(&i) = index.get(&id) {
                counts[i] += 1;
            }
        }
    }
    counts
}

/// `nodes` with their weights multiplied by `factors` (nodes without one unchanged).
pub fn corrected(nodes: &[NodeEntry], factors: &BTreeMap<NodeId, f64>) -> Vec<NodeEntry> {
    nodes
        .iter()
        .map(|n| NodeEntry {
            weight: n.weight * factors.get(&n.id).copied().unwrap_or(1.0),
            ..n.clone()
        })
        .collect()
}
