//! `Node`: one storage node — its stores, its Raft groups (the catalog group if it
//! is a voter, and every placement group placed on it), and the handling of every
//! internal request. The RPC server (remote callers, `rpc_server`) and the
//! in-process transport (the embedded server) both end in `Node::handle`
//! (`handle`). This file holds the node itself: start-up, its groups, and writes
//! through them; `moves`, `map_watch`, `revive` and `loops` add the background
//! work.

mod catalog_writes;
mod handle;
pub mod lifecycle;
mod loops;
pub mod map_watch;
pub mod metrics;
mod move_state;
mod moves;
mod revive;
pub mod rpc_server;
mod scrub;
pub mod scrub_stats;
mod support;
mod throttle;

pub use support::blocking;

use crate::cluster::config::ClusterConfig;
use crate::cluster::map::ClusterMap;
use crate::cluster::members::NodeEntry;
use crate::error::{Error, Result};
use crate::ids::{group_pg, GroupId, NodeId, CATALOG_GROUP};
use crate::raft::log_store::LogStore;
use crate::raft::state_machine::{Kind, StateMachine};
use crate::raft::stores::Stores;
use crate::raft::{config, Command, Raft, Reply};
use crate::rpc::client::RpcClient;
use crate::rpc::raft_network::Network;
use crate::rpc::routing::Router;
use crate::storage::disk::Disk;
use crate::storage::disk_space::DiskSpace;
use catalog_writes::CatalogWrites;
use move_state::MoveState;
use openraft::BasicNode;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use support::*;
use throttle::Throttle;

#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Unreferenced chunks younger than this are kept.
    pub gc_grace: Duration,
    /// Time between garbage collection passes.
    pub gc_interval: Duration,
    /// Free bytes a chunk write may not go below (`storage::disk_space`); `None`:
    /// 64 MiB or 1% of the file system, whichever is smaller.
    pub min_free: Option<u64>,
    /// For tests of retried writes: the RPC server executes the first catalog
    /// write of each of these object keys (PutObject, CompleteMultipartUpload),
    /// then closes the connection instead of replying.
    pub drop_reply_keys: Vec<String>,
    /// Time between lifecycle passes.
    pub lifecycle_interval: Duration,
    /// Added to the clock of the lifecycle worker (tests move time forward).
    pub lifecycle_clock_offset_ms: i64,
    /// The disk the node stores to: the real one, or a simulated one (crash tests).
    pub disk: Disk,
    /// Page caches of the catalog and the Raft log databases.
    pub db_caches: crate::storage::DbCaches,
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
    /// Free space of the data directory's file system, and its floor (the
    /// stores' own: the Raft log checks it too).
    pub(crate) disk: Arc<DiskSpace>,
    /// `NodeOptions::drop_reply_keys` not dropped yet.
    pub(crate) drop_reply_keys: Mutex<Vec<String>>,
    /// Restarts of groups stopped by a storage failure (`revive`).
    pub(crate) revivals: revive::Revivals,
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
        let stores = Stores::open(
            &opts.disk,
            &entry.data_dir,
            cfg.placement_groups,
            cfg.replication,
            opts.min_free,
            opts.db_caches,
        )?;
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
        let rpc = Arc::new(RpcClient::for_cluster(
            &cfg,
            crate::tls::cluster::Role::Node(id),
            addrs,
        )?);
        let space = stores.space.clone();
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
            disk: space,
            drop_reply_keys: Mutex::new(opts.drop_reply_keys.clone()),
            revivals: revive::Revivals::default(),
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

    pub(crate) async fn write(&self, group: GroupId, cmd: Command) -> Result<Reply> {
        write_to(self.raft(group)?, cmd).await
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
        // The chunk counters, so the next start need not count the chunk files.
        let chunks = self.stores.chunks.clone();
        if let Err(error) = blocking(move || chunks.save_usage()).await {
            tracing::warn!(%error, "chunk counters not saved: the next start counts the chunk files");
        }
    }
}
