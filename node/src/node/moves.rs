//! Moving groups to the members the committed map gives them. The leader of a
//! group whose voters differ from its target adds each new member as a learner,
//! waits until it has caught up (a placement group's snapshot is its chunk list;
//! the learner pulls the chunks it lacks, paced by the bandwidth limit), then
//! changes the membership to the target (joint consensus), which removes the old
//! members. A node the map no longer places in a group leaves it once the group's
//! leader confirms it is out: it stops the group and deletes the group's log,
//! snapshots and (for a placement group) chunks.

use super::move_state::MoveState;
use super::support::{blocking, unavailable};
use super::{Node, RPC_TIMEOUT};
use crate::cluster::placement::pg_of;
use crate::error::{Error, Result};
use crate::ids::{group_pg, GroupId, NodeId, CATALOG_GROUP};
use crate::raft::Raft;
use crate::rpc::messages::{MoveStatus, Request, Response};
use openraft::{BasicNode, RaftMetrics, ServerState};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A failed move is tried again after this long.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// A learner that cannot be reached for this long fails its move.
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(30);
/// A learner this many entries behind counts as caught up.
const CAUGHT_UP_LAG: u64 = 32;

impl Node {
    /// One round: start the moves this node should lead.
    pub(crate) fn move_tick(self: &Arc<Self>) {
        let map = self.map();
        if map.epoch == 0 {
            return;
        }
        for (group, m) in self.group_metrics() {
            let target = map.members_of(group);
            if !target.is_empty() && m.state == ServerState::Leader {
                self.maybe_start_move(group, &target, &m, map.moves.concurrency);
            }
        }
    }

    /// One round: leave the groups the map took this node out of (checked with
    /// their leaders, concurrently).
    pub(crate) async fn leave_tick(&self) {
        let map = self.map();
        if map.epoch == 0 {
            return;
        }
        let checks = self.group_metrics().into_iter().filter_map(|(group, m)| {
            let target = map.members_of(group);
            let out =
                !target.is_empty() && !target.contains(&self.id) && m.state != ServerState::Leader;
            out.then_some(async move {
                if let Err(error) = self.maybe_leave(group, &target, &m).await {
                    tracing::debug!(group, %error, "could not check group membership");
                }
            })
        });
        futures::future::join_all(checks).await;
    }

    fn maybe_start_move(
        self: &Arc<Self>,
        group: GroupId,
        target: &[NodeId],
        m: &RaftMetrics<NodeId, BasicNode>,
        concurrency: u32,
    ) {
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let wanted: BTreeSet<NodeId> = target.iter().copied().collect();
        let Ok(mut moves) = self.moves.lock() else {
            return;
        };
        if voters == wanted && membership.get_joint_config().len() == 1 {
            if moves.get(&group).is_some_and(|s| !s.running) {
                moves.remove(&group);
            }
            return;
        }
        if membership.get_joint_config().len() > 1 {
            return;
        }
        let running = moves.values().filter(|s| s.running).count();
        let state = moves.entry(group).or_insert_with(|| MoveState::new(target));
        if state.running
            || (state.failures > 0 && state.last_attempt.elapsed() < RETRY_AFTER)
            || running >= concurrency as usize
        {
            return;
        }
        if state.target != target {
            *state = MoveState::new(target);
        }
        state.running = true;
        state.last_attempt = Instant::now();
        let Some(raft) = self.raft_opt(group) else {
            state.running = false;
            return;
        };
        let node = self.clone();
        let target = target.to_vec();
        tracing::info!(group, from = ?voters, to = ?target, "moving group");
        tokio::spawn(async move {
            let started = Instant::now();
            let result = node.move_group(&raft, &target).await;
            let Ok(mut moves) = node.moves.lock() else {
                return;
            };
            let Some(state) = moves.get_mut(&group) else {
                return;
            };
            state.running = false;
            match result {
                Ok(()) => {
                    tracing::info!(group, to = ?target, secs = started.elapsed().as_secs_f64(), "group moved");
                    moves.remove(&group);
                }
                Err(e) => {
                    tracing::warn!(group, error = %e, "group move failed");
                    state.failures += 1;
                    state.error = Some(e.to_string());
                }
            }
        });
    }

    /// Adds the target's new members as learners, waits for each to catch up,
    /// then makes the target the group's voters.
    async fn move_group(&self, raft: &Raft, target: &[NodeId]) -> Result<()> {
        let map = self.map();
        let m = raft.metrics().borrow().clone();
        let membership = m.membership_config.membership().clone();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let learners: BTreeSet<NodeId> = membership.learner_ids().collect();
        for n in target {
            if voters.contains(n) {
                continue;
            }
            if !learners.contains(n) {
                self.wait_adopted(*n, map.epoch).await?;
                let addr = map
                    .node(*n)
                    .map(|e| e.address.clone())
                    .ok_or_else(|| Error::Config(format!("node {n} is not in the map")))?;
                raft.add_learner(*n, BasicNode::new(addr), false)
                    .await
                    .map_err(unavailable)?;
            }
            self.wait_caught_up(raft, *n).await?;
        }
        let wanted: BTreeSet<NodeId> = target.iter().copied().collect();
        raft.change_membership(wanted, false)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Waits (up to 10 s) until node `n` has adopted map `epoch`, so it runs the
    /// groups that map gives it before their leaders send it entries.
    async fn wait_adopted(&self, n: NodeId, epoch: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self
                .rpc
                .call(n, &Request::Epoch, Duration::from_secs(2))
                .await
            {
                Ok(Response::Epoch(e)) if e >= epoch => return Ok(()),
                Ok(_) => {}
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "node {n} has not adopted map epoch {epoch}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until learner `n` is close to the leader's log (or fails if this node
    /// stops leading or `n` stays unreachable).
    async fn wait_caught_up(&self, raft: &Raft, n: NodeId) -> Result<()> {
        let mut unreachable_since: Option<Instant> = None;
        let mut last_ping = Instant::now();
        loop {
            let m = raft.metrics().borrow().clone();
            if m.state != ServerState::Leader {
                return Err(Error::NotLeader {
                    leader: m.current_leader,
                    address: None,
                });
            }
            let goal = m.last_log_index.unwrap_or(0);
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&n).copied().flatten())
                .map(|l| l.index);
            if matched.is_some_and(|i| i + CAUGHT_UP_LAG >= goal) {
                return Ok(());
            }
            if last_ping.elapsed() >= Duration::from_secs(5) {
                last_ping = Instant::now();
                match self.rpc.call(n, &Request::Usage, RPC_TIMEOUT).await {
                    Ok(_) => unreachable_since = None,
                    Err(e) => {
                        let since = *unreachable_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= UNREACHABLE_LIMIT {
                            return Err(Error::Unavailable(format!(
                                "node {n} unreachable for {}s: {e}",
                                since.elapsed().as_secs()
                            )));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Leaves `group` if its leader's membership no longer has this node.
    async fn maybe_leave(
        &self,
        group: GroupId,
        target: &[NodeId],
        m: &RaftMetrics<NodeId, BasicNode>,
    ) -> Result<()> {
        let mut candidates: Vec<NodeId> = m.current_leader.into_iter().collect();
        for n in target {
            if !candidates.contains(n) {
                candidates.push(*n);
            }
        }
        candidates.retain(|n| *n != self.id);
        let rpc = &self.rpc;
        let req = Request::GroupMembers { group };
        let resp = self
            .router
            .to_leader(group, &candidates, Duration::from_secs(2), |n| {
                rpc.call(n, &req, Duration::from_secs(5))
            })
            .await?;
        if let Response::Members {
            voters,
            learners,
            joint,
        } = resp
        {
            if !joint && !voters.contains(&self.id) && !learners.contains(&self.id) {
                self.leave_group(group).await?;
            }
        }
        Ok(())
    }

    /// Stops `group` here and deletes what this node held of it.
    async fn leave_group(&self, group: GroupId) -> Result<()> {
        let _serial = self.group_changes.lock().await;
        let raft = self.groups.write().ok().and_then(|mut g| g.remove(&group));
        if let Some(raft) = raft {
            let _ = raft.shutdown().await;
        }
        if let Ok(mut moves) = self.moves.lock() {
            moves.remove(&group);
        }
        let stores = self.stores.clone();
        let freed = blocking(move || {
            stores.log.drop_group(group)?;
            stores.drop_snapshots(group)?;
            match group_pg(group) {
                Some(pg) => {
                    let count = stores.pg_count;
                    stores.chunks.delete_where(|id| pg_of(id, count) == pg)
                }
                None => {
                    // A stale catalog must not look current if the node rejoins.
                    debug_assert_eq!(group, CATALOG_GROUP);
                    stores.catalog.load(&mut std::io::empty())?;
                    Ok(0)
                }
            }
        })
        .await?;
        tracing::info!(group, freed_bytes = freed, "left group");
        Ok(())
    }

    /// The moves this node leads, for its status.
    pub(crate) fn move_statuses(&self) -> Vec<MoveStatus> {
        let Ok(moves) = self.moves.lock() else {
            return Vec::new();
        };
        let mut out: Vec<MoveStatus> = moves
            .iter()
            .map(|(group, s)| MoveStatus {
                group: *group,
                target: s.target.clone(),
                running: s.running,
                failures: s.failures,
                error: s.error.clone(),
            })
            .collect();
        out.sort_by_key(|s| s.group);
        out
    }

    /// Refreshes what other nodes report they hold (for capacity checks).
    pub(crate) async fn refresh_usage(&self) {
        let map = self.map();
        for n in map.nodes.iter().filter(|n| n.id != self.id) {
            if let Ok(Response::Usage(used)) = self
                .rpc
                .call(n.id, &Request::Usage, Duration::from_secs(2))
                .await
            {
                if let Ok(mut u) = self.peer_usage.lock() {
                    u.insert(n.id, used);
                }
            }
        }
    }
}
