//! Reaching a Raft group's leader: a cache of leader hints per group, `NotLeader`
//! redirects, and retries — of failures that left nothing done — over the group's
//! candidate nodes until a retry window closes. Used by the gateway's `NodeClient`
//! and by nodes calling the catalog leader.

use crate::error::{Error, Result};
use crate::ids::{GroupId, NodeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Router {
    leaders: Mutex<HashMap<GroupId, NodeId>>,
}

impl Router {
    pub fn leader(&self, group: GroupId) -> Option<NodeId> {
        self.leaders.lock().ok()?.get(&group).copied()
    }

    fn set_leader(&self, group: GroupId, node: Option<NodeId>) {
        if let Ok(mut l) = self.leaders.lock() {
            match node {
                Some(n) => l.insert(group, n),
                None => l.remove(&group),
            };
        }
    }

    /// Calls the leader of `group` through `call(node)`: the cached leader first,
    /// else `candidates` in turn; follows `NotLeader` hints (to any node) and retries
    /// retryable failures with backoff until `window` has passed.
    pub async fn to_leader<T, F, Fut>(
        &self,
        group: GroupId,
        candidates: &[NodeId],
        window: Duration,
        call: F,
    ) -> Result<T>
    where
        F: Fn(NodeId) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if candidates.is_empty() {
            return Err(Error::Unavailable(format!("group {group} has no members")));
        }
        let deadline = Instant::now() + window;
        let mut attempt = 0usize;
        let mut delay = Duration::from_millis(20);
        loop {
            let target = self
                .leader(group)
                .unwrap_or(candidates[attempt % candidates.len()]);
            let err = match call(target).await {
                Ok(resp) => {
                    self.set_leader(group, Some(target));
                    return Ok(resp);
                }
                Err(e) => e,
            };
            if !err.is_retryable() || Instant::now() >= deadline {
                return Err(err);
            }
            match err {
                Error::NotLeader {
                    leader: Some(l), ..
                } if l != target => {
                    self.set_leader(group, Some(l));
                }
                _ => {
                    self.set_leader(group, None);
                    attempt += 1;
                }
            }
            tracing::debug!(group, target, error = %err, "retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }
}
