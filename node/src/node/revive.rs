//! Supervision of the node's Raft groups: openraft stops a group's Raft core for
//! good on a storage error, so every second the node looks for groups stopped
//! that way and restarts them, each with its own backoff (1 s, doubling up to
//! 30 s; forgotten once the group has run for a minute), once the disk is above
//! its floor again. If the shared Raft log itself failed (a failed write, fsync,
//! commit or checkpoint poisons it: `raft::log_db`), it is first reopened from
//! disk, which replays its write-ahead file as a restart would; no failed fsync
//! is retried, and what was acknowledged is on disk. The new Raft instance then
//! starts from the durable state and catches up from its peers. Counters and a
//! per-group gauge go to the node's metrics (`render_revival_metrics`).

use super::support::blocking;
use super::Node;
use crate::ids::GroupId;
use crate::raft::Raft;
use openraft::error::Fatal;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// A restarted group that has run this long starts its backoff afresh.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// One group's restarts.
struct Backoff {
    /// Restarts in a row so far.
    restarts: u32,
    /// When the next restart may run (set once the failure was reported).
    next: Option<Instant>,
    /// The last restart.
    restarted: Option<Instant>,
}

/// The node's supervision state and counters.
#[derive(Default)]
pub(crate) struct Revivals {
    groups: Mutex<HashMap<GroupId, Backoff>>,
    /// Raft instances restarted after a storage failure.
    restarts: AtomicU64,
    /// Attempts to reopen the log that failed.
    reopen_failures: AtomicU64,
}

fn delay(restarts: u32) -> Duration {
    FIRST_DELAY
        .saturating_mul(1u32 << restarts.min(16))
        .min(MAX_DELAY)
}

impl Revivals {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<GroupId, Backoff>> {
        self.groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a stopped group's restart is due now; reports the failure once
    /// per stop, with the wait before the restart.
    fn due(&self, group: GroupId, error: &str, now: Instant) -> bool {
        let mut groups = self.lock();
        let b = groups.entry(group).or_insert(Backoff {
            restarts: 0,
            next: None,
            restarted: None,
        });
        match b.next {
            Some(next) => now >= next,
            None => {
                let wait = delay(b.restarts);
                tracing::error!(
                    "raft group {group}: log storage failed: {error}; reopening in {}s",
                    wait.as_secs()
                );
                b.next = Some(now + wait);
                false
            }
        }
    }

    /// A restart of `group` ran (or was tried): the next waits longer.
    fn restarted(&self, group: GroupId, now: Instant) {
        if let Some(b) = self.lock().get_mut(&group) {
            b.restarts = b.restarts.saturating_add(1);
            b.next = None;
            b.restarted = Some(now);
        }
    }

    /// A restart could not run (the log did not reopen): try again later.
    fn postpone(&self, group: GroupId, now: Instant) {
        if let Some(b) = self.lock().get_mut(&group) {
            b.restarts = b.restarts.saturating_add(1);
            b.next = Some(now + delay(b.restarts));
        }
    }

    /// Forgets the backoff of groups running for `FORGET_AFTER` since their
    /// last restart.
    fn forget_running(&self, running: &[GroupId], now: Instant) {
        self.lock().retain(|g, b| {
            !(running.contains(g)
                && b.restarted
                    .is_some_and(|at| now.duration_since(at) >= FORGET_AFTER))
        });
    }
}

impl Node {
    /// One supervision round (see the file's doc).
    pub(super) async fn revive_failed_groups(&self) {
        let now = Instant::now();
        let (failed, running): (Vec<_>, Vec<_>) = match self.groups.read() {
            Ok(groups) => groups
                .iter()
                .map(|(g, r)| {
                    let stopped = match &r.metrics().borrow().running_state {
                        Err(e @ Fatal::StorageError(_)) => Some(e.to_string()),
                        _ => None,
                    };
                    (*g, r.clone(), stopped)
                })
                .partition(|(_, _, stopped)| stopped.is_some()),
            Err(_) => return,
        };
        let running: Vec<GroupId> = running.into_iter().map(|(g, _, _)| g).collect();
        self.revivals.forget_running(&running, now);
        let due: Vec<(GroupId, Raft, String)> = failed
            .into_iter()
            .filter_map(|(g, r, e)| Some((g, r, e?)))
            .filter(|(g, _, e)| self.revivals.due(*g, e, now))
            .collect();
        if due.is_empty() {
            return;
        }
        if self.disk.below_floor() {
            tracing::debug!(
                groups = due.len(),
                "groups stopped on a storage error wait for room"
            );
            return;
        }
        if let Some(failure) = self.stores.log.failure() {
            let log = self.stores.log.clone();
            match blocking(move || log.reopen()).await {
                Ok(replayed) => tracing::warn!(
                    %failure,
                    replayed,
                    groups = due.len(),
                    "raft log reopened from disk after a storage failure; restarting its groups"
                ),
                Err(error) => {
                    self.revivals
                        .reopen_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%error, "raft log: reopening it from disk failed; trying again later");
                    for (group, _, _) in &due {
                        self.revivals.postpone(*group, now);
                    }
                    return;
                }
            }
        }
        for (group, raft, error) in due {
            {
                // No other round starts the group before the old core is gone.
                let _serial = self.group_changes.lock().await;
                if let Ok(mut groups) = self.groups.write() {
                    groups.remove(&group);
                }
                let _ = raft.shutdown().await;
            }
            self.revivals.restarted(group, now);
            match self.ensure_group(group).await {
                Ok(_) => {
                    self.revivals.restarts.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(group, %error, "raft group restarted after a storage failure");
                }
                Err(e) => {
                    tracing::error!(group, error = %e, "raft group restart failed; retrying")
                }
            }
        }
    }
}

/// The supervision's metrics in Prometheus text.
pub(super) fn render_revival_metrics(node: &Node, out: &mut String) {
    let log = &node.stores.log;
    let gauges = [
        (
            "cairn_raft_log_failed",
            "1 while the Raft log refuses writes after a storage failure",
            u64::from(log.failure().is_some()),
        ),
        (
            "cairn_raft_log_reopens_total",
            "times the Raft log was reopened from disk after a failure",
            log.reopens(),
        ),
        (
            "cairn_raft_log_reopen_failures_total",
            "attempts to reopen the Raft log that failed",
            node.revivals.reopen_failures.load(Ordering::Relaxed),
        ),
        (
            "cairn_raft_group_restarts_total",
            "Raft instances restarted after a storage failure",
            node.revivals.restarts.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, v) in gauges {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {v}");
    }
}
