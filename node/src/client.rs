//! `NodeClient`: the one interface through which a gateway reaches storage. It knows
//! the cluster map (which nodes hold which placement group, who votes in the
//! catalog), sends catalog changes and reads to the catalog leader and chunk writes
//! to their PG's leader — following leader changes and retrying on failures that
//! left nothing done, within a retry window — and reads chunks from any replica,
//! falling back to the next on error. The transport is either in-process (the
//! embedded server) or the internal RPC client; both end in `Node::handle`.

use crate::catalog::{
    CatalogCommand, CatalogQuery, CatalogReply, ListPage, ListQuery, UploadList, UploadListQuery,
};
use crate::cluster_config::ClusterConfig;
use crate::node::Node;
use crate::placement::{pg_of, placement_table};
use crate::raft::{pg_group, GroupId, NodeId, CATALOG_GROUP};
use crate::records::{
    BucketChange, BucketRecord, ChunkRef, ObjectChange, ObjectRecord, PartRecord, UploadRecord,
    WriteCondition,
};
use crate::rpc::client::RpcClient;
use crate::rpc::messages::{Request, Response};
use crate::{ChunkId, Error, Result};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one call to a node may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a chunk read from one replica may take before the next is tried.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request keeps being retried (leader elections take a few seconds).
const RETRY_WINDOW: Duration = Duration::from_secs(30);

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

struct Inner {
    transport: Transport,
    pg_count: u32,
    table: Vec<Vec<NodeId>>,
    catalog: Vec<NodeId>,
    leaders: Mutex<HashMap<GroupId, NodeId>>,
}

#[derive(Clone)]
pub struct NodeClient {
    inner: Arc<Inner>,
}

impl NodeClient {
    /// A client of the node running in this process (the embedded server).
    pub fn local(node: Arc<Node>) -> Self {
        let (pg_count, table, catalog) = (
            node.cfg.placement_groups,
            node.table.clone(),
            node.cfg.catalog_voters(),
        );
        Self::with(Transport::Local(node), pg_count, table, catalog)
    }

    /// A client of the cluster described by `cfg`, over the internal RPC.
    pub fn remote(cfg: &ClusterConfig) -> Result<Self> {
        let addrs = cfg
            .nodes
            .iter()
            .map(|n| (n.id, n.address.clone()))
            .collect();
        let rpc = Arc::new(RpcClient::new(&cfg.secret, addrs)?);
        Ok(Self::with(
            Transport::Remote(rpc),
            cfg.placement_groups,
            placement_table(cfg),
            cfg.catalog_voters(),
        ))
    }

    fn with(
        transport: Transport,
        pg_count: u32,
        table: Vec<Vec<NodeId>>,
        catalog: Vec<NodeId>,
    ) -> Self {
        NodeClient {
            inner: Arc::new(Inner {
                transport,
                pg_count,
                table,
                catalog,
                leaders: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn leader(&self, group: GroupId) -> Option<NodeId> {
        self.inner.leaders.lock().ok()?.get(&group).copied()
    }

    fn set_leader(&self, group: GroupId, node: Option<NodeId>) {
        if let Ok(mut l) = self.inner.leaders.lock() {
            match node {
                Some(n) => l.insert(group, n),
                None => l.remove(&group),
            };
        }
    }

    /// Sends `req` to the leader of `group` (whose members are `members`), following
    /// redirects and retrying retryable failures until the retry window closes.
    async fn to_leader(
        &self,
        group: GroupId,
        members: &[NodeId],
        req: Request,
    ) -> Result<Response> {
        if members.is_empty() {
            return Err(Error::Unavailable(format!("group {group} has no members")));
        }
        let deadline = Instant::now() + RETRY_WINDOW;
        let mut attempt = 0usize;
        let mut delay = Duration::from_millis(20);
        loop {
            let target = self
                .leader(group)
                .filter(|l| members.contains(l))
                .unwrap_or(members[attempt % members.len()]);
            let err = match self
                .inner
                .transport
                .call(target, req.clone(), CALL_TIMEOUT)
                .await
            {
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
                Error::NotLeader { leader: Some(l) } if l != target && members.contains(&l) => {
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

    async fn catalog_write(&self, cmd: CatalogCommand) -> Result<CatalogReply> {
        let members = self.inner.catalog.clone();
        match self
            .to_leader(
                CATALOG_GROUP,
                &members,
                Request::CatalogWrite(Box::new(cmd)),
            )
            .await?
        {
            Response::Catalog(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    async fn catalog_read(&self, q: CatalogQuery) -> Result<CatalogReply> {
        let members = self.inner.catalog.clone();
        match self
            .to_leader(CATALOG_GROUP, &members, Request::CatalogRead(q))
            .await?
        {
            Response::Catalog(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    fn replicas(&self, id: &ChunkId) -> (u32, Vec<NodeId>) {
        let pg = pg_of(id, self.inner.pg_count);
        let nodes = self
            .inner
            .table
            .get(pg as usize)
            .cloned()
            .unwrap_or_default();
        (pg, nodes)
    }

    /// True once the catalog group answers (it has a leader with a quorum).
    pub async fn ready(&self) -> bool {
        let members = self.inner.catalog.clone();
        matches!(
            self.to_leader_once(CATALOG_GROUP, &members, Request::CatalogReadIndex)
                .await,
            Ok(Response::ReadIndex(_))
        )
    }

    async fn to_leader_once(
        &self,
        group: GroupId,
        members: &[NodeId],
        req: Request,
    ) -> Result<Response> {
        let mut last = Error::Unavailable("no members".into());
        for node in self
            .leader(group)
            .into_iter()
            .chain(members.iter().copied())
        {
            match self
                .inner
                .transport
                .call(node, req.clone(), Duration::from_secs(2))
                .await
            {
                Ok(r) => {
                    self.set_leader(group, Some(node));
                    return Ok(r);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    // ---- chunks ----

    /// Hashes a chunk and commits it in its placement group; returns its reference.
    pub async fn put_chunk(&self, data: Bytes) -> Result<ChunkRef> {
        let hashed = data.clone();
        let id = tokio::task::spawn_blocking(move || ChunkId::of(&hashed))
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let (pg, members) = self.replicas(&id);
        match self
            .to_leader(pg_group(pg), &members, Request::PutChunk { pg, id, data })
            .await?
        {
            Response::Chunk(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Reads a chunk from a replica of its placement group, verified; tries the
    /// others (and again, within the retry window) when one fails.
    pub async fn get_chunk(&self, id: ChunkId) -> Result<Bytes> {
        let (_, members) = self.replicas(&id);
        if members.is_empty() {
            return Err(Error::ChunkMissing(id));
        }
        let start = usize::from(id.0[31]) % members.len();
        let deadline = Instant::now() + RETRY_WINDOW;
        let remote = matches!(self.inner.transport, Transport::Remote(_));
        let mut attempt = 0usize;
        loop {
            let node = members[(start + attempt) % members.len()];
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
                    Error::ChunkCorrupt(id)
                }
                Ok(other) => unexpected(other),
                Err(e) => e,
            };
            attempt += 1;
            tracing::debug!(chunk = %id, node, error = %err, "chunk read failed");
            let round_done = attempt.is_multiple_of(members.len());
            if round_done && Instant::now() >= deadline {
                return Err(err);
            }
            if round_done {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Keeps existing chunks from collection while a new record that shares them
    /// commits (a copy); fails if a chunk is on no replica.
    pub async fn retain_chunks(&self, ids: Vec<ChunkId>) -> Result<()> {
        for id in ids {
            let (_, members) = self.replicas(&id);
            let mut ok = false;
            let mut last = Error::ChunkMissing(id);
            for node in members {
                match self
                    .inner
                    .transport
                    .call(node, Request::TouchChunks { ids: vec![id] }, READ_TIMEOUT)
                    .await
                {
                    Ok(_) => ok = true,
                    Err(e) => last = e,
                }
            }
            if !ok {
                return Err(last);
            }
        }
        Ok(())
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

    pub async fn delete_bucket(&self, name: String) -> Result<()> {
        self.catalog_write(CatalogCommand::DeleteBucket { name })
            .await
            .map(drop)
    }

    // ---- objects ----

    pub async fn put_object(
        &self,
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::PutObject {
            bucket,
            key,
            record,
            cond,
        })
        .await
        .map(drop)
    }

    pub async fn get_object(&self, bucket: String, key: String) -> Result<ObjectRecord> {
        match self
            .catalog_read(CatalogQuery::GetObject { bucket, key })
            .await?
        {
            CatalogReply::Object(o) => Ok(*o),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn update_object(
        &self,
        bucket: String,
        key: String,
        change: ObjectChange,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::UpdateObject {
            bucket,
            key,
            change,
        })
        .await
        .map(drop)
    }

    /// Deletes objects (all in one commit); missing keys are not an error.
    pub async fn delete_objects(&self, bucket: String, keys: Vec<String>) -> Result<()> {
        self.catalog_write(CatalogCommand::DeleteObjects { bucket, keys })
            .await
            .map(drop)
    }

    pub async fn list_objects(&self, bucket: String, query: ListQuery) -> Result<ListPage> {
        match self
            .catalog_read(CatalogQuery::ListObjects { bucket, query })
            .await?
        {
            CatalogReply::Objects(p) => Ok(p),
            other => Err(unexpected_reply(other)),
        }
    }

    // ---- multipart uploads ----

    /// Starts an upload; returns its new id.
    pub async fn create_upload(&self, record: UploadRecord) -> Result<String> {
        let upload_id = format!("{:032x}", rand::random::<u128>());
        self.catalog_write(CatalogCommand::CreateUpload {
            upload_id: upload_id.clone(),
            record,
        })
        .await?;
        Ok(upload_id)
    }

    pub async fn get_upload(&self, upload_id: String) -> Result<UploadRecord> {
        match self
            .catalog_read(CatalogQuery::GetUpload { upload_id })
            .await?
        {
            CatalogReply::Upload(u) => Ok(u),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn put_part(&self, upload_id: String, number: u32, part: PartRecord) -> Result<()> {
        self.catalog_write(CatalogCommand::PutPart {
            upload_id,
            number,
            part,
        })
        .await
        .map(drop)
    }

    pub async fn list_parts(&self, upload_id: String) -> Result<Vec<(u32, PartRecord)>> {
        match self
            .catalog_read(CatalogQuery::ListParts { upload_id })
            .await?
        {
            CatalogReply::Parts(p) => Ok(p),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn complete_upload(
        &self,
        upload_id: String,
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::CompleteUpload {
            upload_id,
            bucket,
            key,
            record,
            cond,
        })
        .await
        .map(drop)
    }

    pub async fn abort_upload(&self, upload_id: String) -> Result<()> {
        self.catalog_write(CatalogCommand::AbortUpload { upload_id })
            .await
            .map(drop)
    }

    pub async fn list_uploads(&self, bucket: String, query: UploadListQuery) -> Result<UploadList> {
        match self
            .catalog_read(CatalogQuery::ListUploads { bucket, query })
            .await?
        {
            CatalogReply::Uploads(u) => Ok(u),
            other => Err(unexpected_reply(other)),
        }
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

fn unexpected_reply(reply: CatalogReply) -> Error {
    Error::Remote(format!("unexpected catalog reply {reply:?}"))
}
