//! `NodeClient`: the one interface through which the gateway reaches storage — store
//! and fetch chunks, commit and read object records, list buckets, run multipart
//! uploads, look up keys. Today it drives a local chunk store and catalog; the cluster
//! puts Raft groups and remote nodes behind these same methods.

use crate::catalog::{Catalog, ListPage, ListQuery, UploadList, UploadListQuery};
use crate::chunk_store::ChunkStore;
use crate::records::{
    BucketRecord, ChunkRef, ObjectRecord, PartRecord, UploadRecord, WriteCondition,
};
use crate::{gc, ChunkId, Error, Result};
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    /// Unreferenced chunks younger than this are kept.
    pub gc_grace: Duration,
    /// Time between garbage collection passes.
    pub gc_interval: Duration,
}

struct Local {
    catalog: Catalog,
    chunks: ChunkStore,
}

#[derive(Clone)]
pub struct NodeClient {
    local: Arc<Local>,
}

impl NodeClient {
    /// Opens the node's data directory (creating it) and starts garbage collection.
    /// Must be called within a tokio runtime.
    pub fn open(cfg: &NodeConfig) -> Result<Self> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let local = Arc::new(Local {
            catalog: Catalog::open(&cfg.data_dir.join("catalog.redb"))?,
            chunks: ChunkStore::open(&cfg.data_dir.join("chunks"))?,
        });
        let client = NodeClient { local };
        client.spawn_gc(cfg.gc_grace, cfg.gc_interval);
        Ok(client)
    }

    fn spawn_gc(&self, grace: Duration, interval: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
            tick.tick().await;
            loop {
                tick.tick().await;
                let result = this
                    .blocking(move |l| gc::collect(&l.catalog, &l.chunks, grace))
                    .await;
                if let Err(error) = result {
                    tracing::warn!(%error, "garbage collection pass failed");
                }
            }
        });
    }

    /// Runs blocking storage work off the async threads.
    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Local) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let local = self.local.clone();
        tokio::task::spawn_blocking(move || f(&local))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
    }

    // ---- chunks ----

    /// Hashes, stores and fsyncs a chunk; returns its reference.
    pub async fn put_chunk(&self, data: Bytes) -> Result<ChunkRef> {
        self.blocking(move |l| {
            let id = ChunkId::of(&data);
            l.chunks.put(&id, &data)?;
            Ok(ChunkRef {
                id,
                len: data.len() as u64,
            })
        })
        .await
    }

    /// Reads a chunk, verified against its id.
    pub async fn get_chunk(&self, id: ChunkId) -> Result<Bytes> {
        self.blocking(move |l| l.chunks.get(&id).map(Bytes::from))
            .await
    }

    /// Keeps existing chunks from collection while a new record that shares them
    /// commits (a copy); fails if any is gone.
    pub async fn retain_chunks(&self, ids: Vec<ChunkId>) -> Result<()> {
        self.blocking(move |l| ids.iter().try_for_each(|id| l.chunks.retain(id)))
            .await
    }

    // ---- buckets ----

    pub async fn create_bucket(&self, name: String, record: BucketRecord) -> Result<()> {
        self.blocking(move |l| l.catalog.create_bucket(&name, &record))
            .await
    }

    pub async fn get_bucket(&self, name: String) -> Result<BucketRecord> {
        self.blocking(move |l| l.catalog.get_bucket(&name)).await
    }

    pub async fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>> {
        self.blocking(|l| l.catalog.list_buckets()).await
    }

    pub async fn update_bucket(
        &self,
        name: String,
        change: impl FnOnce(&mut BucketRecord) + Send + 'static,
    ) -> Result<()> {
        self.blocking(move |l| l.catalog.update_bucket(&name, change))
            .await
    }

    pub async fn delete_bucket(&self, name: String) -> Result<()> {
        self.blocking(move |l| l.catalog.delete_bucket(&name)).await
    }

    // ---- objects ----

    pub async fn put_object(
        &self,
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
    ) -> Result<()> {
        self.blocking(move |l| l.catalog.put_object(&bucket, &key, &record, &cond))
            .await
    }

    pub async fn get_object(&self, bucket: String, key: String) -> Result<ObjectRecord> {
        self.blocking(move |l| l.catalog.get_object(&bucket, &key))
            .await
    }

    pub async fn update_object(
        &self,
        bucket: String,
        key: String,
        change: impl FnOnce(&mut ObjectRecord) + Send + 'static,
    ) -> Result<()> {
        self.blocking(move |l| l.catalog.update_object(&bucket, &key, change))
            .await
    }

    /// Deletes objects (all in one commit); missing keys are not an error.
    pub async fn delete_objects(&self, bucket: String, keys: Vec<String>) -> Result<()> {
        self.blocking(move |l| l.catalog.delete_objects(&bucket, &keys))
            .await
    }

    pub async fn list_objects(&self, bucket: String, query: ListQuery) -> Result<ListPage> {
        self.blocking(move |l| l.catalog.list_objects(&bucket, &query))
            .await
    }

    // ---- multipart uploads ----

    /// Starts an upload; returns its new id.
    pub async fn create_upload(&self, record: UploadRecord) -> Result<String> {
        let id = format!("{:032x}", rand::random::<u128>());
        let upload_id = id.clone();
        self.blocking(move |l| l.catalog.create_upload(&upload_id, &record))
            .await?;
        Ok(id)
    }

    pub async fn get_upload(&self, upload_id: String) -> Result<UploadRecord> {
        self.blocking(move |l| l.catalog.get_upload(&upload_id))
            .await
    }

    pub async fn put_part(&self, upload_id: String, number: u32, part: PartRecord) -> Result<()> {
        self.blocking(move |l| l.catalog.put_part(&upload_id, number, &part))
            .await
    }

    pub async fn list_parts(&self, upload_id: String) -> Result<Vec<(u32, PartRecord)>> {
        self.blocking(move |l| l.catalog.list_parts(&upload_id))
            .await
    }

    pub async fn complete_upload(
        &self,
        upload_id: String,
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
    ) -> Result<()> {
        self.blocking(move |l| {
            l.catalog
                .complete_upload(&upload_id, &bucket, &key, &record, &cond)
        })
        .await
    }

    pub async fn abort_upload(&self, upload_id: String) -> Result<()> {
        self.blocking(move |l| l.catalog.abort_upload(&upload_id))
            .await
    }

    pub async fn list_uploads(&self, bucket: String, query: UploadListQuery) -> Result<UploadList> {
        self.blocking(move |l| l.catalog.list_uploads(&bucket, &query))
            .await
    }

    // ---- access keys ----

    pub async fn get_secret(&self, access_key: String) -> Result<Option<String>> {
        self.blocking(move |l| l.catalog.get_secret(&access_key))
            .await
    }

    pub async fn put_key(&self, access_key: String, secret_key: String) -> Result<()> {
        self.blocking(move |l| l.catalog.put_key(&access_key, &secret_key))
            .await
    }

    pub async fn list_keys(&self) -> Result<Vec<(String, String)>> {
        self.blocking(|l| l.catalog.list_keys()).await
    }
}
