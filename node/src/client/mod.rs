//! `NodeClient`: the one interface through which a gateway reaches storage. It knows
//! the cluster map (which nodes hold which placement group, who votes in the
//! catalog), sends catalog changes and reads to the catalog leader and chunk writes
//! to their PG's leader — following leader changes and retrying on failures that
//! left nothing done, within a retry window — and reads chunks from any replica,
//! falling back to the next on error. The transport is either in-process (the
//! embedded server) or the internal RPC client; both end in `Node::handle`.

use crate::cluster::config::ClusterConfig;
use crate::cluster::map::ClusterMap;
use crate::cluster::placement::pg_of;
use crate::error::{Error, Result};
use crate::ids::ChunkId;
use crate::ids::{pg_group, GroupId, NodeId, CATALOG_GROUP};
use crate::node::Node;
use crate::records::{BucketChange, BucketRecord, ChunkRef};
use crate::rpc::client::RpcClient;
use crate::rpc::messages::{Request, Response};
use crate::rpc::routing::Router;
use crate::storage::catalog::{CatalogCommand, CatalogQuery, CatalogReply, CatalogRequest};
use bytes::Bytes;

mod access;
mod bucket_docs;
mod objects;
pub mod usage;
mod versions;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long one call to a node may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a chunk read from one replica may take before the next is tried.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request keeps being retried (leader elections take a few seconds).
const RETRY_WINDOW: Duration = Duration::from_secs(30);
/// Full rounds over a chunk's nodes in which each answered corrupt or missing,
/// after which a read gives up (the second gives a repair its chance).
const LOST_ROUNDS: u32 = 3;
/// How often a remote client reads the committed cluster map.
const MAP_REFRESH: Duration = Duration::from_secs(2);

enum Transport {
    Local(Arc<Node>),
    Remote(Arc<RpcClient>),
}

impl Transport {
    async fn call(&self, node: NodeId, req: Request, timeout: Duration) -> Result<Response> {
        match self {
            Transport::Local(n) => n.handle(req).await,
            Transport::Remote(rpc) => rpc.call(node, &req, timeout).await,
        }
    }
}

/// The placement derived from one cluster map.
struct View {
    map: Arc<ClusterMap>,
    table: Vec<Vec<NodeId>>,
    catalog: Vec<NodeId>,
}

impl View {
    fn of(map: Arc<ClusterMap>) -> Arc<View> {
        Arc::new(View {
            table: map.table(),
            catalog: map.catalog_voters(),
            map,
        })
    }

    /// A PG's replicas, then every other node of the map (which may still hold
    /// the PG's chunks while it moves).
    fn chunk_sources(&self, pg: u32) -> (usize, Vec<NodeId>) {
        let replicas = self.replicas(pg);
        (replicas.len(), self.map.with_fallbacks(replicas))
    }

    fn replicas(&self, pg: u32) -> Vec<NodeId> {
        self.table.get(pg as usize).cloned().unwrap_or_default()
    }
}

struct Inner {
    transport: Transport,
    view: RwLock<Arc<View>>,
    router: Router,
}

#[derive(Clone)]
pub struct NodeClient {
    inner: Arc<Inner>,
}

impl NodeClient {
    /// A client of the node running in this process (the embedded server).
    pub fn local(node: Arc<Node>) -> Self {
        let view = View::of(node.map());
        Self::with(Transport::Local(node), view)
    }

    /// A client of the cluster described by `cfg`, over the internal RPC. It starts
    /// from the file's map and follows the committed map (refreshed every 2 s).
    pub fn remote(cfg: &ClusterConfig) -> Result<Self> {
        let addrs = cfg
            .nodes
            .iter()
            .map(|n| (n.id, n.address.clone()))
            .collect();
        let rpc = Arc::new(RpcClient::for_cluster(
            cfg,
            crate::tls::cluster::Role::Client,
            addrs,
        )?);
        let client = Self::with(Transport::Remote(rpc), View::of(Arc::new(cfg.map())));
        let weak = Arc::downgrade(&client.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(MAP_REFRESH).await;
                let Some(inner) = weak.upgrade() else { return };
                let client = NodeClient { inner };
                if let Err(error) = client.refresh_map().await {
                    tracing::debug!(%error, "cluster map refresh failed");
                }
            }
        });
        Ok(client)
    }

    fn with(transport: Transport, view: Arc<View>) -> Self {
        NodeClient {
            inner: Arc::new(Inner {
                transport,
                view: RwLock::new(view),
                router: Router::default(),
            }),
        }
    }

    /// The current view; in-process, rebuilt when the node learned a new map.
    fn view(&self) -> Arc<View> {
        let current = match self.inner.view.read() {
            Ok(v) => v.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if let Transport::Local(node) = &self.inner.transport {
            let map = node.map();
            if map.epoch != current.map.epoch {
                let view = View::of(map);
                self.set_view(view.clone());
                return view;
            }
        }
        current
    }

    fn set_view(&self, view: Arc<View>) {
        if let Ok(mut v) = self.inner.view.write() {
            *v = view;
        }
    }

    /// Reads the committed cluster map and routes by it from now on if it is newer.
    async fn refresh_map(&self) -> Result<()> {
        let Some(map) = self.cluster_map().await? else {
            return Ok(());
        };
        if map.epoch > self.view().map.epoch {
            if let Transport::Remote(rpc) = &self.inner.transport {
                rpc.add_addrs(map.nodes.iter().map(|n| (n.id, n.address.as_str())));
            }
            self.set_view(View::of(Arc::new(map)));
        }
        Ok(())
    }

    /// The committed cluster map (None before the first is committed).
    pub async fn cluster_map(&self) -> Result<Option<ClusterMap>> {
        match self.catalog_read(CatalogQuery::ClusterMap).await? {
            CatalogReply::ClusterMap(m) => Ok(m.map(|m| *m)),
            other => Err(unexpected_reply(other)),
        }
    }

    /// Commits `map` as the next epoch (its epoch must be the committed one + 1).
    pub async fn set_cluster_map(&self, map: ClusterMap) -> Result<()> {
        self.catalog_write(CatalogCommand::SetClusterMap(Box::new(map)))
            .await
            .map(drop)
    }

    /// Sends `req` to the leader of `group` (candidates: `members`).
    async fn to_leader(
        &self,
        group: GroupId,
        members: &[NodeId],
        req: Request,
        window: Duration,
    ) -> Result<Response> {
        let transport = &self.inner.transport;
        self.inner
            .router
            .to_leader(group, members, window, |node| {
                transport.call(node, req.clone(), CALL_TIMEOUT)
            })
            .await
    }

    /// Commits `cmd` through the catalog leader. Its request id is chosen once,
    /// here: every try carries it, so a try after one that committed (whose reply
    /// was lost) answers the first outcome instead of running again.
    pub(super) async fn catalog_write(&self, cmd: CatalogCommand) -> Result<CatalogReply> {
        let members = self.view().catalog.clone();
        let id: u128 = rand::random();
        match self
            .to_leader(
                CATALOG_GROUP,
                &members,
                Request::CatalogWrite(Box::new(CatalogRequest { id, cmd })),
                RETRY_WINDOW,
            )
            .await?
        {
            Response::Catalog(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    pub(super) async fn catalog_read(&self, q: CatalogQuery) -> Result<CatalogReply> {
        let members = self.view().catalog.clone();
        match self
            .to_leader(
                CATALOG_GROUP,
                &members,
                Request::CatalogRead(q),
                RETRY_WINDOW,
            )
            .await?
        {
            Response::Catalog(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// True once the catalog group answers (it has a leader with a quorum).
    pub async fn ready(&self) -> bool {
        self.readiness().await.is_ok()
    }

    /// Why the catalog group cannot serve yet (`Ok` when it can).
    pub async fn readiness(&self) -> Result<()> {
        let members = self.view().catalog.clone();
        match self
            .to_leader(
                CATALOG_GROUP,
                &members,
                Request::CatalogReadIndex,
                Duration::from_secs(2),
            )
            .await?
        {
            Response::ReadIndex(_) => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    // ---- chunks ----

    /// Hashes a chunk and commits it in its placement group; returns its reference.
    pub async fn put_chunk(&self, data: Bytes) -> Result<ChunkRef> {
        let hashed = data.clone();
        let id = tokio::task::spawn_blocking(move || ChunkId::of(&hashed))
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let view = self.view();
        let pg = pg_of(&id, view.map.placement_groups);
        let candidates = view.replicas(pg);
        match self
            .to_leader(
                pg_group(pg),
                &candidates,
                Request::PutChunk { pg, id, data },
                RETRY_WINDOW,
            )
            .await?
        {
            Response::Chunk(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Reads a chunk from a replica of its placement group, verified; tries the
    /// others (and again, within the retry window) when one fails.
    pub async fn get_chunk(&self, id: ChunkId) -> Result<Bytes> {
        let view = self.view();
        let (replicas, members) = view.chunk_sources(pg_of(&id, view.map.placement_groups));
        if members.is_empty() {
            return Err(Error::ChunkMissing(id));
        }
        // Spread reads over the replicas; the other nodes only as fallbacks.
        let start = usize::from(id.0[31]) % replicas.max(1);
        let order: Vec<NodeId> = members[start..replicas.max(start)]
            .iter()
            .chain(&members[..start])
            .chain(&members[replicas.max(start)..])
            .copied()
            .collect();
        let deadline = Instant::now() + RETRY_WINDOW;
        let remote = matches!(self.inner.transport, Transport::Remote(_));
        let mut attempt = 0usize;
        // Rounds in a row in which every node answered that its copy is corrupt
        // or missing: retrying cannot help past a repair's chance.
        let (mut lost_rounds, mut round_lost) = (0u32, true);
        loop {
            let node = order[attempt % order.len()];
            let err = match self
                .inner
                .transport
                .call(node, Request::GetChunk { id }, READ_TIMEOUT)
                .await
            {
                Ok(Response::Data(data)) => {
                    if !remote || verified(&data, id).await {
                        return Ok(data);
                    }
                    tracing::warn!(chunk = %id, node, "chunk copy failed verification; reading another replica");
                    self.report_corrupt(node, id);
                    Error::ChunkCorrupt(id)
                }
                Ok(other) => unexpected(other),
                Err(e) => e,
            };
            round_lost &= matches!(err, Error::ChunkCorrupt(_) | Error::ChunkMissing(_));
            attempt += 1;
            tracing::debug!(chunk = %id, node, error = %err, "chunk read failed");
            let round_done = attempt.is_multiple_of(order.len());
            if round_done {
                lost_rounds = if round_lost { lost_rounds + 1 } else { 0 };
                round_lost = true;
            }
            if round_done && (Instant::now() >= deadline || lost_rounds >= LOST_ROUNDS) {
                tracing::error!(chunk = %id, error = %err, "no replica could give an intact copy of the chunk");
                return Err(err);
            }
            if round_done {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Tells `node` its copy of `id` failed verification here, so it moves the
    /// copy aside and repairs it (best effort, in the background).
    fn report_corrupt(&self, node: NodeId, id: ChunkId) {
        if let Transport::Remote(rpc) = &self.inner.transport {
            let rpc = rpc.clone();
            tokio::spawn(async move {
                let req = Request::SuspectChunk { id };
                if let Err(error) = rpc.call(node, &req, READ_TIMEOUT).await {
                    tracing::debug!(chunk = %id, node, %error, "could not report a corrupt chunk");
                }
            });
        }
    }

    /// Keeps existing chunks from collection while a new record that shares them
    /// commits (a copy): touches them on every node of their PG that holds them;
    /// fails if a chunk is on none.
    pub async fn retain_chunks(&self, ids: Vec<ChunkId>) -> Result<()> {
        let view = self.view();
        let by_node = by_replica(&view, &ids);
        // A chunk is retained when at least one of its replicas still holds it.
        let mut held: std::collections::HashSet<ChunkId> = Default::default();
        let mut last = None;
        for (node, ids) in by_node {
            let req = Request::TouchChunks { ids: ids.clone() };
            match self.inner.transport.call(node, req, READ_TIMEOUT).await {
                Ok(Response::Missing(missing)) => {
                    held.extend(ids.into_iter().filter(|id| !missing.contains(id)));
                }
                Ok(other) => last = Some(unexpected(other)),
                Err(e) => last = Some(e),
            }
        }
        match ids.into_iter().find(|id| !held.contains(id)) {
            None => Ok(()),
            Some(id) => Err(last.unwrap_or(Error::ChunkMissing(id))),
        }
    }

    /// Drops the collection pins of `ids` on every node of their PGs (their record
    /// committed, or their write failed), one request per node; best effort: a
    /// pin left behind expires by itself (`PIN_WINDOW`).
    pub async fn release_chunks(&self, ids: Vec<ChunkId>) {
        let view = self.view();
        for (node, ids) in by_replica(&view, &ids) {
            let req = Request::ReleaseChunks { ids };
            if let Err(error) = self.inner.transport.call(node, req, READ_TIMEOUT).await {
                tracing::debug!(node, %error, "releasing chunk pins failed (they expire)");
            }
        }
    }

    // ---- buckets ----

    pub async fn create_bucket(&self, name: String, record: BucketRecord) -> Result<()> {
        self.catalog_write(CatalogCommand::CreateBucket { name, record })
            .await
            .map(drop)
    }

    pub async fn get_bucket(&self, name: String) -> Result<BucketRecord> {
        match self.catalog_read(CatalogQuery::GetBucket { name }).await? {
            CatalogReply::Bucket(b) => Ok(b),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>> {
        match self.catalog_read(CatalogQuery::ListBuckets).await? {
            CatalogReply::Buckets(b) => Ok(b),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn update_bucket(&self, name: String, change: BucketChange) -> Result<()> {
        self.catalog_write(CatalogCommand::UpdateBucket { name, change })
            .await
            .map(drop)
    }

    /// Deletes a bucket without objects, and its multipart uploads in progress.
    pub async fn delete_bucket(&self, name: String) -> Result<()> {
        self.catalog_write(CatalogCommand::DeleteBucketAndUploads { name })
            .await
            .map(drop)
    }

    // ---- access keys ----

    pub async fn get_secret(&self, access_key: String) -> Result<Option<String>> {
        match self
            .catalog_read(CatalogQuery::GetSecret { access_key })
            .await?
        {
            CatalogReply::Secret(s) => Ok(s),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn put_key(&self, access_key: String, secret_key: String) -> Result<()> {
        self.catalog_write(CatalogCommand::PutKey {
            access_key,
            secret_key,
        })
        .await
        .map(drop)
    }

    pub async fn list_keys(&self) -> Result<Vec<(String, String)>> {
        match self.catalog_read(CatalogQuery::ListKeys).await? {
            CatalogReply::Keys(k) => Ok(k),
            other => Err(unexpected_reply(other)),
        }
    }
}

async fn verified(data: &Bytes, id: ChunkId) -> bool {
    let data = data.clone();
    tokio::task::spawn_blocking(move || ChunkId::of(&data) == id)
        .await
        .unwrap_or(false)
}

fn unexpected(resp: Response) -> Error {
    Error::Remote(format!("unexpected response {resp:?}"))
}

pub(super) fn unexpected_reply(reply: CatalogReply) -> Error {
    Error::Remote(format!("unexpected catalog reply {reply:?}"))
}

/// `ids` grouped by the nodes holding a replica of each.
fn by_replica(view: &View, ids: &[ChunkId]) -> std::collections::BTreeMap<NodeId, Vec<ChunkId>> {
    let mut by_node: std::collections::BTreeMap<NodeId, Vec<ChunkId>> = Default::default();
    for id in ids {
        let (_, nodes) = view.chunk_sources(pg_of(id, view.map.placement_groups));
        for node in nodes {
            by_node.entry(node).or_default().push(*id);
        }
    }
    by_node
}
