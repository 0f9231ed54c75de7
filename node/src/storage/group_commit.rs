//! Group commit for a redb database (the Raft log). Writers commit without fsync and take a sequence
//! number; a writer whose commit is not yet durable either waits for the sync in
//! progress or, if none is, runs one itself. One syncing commit makes every earlier
//! commit durable, so N concurrent writers pay for about one fsync, not N.

use crate::error::Result;
use std::sync::{Condvar, Mutex};

#[derive(Default)]
struct State {
    /// Commits made so far (not necessarily durable).
    committed: u64,
    /// Every commit up to this one is durable.
    durable: u64,
    /// A writer is running a sync now.
    syncing: bool,
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
            if !s.syncing {
                s.syncing = true;
                let target = s.committed;
                drop(s);
                let result = sync();
                s = self.lock();
                s.syncing = false;
                if result.is_ok() {
                    s.durable = s.durable.max(target);
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::Error;
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
    fn failed_sync_is_reported_and_retried() {
        let gc = GroupCommit::default();
        let seq = gc.committed();
        assert!(gc
            .wait_durable(seq, || Err(Error::Task("disk".into())))
            .is_err());
        gc.wait_durable(seq, || Ok(())).unwrap();
    }
}
