//! `Node`: one storage node — its stores, its Raft groups (the catalog group if it
//! is a voter, and every placement group placed on it), and the handling of every
//! internal request. The RPC server (remote callers) and the in-process transport
//! (the embedded server) both end in `Node::handle`.

use crate::catalog_writes::CatalogWrites;
use crate::cluster_config::{ClusterConfig, NodeEntry};
use crate::cluster_map::ClusterMap;
use crate::moves::MoveState;
use crate::placement::{pg_of, PgId};
use crate::raft::log_store::LogStore;
use crate::raft::network::Network;
use crate::raft::state_machine::{read_chunk_list, Kind, StateMachine};
use crate::raft::{
    config, group_pg, pg_group, Command, GroupId, NodeId, Raft, Reply, CATALOG_GROUP,
};
use crate::records::ChunkRef;
use crate::routing::Router;
use crate::rpc::client::RpcClient;
use crate::rpc::messages::{GroupStatus, NodeStatus, Request, Response, SnapshotHeader};
use crate::stores::Stores;
use crate::throttle::Throttle;
use crate::{gc, ChunkId, Error, Result};
use bytes::Bytes;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::raft::SnapshotResponse;
use openraft::storage::Snapshot;
use openraft::{BasicNode, ServerState};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
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
    /// This node's cluster file (its own entry, the secret, Raft tuning).
    pub cfg: ClusterConfig,
    pub stores: Arc<Stores>,
    pub rpc: Arc<RpcClient>,
    /// The newest committed cluster map known here (the file's, epoch 0, before).
    pub(crate) map: RwLock<Arc<ClusterMap>>,
    /// The Raft groups this node is a member of (or joining).
    pub(crate) groups: RwLock<HashMap<GroupId, Raft>>,
    /// Serializes creating and dropping groups.
    pub(crate) group_changes: tokio::sync::Mutex<()>,
    pub(crate) router: Router,
    /// Membership changes this node leads, by group.
    pub(crate) moves: Mutex<HashMap<GroupId, MoveState>>,
    /// Bytes used on other nodes, as they last reported.
    pub(crate) peer_usage: Mutex<HashMap<NodeId, u64>>,
    /// Paces the data this node pulls for moves.
    pub(crate) throttle: Throttle,
    /// Concurrent catalog writes, committed in batches.
    catalog_writes: CatalogWrites,
}

/// How long an RPC made on behalf of a node may take.
pub(crate) const RPC_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// Opens the node's stores, starts the Raft groups it holds or that the map
    /// places on it, and the background loops that follow the committed map
    /// (`map_watch`), move groups and drop those it left (`moves`), and collect
    /// garbage.
    pub async fn start(cfg: ClusterConfig, id: NodeId, opts: NodeOptions) -> Result<Arc<Node>> {
        let entry = cfg
            .node(id)
            .ok_or_else(|| Error::Config(format!("node {id} is not in the cluster file")))?
            .clone();
        let stores = Stores::open(&entry.data_dir, cfg.placement_groups, cfg.replication)?;
        let stored_groups = stores.log.groups()?;
        let map = match stores.catalog.cluster_map()? {
            Some(m) => m,
            None => cfg.map(),
        };
        let addrs = cfg
            .nodes
            .iter()
            .chain(&map.nodes)
            .map(|n| (n.id, n.address.clone()))
            .collect();
        let rpc = Arc::new(RpcClient::new(&cfg.secret, addrs)?);
        let node = Arc::new(Node {
            id,
            cfg,
            stores,
            rpc,
            map: RwLock::new(Arc::new(map)),
            groups: RwLock::new(HashMap::new()),
            group_changes: tokio::sync::Mutex::new(()),
            router: Router::default(),
            moves: Mutex::new(HashMap::new()),
            peer_usage: Mutex::new(HashMap::new()),
            throttle: Throttle::default(),
            catalog_writes: CatalogWrites::default(),
        });
        for group in &stored_groups {
            node.ensure_group(*group).await?;
        }
        if stored_groups.is_empty() && node.map().epoch == 0 {
            node.bootstrap().await?;
        }
        node.reconcile(&node.map()).await?;
        node.clone().spawn_loops(opts);
        tracing::info!(node = id, groups = node.group_ids().len(), "node started");
        Ok(node)
    }

    /// First start of a node with no committed map: if the cluster already has
    /// one (this node joins a running cluster), adopt it; otherwise this is the
    /// cluster's creation and the lowest catalog voter of the file initializes the
    /// catalog group (whose leader then commits the file's map as epoch 1).
    async fn bootstrap(self: &Arc<Self>) -> Result<()> {
        if let Ok(Some(map)) = self.fetch_committed_map(Duration::from_secs(1)).await {
            return self.adopt_map(map).await;
        }
        // Join the groups the file places here (uninitialized: the catalog's lowest
        // voter initializes it; placement groups wait for the first map).
        let file_map = self.cfg.map();
        for (group, members) in file_map.groups() {
            if members.contains(&self.id) {
                self.ensure_group(group).await?;
            }
        }
        let voters = file_map.catalog_voters();
        if voters.first() == Some(&self.id) {
            self.initialize(CATALOG_GROUP, &voters).await?;
            if file_map.nodes.len() == 1 {
                // A one-node cluster: commit the map now so the node serves at once.
                self.wait_for_catalog_leader(Duration::from_secs(60))
                    .await?;
                self.map_tick().await?;
            }
        }
        Ok(())
    }

    /// Starts the Raft instance of `group` here if it is not running.
    pub(crate) async fn ensure_group(&self, group: GroupId) -> Result<Raft> {
        if let Some(r) = self.raft_opt(group) {
            return Ok(r);
        }
        let _serial = self.group_changes.lock().await;
        if let Some(r) = self.raft_opt(group) {
            return Ok(r);
        }
        let kind = match group_pg(group) {
            Some(pg) => Kind::Pg(pg),
            None => Kind::Catalog,
        };
        let raft = Raft::new(
            self.id,
            config(&self.cfg.name, group, &self.cfg.raft)?,
            Network {
                group,
                rpc: self.rpc.clone(),
            },
            LogStore::new(group, self.stores.log.clone()),
            StateMachine::new(group, kind, self.stores.clone())?,
        )
        .await
        .map_err(unavailable)?;
        if let Ok(mut groups) = self.groups.write() {
            groups.insert(group, raft.clone());
        }
        tracing::info!(group, "group started");
        Ok(raft)
    }

    pub(crate) async fn initialize(&self, group: GroupId, ids: &[NodeId]) -> Result<()> {
        let raft = self.raft(group)?;
        if raft.is_initialized().await.map_err(unavailable)? {
            return Ok(());
        }
        let map = self.map();
        let members: BTreeMap<NodeId, BasicNode> = ids
            .iter()
            .filter_map(|i| map.node(*i).or_else(|| self.cfg.node(*i)))
            .map(|n: &NodeEntry| (n.id, BasicNode::new(&n.address)))
            .collect();
        if let Err(e) = raft.initialize(members).await {
            tracing::debug!(group, error = %e, "group already initialized");
            return Ok(());
        }
        // Elect at once rather than after an election timeout.
        if let Err(e) = raft.trigger().elect().await {
            tracing::debug!(group, error = %e, "could not start an election");
        }
        Ok(())
    }

    /// The newest cluster map known here.
    pub fn map(&self) -> Arc<ClusterMap> {
        match self.map.read() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn raft_opt(&self, group: GroupId) -> Option<Raft> {
        self.groups.read().ok()?.get(&group).cloned()
    }

    /// The groups running here, ascending.
    pub fn group_ids(&self) -> Vec<GroupId> {
        let mut ids: Vec<GroupId> = match self.groups.read() {
            Ok(g) => g.keys().copied().collect(),
            Err(_) => Vec::new(),
        };
        ids.sort_unstable();
        ids
    }

    pub(crate) fn raft(&self, group: GroupId) -> Result<Raft> {
        // Retryable: the group may be on its way here, or its leader elsewhere.
        self.raft_opt(group).ok_or(Error::NotLeader {
            leader: None,
            address: None,
        })
    }

    /// Serves one internal request.
    #[tracing::instrument(level = "debug", skip_all, fields(node = self.id))]
    pub async fn handle(&self, req: Request) -> Result<Response> {
        match req {
            Request::CatalogWrite(cmd) => {
                let raft = self.raft(CATALOG_GROUP)?;
                self.catalog_writes
                    .write(*cmd, move |batch| write_to(raft, batch))
                    .await
                    .map(Response::Catalog)
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
                if !self.stores.chunks.contains(&id) {
                    self.check_room(pg_group(pg), len)?;
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

    pub(crate) async fn write(&self, group: GroupId, cmd: Command) -> Result<Reply> {
        write_to(self.raft(group)?, cmd).await
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
        // The leader first, then the PG's replicas, then any node of the map.
        let map = self.map();
        let mut sources: Vec<NodeId> = from.into_iter().collect();
        for n in map.with_fallbacks(map.replicas(pg)) {
            if n != self.id && !sources.contains(&n) {
                sources.push(n);
            }
        }
        let mut fetched = 0u64;
        for id in ids {
            if self.stores.chunks.contains(&id) {
                continue;
            }
            let data = self.fetch_chunk(id, &sources).await?;
            self.throttle
                .take(data.len() as u64, map.moves.bandwidth)
                .await;
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
        let pg_count = self.cfg.placement_groups;
        let (chunks, used, pg_bytes) = blocking(move || {
            let mut per_pg: BTreeMap<PgId, u64> = BTreeMap::new();
            let list = stores.chunks.list()?;
            for f in &list {
                *per_pg.entry(pg_of(&f.id, pg_count)).or_default() += f.len;
            }
            let used = list.iter().map(|f| f.len).sum();
            Ok((list.len() as u64, used, per_pg.into_iter().collect()))
        })
        .await?;
        let mut groups = Vec::new();
        for (group, m) in self.group_metrics() {
            let log = self.stores.log.clone();
            let bounds = blocking(move || log.bounds(group)).await?;
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
                state: format!("{:?}", m.state),
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
            log_file_bytes: std::fs::metadata(self.stores.log_path())
                .map(|m| m.len())
                .unwrap_or(0),
            groups,
            moves: self.move_statuses(),
        })
    }

    /// Raft metrics of every group on this node.
    pub fn group_metrics(&self) -> Vec<(GroupId, openraft::RaftMetrics<NodeId, BasicNode>)> {
        let groups: Vec<(GroupId, Raft)> = match self.groups.read() {
            Ok(g) => g.iter().map(|(id, r)| (*id, r.clone())).collect(),
            Err(_) => Vec::new(),
        };
        let mut out: Vec<_> = groups
            .into_iter()
            .map(|(g, r)| (g, r.metrics().borrow().clone()))
            .collect();
        out.sort_by_key(|(g, _)| *g);
        out
    }

    fn is_learner(&self, raft: &Raft) -> bool {
        let metrics = raft.metrics();
        let learner = metrics
            .borrow()
            .membership_config
            .membership()
            .learner_ids()
            .any(|l| l == self.id);
        learner
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
        let groups: Vec<Raft> = match self.groups.read() {
            Ok(g) => g.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        for raft in groups {
            let _ = raft.shutdown().await;
        }
    }

    /// The background loops: following the committed map (every second), starting
    /// moves (every 250 ms), leaving groups (every second), refreshing peers' usage
    /// (every 5 s), collecting garbage (`gc_interval`).
    fn spawn_loops(self: Arc<Self>, opts: NodeOptions) {
        let node = self.clone();
        every(Duration::from_secs(1), false, move || {
            let node = node.clone();
            async move {
                if let Err(error) = node.map_tick().await {
                    tracing::debug!(%error, "cluster map check failed");
                }
            }
        });
        let node = self.clone();
        every(Duration::from_millis(250), false, move || {
            node.move_tick();
            std::future::ready(())
        });
        let node = self.clone();
        every(Duration::from_secs(1), false, move || {
            let node = node.clone();
            async move { node.leave_tick().await }
        });
        let node = self.clone();
        every(Duration::from_secs(5), false, move || {
            let node = node.clone();
            async move { node.refresh_usage().await }
        });
        every(
            opts.gc_interval.max(Duration::from_millis(100)),
            true,
            move || {
                let node = self.clone();
                async move {
                    // Only catalog members have a catalog to mark from.
                    if node.raft_opt(CATALOG_GROUP).is_none() {
                        return;
                    }
                    if let Err(error) = node.collect_garbage(opts.gc_grace).await {
                        tracing::warn!(%error, "garbage collection pass skipped");
                    }
                }
            },
        );
    }

    async fn collect_garbage(&self, grace: Duration) -> Result<u64> {
        let index = match self.handle(Request::CatalogReadIndex).await {
            Ok(Response::ReadIndex(i)) => i,
            Err(Error::NotLeader {
                leader: Some(l), ..
            }) => {
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

/// Runs `round` every `period` for ever: the first at once, or after one period
/// when `delay_first`.
fn every<F, Fut>(period: Duration, delay_first: bool, mut round: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        if delay_first {
            tick.tick().await;
        }
        loop {
            tick.tick().await;
            round().await;
        }
    });
}

/// Commits `cmd` through `raft` (this node must lead the group).
async fn write_to(raft: Raft, cmd: Command) -> Result<Reply> {
    match raft.client_write(cmd).await {
        Ok(resp) => Ok(resp.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => Err(forward(f)),
        Err(e) => Err(unavailable(e)),
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

pub(crate) fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(e.to_string())
}

fn read_error(e: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>) -> Error {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => forward(f),
        other => unavailable(other),
    }
}

/// A redirect to the group's leader, with its address (so a caller that does not
/// know the leader yet can reach it).
fn forward(f: openraft::error::ForwardToLeader<NodeId, BasicNode>) -> Error {
    Error::NotLeader {
        leader: f.leader_id,
        address: f.leader_node.map(|n| n.addr),
    }
}
