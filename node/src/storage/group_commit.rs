//! Group commit for a redb database (the Raft log). Writers commit without fsync and take a sequence
//! number; a writer whose commit is not yet durable either waits for the sync in
//! progress or, if none is, runs one itself. One syncing commit makes every earlier
//! commit durable, so N concurrent writers pay for about one fsync, not N.
//!
//! A failed sync poisons the group: on Linux a failed `fdatasync` may drop the
//! dirty pages it could not write, and a second call then returns OK although the
//! data never reached the disk. So no sync is ever retried into success: every
//! waiter not yet durable, and every later one, gets the error until the database
//! is reopened (and its log replayed: `raft::log_db`).

use crate::error::{Error, Result};
use std::sync::{Condvar, Mutex};

#[derive(Default)]
struct State {
    /// Commits made so far (not necessarily durable).
    committed: u64,
    /// Every commit up to this one is durable.
    durable: u64,
    /// A writer is running a sync now.
    syncing: bool,
    /// The first sync failure; once set, nothing becomes durable any more.
    failed: Option<String>,
}

#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    changed: Condvar,
}

impl GroupCommit {
    /// Records a commit that has just returned; its sequence number.
    pub fn committed(&self) -> u64 {
        let mut s = self.lock();
        s.committed += 1;
        s.committed
    }

    /// Whether commit `seq` is durable already.
    pub fn is_durable(&self, seq: u64) -> bool {
        self.lock().durable >= seq
    }

    /// Returns once commit `seq` is durable, running `sync` (a syncing commit) when
    /// no other writer is.
    pub fn wait_durable(&self, seq: u64, sync: impl Fn() -> Result<()>) -> Result<()> {
        let mut s = self.lock();
        loop {
            if s.durable >= seq {
                return Ok(());
            }
            if let Some(failure) = &s.failed {
                return Err(poisoned(failure));
            }
            if !s.syncing {
                s.syncing = true;
                let target = s.committed;
                drop(s);
                let result = sync();
                s = self.lock();
                s.syncing = false;
                match &result {
                    Ok(()) => s.durable = s.durable.max(target),
                    Err(e) => {
                        tracing::error!(error = %e, "sync failed: refusing every later write until the log is reopened");
                        s.failed = Some(e.to_string());
                    }
                }
                self.changed.notify_all();
                result?;
                continue;
            }
            s = self
                .changed
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The first sync failure, if one happened: the database refuses writes.
    pub fn failure(&self) -> Option<String> {
        self.lock().failed.clone()
    }

    /// Marks the group failed without a sync (a write that could not complete).
    pub fn fail(&self, reason: String) {
        let mut s = self.lock();
        if s.failed.is_none() {
            s.failed = Some(reason);
        }
        self.changed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The error every write gets once the group failed.
pub fn poisoned(failure: &str) -> Error {
    Error::Io(std::io::Error::other(format!(
        "log storage failed earlier ({failure}); refusing writes until the log is reopened from disk"
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn concurrent_writers_share_syncs() {
        let gc = Arc::new(GroupCommit::default());
        let syncs = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let gc = gc.clone();
                let syncs = syncs.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let seq = gc.committed();
                        gc.wait_durable(seq, || {
                            syncs.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            Ok(())
                        })
                        .unwrap();
                        assert!(gc.lock().durable >= seq);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = syncs.load(Ordering::SeqCst);
        assert!((1..400).contains(&n), "{n} syncs for 400 commits");
    }

    #[test]
    fn failed_sync_poisons_every_later_wait() {
        let gc = GroupCommit::default();
        let first = gc.committed();
        gc.wait_durable(first, || Ok(())).unwrap();
        let seq = gc.committed();
        assert!(gc
            .wait_durable(seq, || Err(Error::Task("disk".into())))
            .is_err());
        // A second sync would "succeed" on Linux; it must not be tried at all.
        let retried = AtomicU64::new(0);
        let again = gc.wait_durable(seq, || {
            retried.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        assert!(again.is_err(), "a failed sync was retried into success");
        assert_eq!(retried.load(Ordering::SeqCst), 0);
        let later = gc.committed();
        assert!(gc.wait_durable(later, || Ok(())).is_err());
        // What was durable before the failure stays durable.
        assert!(gc.wait_durable(first, || Ok(())).is_ok());
        assert!(gc.failure().is_some());
    }

    #[test]
    fn waiters_blocked_on_a_failing_sync_all_fail() {
        let gc = Arc::new(GroupCommit::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let gc = gc.clone();
                std::thread::spawn(move || {
                    let seq = gc.committed();
                    gc.wait_durable(seq, || {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Err(Error::Task("eio".into()))
                    })
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap().is_err());
        }
    }
}
