//! Serving one internal request (`Node::handle`): catalog writes (batched) and
//! linearizable reads, chunk writes and reads, Raft messages, snapshots (with the
//! chunks a placement-group snapshot lists), status and usage. Both the RPC server
//! and the in-process transport end here.

use super::support::*;
use super::Node;
use super::RPC_TIMEOUT;
use crate::cluster::placement::pg_of;
use crate::error::{Error, Result, DISK_FULL};
use crate::ids::ChunkId;
use crate::ids::PgId;
use crate::ids::{group_pg, pg_group, GroupId, NodeId, CATALOG_GROUP};
use crate::raft::state_machine::{ChunkList, LIST_BATCH};
use crate::raft::{Command, Reply};
use crate::records::ChunkRef;
use crate::rpc::messages::{GroupStatus, NodeStatus, Request, Response, SnapshotHeader};
use bytes::Bytes;
use openraft::raft::SnapshotResponse;
use openraft::storage::Snapshot;
use openraft::ServerState;
use std::path::PathBuf;

impl Node {
    /// Serves one internal request.
    #[tracing::instrument(level = "debug", skip_all, fields(node = self.id))]
    pub async fn handle(&self, req: Request) -> Result<Response> {
        match req {
            Request::CatalogWrite(cmd) => {
                let raft = self.raft(CATALOG_GROUP)?;
                self.disk.check_catalog()?;
                self.catalog_writes
                    .write(*cmd, move |batch| write_to(raft, batch))
                    .await
                    .map(Response::Catalog)
                    .map_err(|e| self.full_disk(e))
            }
            Request::CatalogRead(q) => {
                let raft = self.raft(CATALOG_GROUP)?;
                check_quorum(&raft)?;
                raft.ensure_linearizable().await.map_err(read_error)?;
                let stores = self.stores.clone();
                let reply = blocking(move || stores.catalog.query(&q)).await?;
                Ok(Response::Catalog(reply))
            }
            Request::CatalogReadIndex => {
                let raft = self.raft(CATALOG_GROUP)?;
                check_quorum(&raft)?;
                let (read, _) = raft.get_read_log_id().await.map_err(read_error)?;
                Ok(Response::ReadIndex(read.map(|l| l.index).unwrap_or(0)))
            }
            Request::PutChunk { pg, id, data } => {
                // The id was computed by the caller (and checked against the bytes
                // by the RPC server when they crossed the network).
                let len = data.len() as u64;
                if pg_of(&id, self.cfg.placement_groups) != pg {
                    return Err(Error::ChunkCorrupt(id));
                }
                // Held until the write has finished (or failed).
                let _room = if self.stores.chunks.contains(&id) {
                    None
                } else {
                    self.check_room(pg_group(pg), len)?;
                    Some(self.disk.reserve(len)?)
                };
                match self
                    .write(pg_group(pg), Command::PutChunk { id, data })
                    .await
                    .map_err(|e| self.full_disk(e))?
                {
                    Reply::Chunk => Ok(Response::Chunk(ChunkRef { id, len })),
                    _ => Err(Error::Unavailable(format!("chunk {id} lost before commit"))),
                }
            }
            Request::GetChunk { id } => {
                let stores = self.stores.clone();
                let data = blocking(move || stores.chunks.get(&id))
                    .await
                    .inspect_err(|e| {
                        if matches!(e, Error::ChunkCorrupt(_)) {
                            super::scrub_stats::suspect(id);
                        }
                    })?;
                Ok(Response::Data(Bytes::from(data)))
            }
            Request::ReferenceFilter { bytes, salt } => {
                let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
                // Boxed: the filter's read-index barrier goes through `handle` again.
                let filter = Box::pin(self.reference_filter(bytes, salt)).await?;
                Ok(Response::References(filter))
            }
            Request::SuspectChunk { id } => {
                super::scrub_stats::suspect(id);
                Ok(Response::Done)
            }
            Request::ReleaseChunks { ids } => {
                self.stores.chunks.release(&ids);
                Ok(Response::Done)
            }
            Request::TouchChunks { ids } => {
                let stores = self.stores.clone();
                let missing = blocking(move || {
                    let mut missing = Vec::new();
                    for id in ids {
                        match stores.chunks.retain(&id) {
                            Ok(()) => {}
                            Err(Error::ChunkMissing(id)) => missing.push(id),
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(missing)
                })
                .await?;
                Ok(Response::Missing(missing))
            }
            Request::AppendEntries { group, rpc } => {
                let raft = self.raft(group)?;
                if self.is_learner(&raft) {
                    // Data a move brings here is paced by the bandwidth limit.
                    self.throttle
                        .take(
                            crate::raft::entry_bytes(&rpc.entries),
                            self.map().moves.bandwidth,
                        )
                        .await;
                }
                Ok(Response::AppendEntries(raft.append_entries(rpc).await))
            }
            Request::Vote { group, rpc } => Ok(Response::Vote(self.raft(group)?.vote(rpc).await)),
            Request::Status => Ok(Response::Status(self.status().await?)),
            Request::Usage => Ok(Response::Usage(self.stores.chunks.used())),
            Request::Epoch => Ok(Response::Epoch(self.map().epoch)),
            Request::GroupMembers { group } => {
                let m = self.raft(group)?.metrics().borrow().clone();
                if m.state != ServerState::Leader {
                    let address = m.current_leader.and_then(|l| {
                        let node = m.membership_config.membership().get_node(&l).cloned();
                        node.map(|n| n.addr)
                    });
                    return Err(Error::NotLeader {
                        leader: m.current_leader,
                        address,
                    });
                }
                let membership = m.membership_config.membership();
                Ok(Response::Members {
                    voters: membership.voter_ids().collect(),
                    learners: membership.learner_ids().collect(),
                    joint: membership.get_joint_config().len() > 1,
                })
            }
        }
    }

    /// A chunk held here, read for a caller that verifies it.
    pub async fn read_chunk_unverified(&self, id: ChunkId) -> Result<Response> {
        let stores = self.stores.clone();
        let data = blocking(move || stores.chunks.read(&id)).await?;
        Ok(Response::Data(Bytes::from(data)))
    }

    /// Receives a snapshot streamed from a group's leader (already in `path`): for a
    /// placement group, first fetches every listed chunk that is missing here from
    /// the group's other replicas (verified), then installs it.
    pub async fn install_snapshot(
        &self,
        header: SnapshotHeader,
        path: PathBuf,
    ) -> Result<SnapshotResponse<NodeId>> {
        let raft = self.raft(header.group)?;
        if let Some(pg) = group_pg(header.group) {
            let leader = header.vote.leader_id().voted_for();
            self.fetch_missing(pg, &path, leader).await?;
        }
        let snapshot = Snapshot {
            meta: header.meta,
            snapshot: Box::new(crate::raft::SnapshotData::File(path)),
        };
        raft.install_full_snapshot(header.vote, snapshot)
            .await
            .map_err(unavailable)
    }

    async fn fetch_missing(
        &self,
        pg: PgId,
        list: &std::path::Path,
        from: Option<NodeId>,
    ) -> Result<()> {
        let (path, disk) = (list.to_path_buf(), self.stores.disk.clone());
        let mut list = blocking(move || ChunkList::open(&disk, &path)).await?;
        // The leader first, then the PG's replicas, then any node of the map.
        let map = self.map();
        let mut sources: Vec<NodeId> = from.into_iter().collect();
        for n in map.with_fallbacks(map.replicas(pg)) {
            if n != self.id && !sources.contains(&n) {
                sources.push(n);
            }
        }
        let mut fetched = 0u64;
        loop {
            // A batch of ids at a time, those held here left out (off the runtime).
            let stores = self.stores.clone();
            let (back, end, missing) = blocking(move || {
                let batch = list.next_batch(LIST_BATCH)?;
                let end = batch.is_empty();
                let missing: Vec<ChunkId> = batch
                    .into_iter()
                    .filter(|id| !stores.chunks.contains(id))
                    .collect();
                Ok((list, end, missing))
            })
            .await?;
            list = back;
            if end {
                break;
            }
            for id in missing {
                let data = self.fetch_chunk(id, &sources).await?;
                self.throttle
                    .take(data.len() as u64, map.moves.bandwidth)
                    .await;
                let stores = self.stores.clone();
                blocking(move || stores.chunks.put(&id, &data).map(drop)).await?;
                fetched += 1;
            }
        }
        tracing::info!(pg, fetched, "placement group snapshot chunks fetched");
        Ok(())
    }

    /// A chunk from the first of `sources` that has it intact.
    async fn fetch_chunk(&self, id: ChunkId, sources: &[NodeId]) -> Result<Bytes> {
        let mut last = Error::ChunkMissing(id);
        for node in sources {
            match self
                .rpc
                .call(*node, &Request::GetChunk { id }, RPC_TIMEOUT)
                .await
            {
                Ok(Response::Data(data)) if ChunkId::of(&data) == id => return Ok(data),
                Ok(_) => last = Error::ChunkCorrupt(id),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub async fn status(&self) -> Result<NodeStatus> {
        // Counters kept on write and delete: no walk of the chunk files.
        let (chunks, used) = self.stores.chunks.totals();
        let pg_bytes = self.stores.chunks.bytes_per_pg(self.cfg.placement_groups);
        let mut groups = Vec::new();
        for (group, m) in self.group_metrics() {
            let log = self.stores.log.clone();
            // Unknown while the log is being reopened after a failure.
            let bounds = blocking(move || log.bounds(group)).await.ok().flatten();
            let last = m.last_log_index.unwrap_or(0);
            let lag = m
                .replication
                .as_ref()
                .map(|r| {
                    r.iter()
                        .map(|(n, matched)| {
                            (
                                *n,
                                last.saturating_sub(matched.map(|l| l.index).unwrap_or(0)),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let membership = m.membership_config.membership();
            groups.push(GroupStatus {
                group,
                leader: m.current_leader,
                term: m.current_term,
                state: match &m.running_state {
                    Err(e) => format!("Stopped ({e})"),
                    Ok(()) => format!("{:?}", m.state),
                },
                voters: membership.voter_ids().collect(),
                learners: membership.learner_ids().collect(),
                joint: membership.get_joint_config().len() > 1,
                last_log_index: m.last_log_index,
                applied_index: m.last_applied.map(|l| l.index),
                snapshot_index: m.snapshot.map(|l| l.index),
                log_entries: bounds.map(|(a, b)| b - a + 1).unwrap_or(0),
                lag,
            });
        }
        let map = self.map();
        let space = self.disk.space().ok();
        Ok(NodeStatus {
            id: self.id,
            epoch: map.epoch,
            capacity: map
                .node(self.id)
                .or_else(|| self.cfg.node(self.id))
                .map(|n| n.capacity)
                .unwrap_or(0),
            used,
            chunks,
            pg_bytes,
            log_file_bytes: self
                .stores
                .disk
                .metadata(&self.stores.log_path())
                .map(|m| m.len)
                .unwrap_or(0),
            groups,
            moves: self.move_statuses(),
            disk_total: space.map_or(0, |s| s.total),
            disk_free: space.map_or(0, |s| s.free),
            scrub: super::scrub_stats::status(),
        })
    }

    /// A write that failed because the group's storage met a full disk (its
    /// error says so, or the disk is below its floor) failed for lack of room:
    /// `InsufficientCapacity`, not a retryable `Unavailable`.
    fn full_disk(&self, e: Error) -> Error {
        match e {
            Error::Unavailable(msg) if msg.contains(DISK_FULL) || self.disk.below_floor() => {
                Error::InsufficientCapacity(format!("{DISK_FULL} ({msg})"))
            }
            other => other,
        }
    }

    /// Refuses a new chunk of `len` bytes if a member of its group would pass its
    /// capacity (own usage exact, others' as last reported).
    fn check_room(&self, group: GroupId, len: u64) -> Result<()> {
        let Some(raft) = self.raft_opt(group) else {
            return Ok(());
        };
        let members: Vec<NodeId> = raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        let map = self.map();
        let usage = self
            .peer_usage
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default();
        for n in members {
            let Some(capacity) = map.node(n).map(|e| e.capacity) else {
                continue;
            };
            let used = if n == self.id {
                self.stores.chunks.used()
            } else {
                usage.get(&n).copied().unwrap_or(0)
            };
            if used.saturating_add(len) > capacity {
                return Err(Error::InsufficientCapacity(format!(
                    "node {n} holds {used} of its {capacity} bytes"
                )));
            }
        }
        Ok(())
    }
}
