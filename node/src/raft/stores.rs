//! A node's local storage, opened once and shared by its Raft groups and RPC
//! handlers: the chunk store, the catalog (the catalog group's state machine), the
//! shared Raft log, and the free space of their file system with its floor.

use crate::error::Result;
use crate::raft::log_db::LogDb;
use crate::storage::catalog::Catalog;
use crate::storage::chunk_store::ChunkStore;
use crate::storage::disk::Disk;
use crate::storage::disk_space::DiskSpace;
use crate::storage::DbCaches;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Memory for chunks appended lately, kept to send them to followers.
const RECENT_CHUNK_BYTES: usize = 32 << 20;

pub struct Stores {
    /// The disk every store writes to.
    pub disk: Disk,
    pub data_dir: PathBuf,
    pub chunks: Arc<ChunkStore>,
    pub catalog: Catalog,
    pub log: Arc<LogDb>,
    /// Free space of the data directory's file system, and its floor.
    pub space: Arc<DiskSpace>,
    pub pg_count: u32,
}

impl Stores {
    /// Opens the stores in `data_dir` on `disk`; chunks appended lately are kept
    /// in memory for replicating them when groups have more than one member
    /// (`replication`). `min_free` is the free-space floor (`DiskSpace`; `None`:
    /// the default); `caches` the databases' page caches.
    pub fn open(
        disk: &Disk,
        data_dir: &Path,
        pg_count: u32,
        replication: usize,
        min_free: Option<u64>,
        caches: DbCaches,
    ) -> Result<Arc<Self>> {
        disk.create_dir_all_synced(data_dir)?;
        let chunks = Arc::new(ChunkStore::open(disk, &data_dir.join("chunks"))?);
        if !chunks.counted() {
            // After a crash: the counters are rebuilt behind start-up, not before it.
            let counting = chunks.clone();
            std::thread::Builder::new()
                .name("chunk-count".into())
                .spawn(move || {
                    if let Err(error) = counting.count_files() {
                        tracing::error!(%error, "counting the chunk files failed: chunk totals stay low until the next start");
                    }
                })?;
        }
        let recent = if replication > 1 {
            RECENT_CHUNK_BYTES
        } else {
            0
        };
        let space = Arc::new(DiskSpace::new(disk, data_dir, min_free));
        let log = LogDb::open(
            disk,
            &data_dir.join("raft.redb"),
            caches.log,
            chunks.clone(),
            recent,
            space.clone(),
        )?;
        let catalog = Catalog::open(disk, &data_dir.join("catalog.redb"), caches.catalog)?;
        // The entries of the files just created (the databases, the write-ahead
        // directory): without this a power loss may take a database whole.
        disk.sync_dir(data_dir)?;
        Ok(Arc::new(Stores {
            disk: disk.clone(),
            data_dir: data_dir.to_path_buf(),
            catalog,
            chunks,
            log,
            space,
            pg_count,
        }))
    }

    pub fn snapshot_root(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }

    /// Removes a group's snapshot files (the node left the group).
    pub fn drop_snapshots(&self, group: u64) -> Result<()> {
        match self
            .disk
            .remove_dir_all(&self.snapshot_root().join(group.to_string()))
        {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("raft.redb")
    }
}
