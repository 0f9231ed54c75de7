//! `Node`: one storage node — its stores, its Raft groups (the catalog group if it
//! is a voter, and every placement group placed on it), and the handling of every
//! internal request. The RPC server (remote callers) and the in-process transport
//! (the embedded server) both end in `Node::handle`.

use crate::cluster_config::{ClusterConfig, NodeEntry};
use crate::placement::{pg_of, pgs_of_node, placement_table, PgId};
use crate::raft::log_store::LogStore;
use crate::raft::network::Network;
use crate::raft::state_machine::{read_chunk_list, Kind, StateMachine};
use crate::raft::{
    config, group_pg, pg_group, Command, GroupId, NodeId, Raft, Reply, CATALOG_GROUP,
};
use crate::records::ChunkRef;
use crate::rpc::client::RpcClient;
use crate::rpc::messages::{GroupStatus, NodeStatus, Request, Response, SnapshotHeader};
use crate::stores::Stores;
use crate::{gc, ChunkId, Error, Result};
use bytes::Bytes;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::raft::SnapshotResponse;
use openraft::storage::Snapshot;
use openraft::BasicNode;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Unreferenced chunks younger than this are kept.
    pub gc_grace: Duration,
    /// Time between garbage collection passes.
    pub gc_interval: Duration,
}

pub struct Node {
    pub id: NodeId,
    pub cfg: ClusterConfig,
    pub stores: Arc<Stores>,
    pub rpc: Arc<RpcClient>,
    /// Replica set of every placement group, index = PG.
    pub table: Vec<Vec<NodeId>>,
    groups: HashMap<GroupId, Raft>,
}

/// How long an RPC made on behalf of a node may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// Opens the node's stores and starts its Raft groups; the lowest-id member of
    /// each group initializes it on first start.
    pub async fn start(cfg: ClusterConfig, id: NodeId, opts: NodeOptions) -> Result<Arc<Node>> {
        let entry = cfg
            .node(id)
            .ok_or_else(|| Error::Config(format!("node {id} is not in the cluster file")))?
            .clone();
        let stores = Stores::open(&entry.data_dir, cfg.placement_groups)?;
        let addrs = cfg
            .nodes
            .iter()
            .map(|n| (n.id, n.address.clone()))
            .collect();
        let rpc = Arc::new(RpcClient::new(&cfg.secret, addrs)?);
        let table = placement_table(&cfg);

        let mut members: Vec<(GroupId, Kind, Vec<NodeId>)> = Vec::new();
        let voters = cfg.catalog_voters();
        if voters.contains(&id) {
            members.push((CATALOG_GROUP, Kind::Catalog, voters));
        }
        for pg in pgs_of_node(&table, id) {
            let replicas = table.get(pg as usize).cloned().unwrap_or_default();
            members.push((pg_group(pg), Kind::Pg(pg), replicas));
        }

        let mut groups = HashMap::new();
        for (group, kind, _) in &members {
            let raft = Raft::new(
                id,
                config(&cfg.name, *group, &cfg.raft)?,
                Network {
                    group: *group,
                    rpc: rpc.clone(),
                },
                LogStore::new(*group, stores.log.clone()),
                StateMachine::new(*group, *kind, stores.clone())?,
            )
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
            groups.insert(*group, raft);
        }
        let node = Arc::new(Node {
            id,
            cfg,
            stores,
            rpc,
            table,
            groups,
        });
        // A group's first member initializes it: the lowest voter for the catalog,
        // the preferred replica for a placement group, so PG leaders spread out.
        for (group, _, ids) in &members {
            if ids.first() == Some(&id) {
                node.initialize(*group, ids).await?;
            }
        }
        node.clone().spawn_gc(opts);
        tracing::info!(node = id, groups = node.groups.len(), "node started");
        Ok(node)
    }

    async fn initialize(&self, group: GroupId, ids: &[NodeId]) -> Result<()> {
        let raft = self.raft(group)?;
        if raft.is_initialized().await.map_err(unavailable)? {
            return Ok(());
        }
        let members: BTreeMap<NodeId, BasicNode> = ids
            .iter()
            .filter_map(|i| self.cfg.node(*i))
            .map(|n: &NodeEntry| (n.id, BasicNode::new(&n.address)))
            .collect();
        if let Err(e) = raft.initialize(members).await {
            tracing::debug!(group, error = %e, "group already initialized");
        }
        Ok(())
    }

    fn raft(&self, group: GroupId) -> Result<&Raft> {
        self.groups
            .get(&group)
            .ok_or_else(|| Error::Remote(format!("node {} holds no group {group}", self.id)))
    }

    /// Serves one internal request.
    #[tracing::instrument(level = "debug", skip_all, fields(node = self.id))]
    pub async fn handle(&self, req: Request) -> Result<Response> {
        match req {
            Request::CatalogWrite(cmd) => {
                match self.write(CATALOG_GROUP, Command::Catalog(cmd)).await? {
                    Reply::Catalog(r) => (*r).map(Response::Catalog).map_err(Error::from),
                    other => Err(Error::Remote(format!("unexpected reply {other:?}"))),
                }
            }
            Request::CatalogRead(q) => {
                let raft = self.raft(CATALOG_GROUP)?;
                raft.ensure_linearizable().await.map_err(read_error)?;
                let stores = self.stores.clone();
                let reply = blocking(move || stores.catalog.query(&q)).await?;
                Ok(Response::Catalog(reply))
            }
            Request::CatalogReadIndex => {
                let raft = self.raft(CATALOG_GROUP)?;
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
                match self
                    .write(pg_group(pg), Command::PutChunk { id, data })
                    .await?
                {
                    Reply::Chunk => Ok(Response::Chunk(ChunkRef { id, len })),
                    _ => Err(Error::Unavailable(format!("chunk {id} lost before commit"))),
                }
            }
            Request::GetChunk { id } => {
                let stores = self.stores.clone();
                let data = blocking(move || stores.chunks.get(&id)).await?;
                Ok(Response::Data(Bytes::from(data)))
            }
            Request::TouchChunks { ids } => {
                let stores = self.stores.clone();
                blocking(move || ids.iter().try_for_each(|id| stores.chunks.retain(id))).await?;
                Ok(Response::Done)
            }
            Request::AppendEntries { group, rpc } => {
                let r = self.raft(group)?.append_entries(rpc).await;
                Ok(Response::AppendEntries(r))
            }
            Request::Vote { group, rpc } => Ok(Response::Vote(self.raft(group)?.vote(rpc).await)),
            Request::Status => Ok(Response::Status(self.status().await?)),
        }
    }

    async fn write(&self, group: GroupId, cmd: Command) -> Result<Reply> {
        let raft = self.raft(group)?;
        match raft.client_write(cmd).await {
            Ok(resp) => Ok(resp.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(Error::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(e) => Err(unavailable(e)),
        }
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
            snapshot: Box::new(crate::raft::SnapshotFile { path }),
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
        let list = list.to_path_buf();
        let ids = blocking(move || read_chunk_list(&list)).await?;
        let mut sources: Vec<NodeId> = from.into_iter().collect();
        for n in self.table.get(pg as usize).into_iter().flatten() {
            if *n != self.id && !sources.contains(n) {
                sources.push(*n);
            }
        }
        let mut fetched = 0u64;
        for id in ids {
            if self.stores.chunks.contains(&id) {
                continue;
            }
            let data = self.fetch_chunk(id, &sources).await?;
            let stores = self.stores.clone();
            blocking(move || stores.chunks.put(&id, &data).map(drop)).await?;
            fetched += 1;
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
        let stores = self.stores.clone();
        let (chunks, used) = blocking(move || {
            let list = stores.chunks.list()?;
            let used = stores.chunks.total_bytes(&list);
            Ok((list.len() as u64, used))
        })
        .await?;
        let mut groups = Vec::new();
        let mut ids: Vec<&GroupId> = self.groups.keys().collect();
        ids.sort();
        for group in ids {
            let raft = &self.groups[group];
            let m = raft.metrics().borrow().clone();
            let log = self.stores.log.clone();
            let g = *group;
            let bounds = blocking(move || log.bounds(g)).await?;
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
            groups.push(GroupStatus {
                group: *group,
                leader: m.current_leader,
                term: m.current_term,
                state: format!("{:?}", m.state),
                voters: m.membership_config.membership().voter_ids().collect(),
                last_log_index: m.last_log_index,
                applied_index: m.last_applied.map(|l| l.index),
                snapshot_index: m.snapshot.map(|l| l.index),
                log_entries: bounds.map(|(a, b)| b - a + 1).unwrap_or(0),
                lag,
            });
        }
        Ok(NodeStatus {
            id: self.id,
            capacity: self.cfg.node(self.id).map(|n| n.capacity).unwrap_or(0),
            used,
            chunks,
            log_file_bytes: std::fs::metadata(self.stores.log_path())
                .map(|m| m.len())
                .unwrap_or(0),
            groups,
        })
    }

    /// Raft metrics of every group on this node.
    pub fn group_metrics(&self) -> Vec<(GroupId, openraft::RaftMetrics<NodeId, BasicNode>)> {
        let mut out: Vec<_> = self
            .groups
            .iter()
            .map(|(g, r)| (*g, r.metrics().borrow().clone()))
            .collect();
        out.sort_by_key(|(g, _)| *g);
        out
    }

    /// Waits until the catalog group has a leader (or `timeout` passes).
    pub async fn wait_for_catalog_leader(&self, timeout: Duration) -> Result<()> {
        let raft = self.raft(CATALOG_GROUP)?;
        raft.wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "catalog leader")
            .await
            .map(drop)
            .map_err(unavailable)
    }

    pub async fn shutdown(&self) {
        for raft in self.groups.values() {
            let _ = raft.shutdown().await;
        }
    }

    /// Collects garbage chunks now and then, once the local catalog is known to be
    /// current (it has applied everything the catalog leader had committed).
    fn spawn_gc(self: Arc<Self>, opts: NodeOptions) {
        if !self.groups.contains_key(&CATALOG_GROUP) {
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(opts.gc_interval.max(Duration::from_millis(100)));
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(error) = self.collect_garbage(opts.gc_grace).await {
                    tracing::warn!(%error, "garbage collection pass skipped");
                }
            }
        });
    }

    async fn collect_garbage(&self, grace: Duration) -> Result<u64> {
        let index = match self.handle(Request::CatalogReadIndex).await {
            Ok(Response::ReadIndex(i)) => i,
            Err(Error::NotLeader { leader: Some(l) }) => {
                match self
                    .rpc
                    .call(l, &Request::CatalogReadIndex, RPC_TIMEOUT)
                    .await?
                {
                    Response::ReadIndex(i) => i,
                    other => return Err(Error::Remote(format!("unexpected {other:?}"))),
                }
            }
            Ok(other) => return Err(Error::Remote(format!("unexpected {other:?}"))),
            Err(e) => return Err(e),
        };
        self.raft(CATALOG_GROUP)?
            .wait(Some(RPC_TIMEOUT))
            .applied_index_at_least(Some(index), "gc barrier")
            .await
            .map_err(unavailable)?;
        let stores = self.stores.clone();
        blocking(move || gc::collect(&stores.catalog, &stores.chunks, grace)).await
    }
}

/// Runs blocking storage work off the async threads.
pub async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(e.to_string())
}

fn read_error(e: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>) -> Error {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => Error::NotLeader {
            leader: f.leader_id,
        },
        other => unavailable(other),
    }
}
