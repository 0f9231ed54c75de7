//! The end of a verified run: every key is read back (these reads join the
//! history), then the run is judged. It fails when a read returned bytes no write
//! sent (corruption, or a value nobody wrote), when an acknowledged write or
//! delete is lost (the final value comes from a write that completed before it
//! was invoked: a lost write, or a deleted object that reappeared), or when the
//! history is not linearizable. Prints the scenario's row of the fault table.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{client, lock, read, Counts, Verifier};
use crate::linearizability::{check, describe, Action, CheckReport, Op, ValueId, DEFAULT_BUDGET};

/// The verdict on one run.
#[derive(Debug)]
pub struct Summary {
    pub scenario: String,
    pub counts: Counts,
    /// Acknowledged operations on keys whose history the checker accepted.
    pub verified: u64,
    /// Acknowledged writes and deletes the final read-back contradicts.
    pub lost: Vec<String>,
    pub bad_reads: Vec<String>,
    /// Values read whose PUT failed or timed out (allowed: it may have happened).
    pub unknown_visible: usize,
    /// Longest time during the load without an acknowledged write.
    pub longest_gap: Duration,
    pub check: CheckReport,
    pub errors: Vec<String>,
}

/// The value an op leaves in the register if it takes effect (`None` for reads and
/// refused CASes).
fn effect(o: &Op) -> Option<Option<ValueId>> {
    match o.action {
        Action::Write(v) => Some(v),
        Action::Cas { new, applied, .. } if applied != Some(false) => Some(Some(new)),
        _ => None,
    }
}

/// Acknowledged writes of `ops` (one key) that the final read `fin` contradicts:
/// every op that could have left the value it returned completed before the write
/// was invoked.
fn lost_writes(ops: &[&Op], fin: &Op) -> Vec<String> {
    let Action::Read(r) = fin.action else {
        return Vec::new();
    };
    let sources: Vec<&&Op> = ops.iter().filter(|o| effect(o) == Some(r)).collect();
    let mut lost = Vec::new();
    for w in ops
        .iter()
        .filter(|o| o.ret.is_some() && effect(o).is_some())
    {
        if effect(w) == Some(r) {
            continue;
        }
        // The initial "absent" precedes everything.
        let could_follow = sources.iter().any(|s| s.ret.is_none_or(|t| t >= w.call));
        if !could_follow {
            let kind = if effect(w) == Some(None) {
                "acknowledged DELETE undone"
            } else {
                "acknowledged write lost"
            };
            lost.push(format!(
                "{}: {kind}: {}; the final read {}",
                fin.key,
                describe(w),
                describe(fin)
            ));
        }
    }
    lost
}

impl Verifier {
    /// Stop the workers, read every key back (retrying for up to `limit` each),
    /// check everything and print the scenario's row.
    pub async fn finish(mut self, scenario: &str, limit: Duration) -> Summary {
        self.stop().await;
        let load = self.shared.clone();
        let c = client(&self.endpoint, load.opts.op_timeout);
        let checker = load.opts.workers;
        let mut finals: Vec<Op> = Vec::new();
        for k in 0..load.opts.keys {
            let key = format!("k{k}");
            let start = Instant::now();
            while read(&c, &load, checker, &key).await.is_err() {
                assert!(
                    start.elapsed() < limit,
                    "{scenario}: {key} could not be read back within {limit:?}; errors: {:#?}",
                    lock(&load.errors)
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let history = lock(&load.history);
            if let Some(last) = history.last() {
                finals.push(last.clone());
            }
        }
        let history = lock(&load.history).clone();
        let mut lost = Vec::new();
        for fin in &finals {
            let ops: Vec<&Op> = history
                .iter()
                .filter(|o| o.key == fin.key && o.call < fin.call)
                .collect();
            lost.extend(lost_writes(&ops, fin));
        }
        let check = check(&history, DEFAULT_BUDGET);
        let failed_keys: Vec<&str> = check.failures.iter().map(|f| f.key.as_str()).collect();
        let verified = history
            .iter()
            .filter(|o| o.ret.is_some() && !failed_keys.contains(&o.key.as_str()))
            .count() as u64;
        let unknown_values: Vec<ValueId> = history
            .iter()
            .filter(|o| o.ret.is_none())
            .filter_map(|o| effect(o).flatten())
            .collect();
        let unknown_visible = history
            .iter()
            .filter(|o| matches!(o.action, Action::Read(Some(v)) if unknown_values.contains(&v)))
            .count();
        let mut acks: Vec<u64> = lock(&load.write_acks).clone();
        acks.retain(|&t| t >= self.load.0 && t <= self.load.1);
        acks.push(self.load.0);
        acks.push(self.load.1);
        acks.sort_unstable();
        let gap = acks.windows(2).map(|p| p[1] - p[0]).max().unwrap_or(0);
        let s = Summary {
            scenario: scenario.to_string(),
            counts: self.counts(),
            verified,
            lost,
            bad_reads: lock(&load.bad_reads).clone(),
            unknown_visible,
            longest_gap: Duration::from_nanos(gap),
            check,
            errors: lock(&load.errors).clone(),
        };
        s.print();
        s
    }
}

impl Summary {
    /// The scenario's row of the fault table (docs/faults.md).
    pub fn row(&self) -> String {
        let c = &self.counts;
        format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} s |",
            self.scenario,
            c.attempted,
            c.acknowledged,
            c.failed,
            self.verified,
            self.lost.len(),
            self.longest_gap.as_secs_f64()
        )
    }

    fn print(&self) {
        let c = &self.counts;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "fault scenario {}: attempted {} acknowledged {} failed {} verified {} lost {} \
             (acknowledged writes {}, failed writes seen later {}, bad reads {}, checker: {} keys \
             {} ops {} pruned {} steps {} failures); longest window without a successful write {:.2} s",
            self.scenario,
            c.attempted,
            c.acknowledged,
            c.failed,
            self.verified,
            self.lost.len(),
            c.acked_writes,
            self.unknown_visible,
            self.bad_reads.len(),
            self.check.keys,
            self.check.ops,
            self.check.pruned,
            self.check.steps,
            self.check.failures.len(),
            self.longest_gap.as_secs_f64()
        );
        let _ = writeln!(out, "FAULT-TABLE {}", self.row());
        for e in self.errors.iter().take(12) {
            let _ = writeln!(out, "  error: {e}");
        }
        println!("{out}");
        if let Some(path) = std::env::var_os("CAIRN_FAULT_TABLE") {
            use std::io::Write as _;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{}", self.row());
            }
        }
    }

    /// Panic with the details unless the run is clean: nothing lost, no bad read,
    /// a linearizable history, and at least `min_writes` acknowledged writes (so
    /// the run tested something).
    pub fn assert_clean(&self, min_writes: u64) {
        let mut problems = String::new();
        for l in self.lost.iter().take(10) {
            let _ = writeln!(problems, "LOST: {l}");
        }
        for b in self.bad_reads.iter().take(10) {
            let _ = writeln!(problems, "BAD READ: {b}");
        }
        for f in self.check.failures.iter().take(3) {
            let what = if f.violation {
                "NOT LINEARIZABLE"
            } else {
                "UNDECIDED"
            };
            let _ = writeln!(problems, "{what}: key {}: {}", f.key, f.report);
        }
        if self.counts.acked_writes < min_writes {
            let _ = writeln!(
                problems,
                "only {} acknowledged writes (want at least {min_writes}); errors: {:#?}",
                self.counts.acked_writes, self.errors
            );
        }
        assert!(
            problems.is_empty(),
            "fault scenario {}:\n{problems}",
            self.scenario
        );
    }
}
