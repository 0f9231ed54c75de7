//! The node's one Raft log, shared by all its groups: a redb database whose rows are
//! keyed by (group, index). Appends of all groups are group-committed, so concurrent
//! groups share fsyncs. A `PutChunk` entry's bytes go to the chunk store (fsynced)
//! and the log row keeps only the id; reading the entry back reattaches the bytes.
//! The same database holds each group's vote, committed id and (for placement
//! groups) state-machine bookkeeping.
//!
//! An append commits its rows at once without fsync (so they are readable), writes
//! them to the write-ahead file (`wal`) and returns; a per-group flusher reports
//! them flushed, in order, once a shared fdatasync of that file covers them. So the
//! Raft core keeps taking new entries while an fsync is in flight, and those batch
//! into the next one.

use super::recent_chunks::RecentChunks;
use super::types::{storage_error, Command, Entry, LogId, StorageError, TypeConfig, Vote};
use super::wal::{Mutation, Wal};
use crate::error::{Error, Result};
use crate::ids::GroupId;
use crate::storage::chunk_store::ChunkStore;
use crate::storage::disk::{redb_backend, Disk};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{EntryPayload, RaftLogReader};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

/// (group, index) → entry (postcard, chunk bytes stripped)
const LOG: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("log");
/// (group, name) → value (postcard)
const STATE: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("state");

/// name → value: "first_generation", the oldest write-ahead file not yet
/// checkpointed (older ones left behind by a crash are never replayed).
const WAL_META: TableDefinition<&str, u64> = TableDefinition::new("wal");
const FIRST_GENERATION: &str = "first_generation";

/// The write-ahead file is emptied into the database once it grows past this.
const CHECKPOINT_BYTES: u64 = 32 << 20;

pub struct LogDb {
    db: Database,
    wal: Wal,
    chunks: Arc<ChunkStore>,
    recent: RecentChunks,
}

impl LogDb {
    /// Opens the database at `path` (and its write-ahead files in `path` + ".wal"),
    /// replaying what the write-ahead files hold. `recent_bytes` is the memory for
    /// chunks appended lately, kept for replicating them (see `recent_chunks`).
    pub fn open(
        disk: &Disk,
        path: &Path,
        chunks: Arc<ChunkStore>,
        recent_bytes: usize,
    ) -> Result<Arc<Self>> {
        let db = redb_backend::open(disk, path)?;
        let txn = db.begin_write()?;
        txn.open_table(LOG)?;
        txn.open_table(STATE)?;
        let meta = txn.open_table(WAL_META)?;
        let first = redb::ReadableTable::get(&meta, FIRST_GENERATION)?.map_or(0, |v| v.value());
        drop(meta);
        txn.commit()?;
        let (wal, replay) = Wal::open(disk, &path.with_extension("wal"), first)?;
        let log = LogDb {
            db,
            wal,
            chunks,
            recent: RecentChunks::new(recent_bytes),
        };
        if !replay.is_empty() {
            tracing::info!(
                changes = replay.len(),
                "replaying the raft write-ahead file"
            );
            log.commit(&replay)?;
        }
        log.wal.checkpoint(|first| log.sync_checkpoint(first))?;
        Ok(Arc::new(log))
    }

    /// Applies changes in one non-syncing transaction.
    fn commit(&self, changes: &[Mutation]) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::None)?;
        {
            let mut log = txn.open_table(LOG)?;
            let mut state = txn.open_table(STATE)?;
            for m in changes {
                match m {
                    Mutation::Insert { group, index, row } => {
                        log.insert((*group, *index), row.as_slice())?;
                    }
                    Mutation::Remove { group, from, to } => {
                        log.retain_in((*group, *from)..=(*group, *to), |_, _| false)?;
                    }
                    Mutation::State { group, name, value } => {
                        state.insert((*group, name.as_str()), value.as_slice())?;
                    }
                    Mutation::DropGroup { group } => {
                        log.retain_in((*group, 0)..=(*group, u64::MAX), |_, _| false)?;
                        state.retain(|(g, _), _| g != *group)?;
                    }
                    // The write-ahead file's own bookkeeping, never replayed.
                    Mutation::Synced { .. } => {}
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Commits changes and logs them in the write-ahead file; returns the sequence
    /// number that `wait_durable` takes. Checkpoints when the file has grown.
    fn mutate(&self, changes: &[Mutation]) -> Result<u64> {
        let (seq, wal_bytes) = self.wal.append(changes, || self.commit(changes))?;
        if wal_bytes > CHECKPOINT_BYTES {
            self.wal.checkpoint(|first| self.sync_checkpoint(first))?;
        }
        Ok(seq)
    }

    /// Why the log refuses writes (a failed write or sync of its write-ahead
    /// file), if it does.
    pub fn failure(&self) -> Option<String> {
        self.wal.failure()
    }

    fn wait_durable(&self, seq: u64) -> Result<()> {
        self.wal.wait_durable(seq)
    }

    fn is_durable(&self, seq: u64) -> bool {
        self.wal.is_durable(seq)
    }

    /// Makes every earlier commit durable in the database itself.
    pub fn sync_now(&self) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        Ok(())
    }

    /// A syncing commit that also records `first`, the oldest write-ahead file
    /// still to replay: every older one is in the database now.
    fn sync_checkpoint(&self, first: u64) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.open_table(WAL_META)?.insert(FIRST_GENERATION, first)?;
        txn.commit()?;
        Ok(())
    }

    pub fn get_state(&self, group: GroupId, name: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(STATE)?;
        Ok(t.get((group, name))?.map(|v| v.value().to_vec()))
    }

    pub fn set_state(
        &self,
        group: GroupId,
        values: &[(&str, Vec<u8>)],
        durable: bool,
    ) -> Result<()> {
        let changes: Vec<Mutation> = values
            .iter()
            .map(|(name, value)| Mutation::State {
                group,
                name: name.to_string(),
                value: value.clone(),
            })
            .collect();
        let seq = self.mutate(&changes)?;
        if durable {
            self.wait_durable(seq)?;
        }
        Ok(())
    }

    /// The groups with anything stored (a vote at least): those this node was
    /// ever a member of and has not left.
    pub fn groups(&self) -> Result<Vec<GroupId>> {
        use redb::ReadableTable;
        let txn = self.db.begin_read()?;
        let mut out: Vec<GroupId> = Vec::new();
        for item in txn.open_table(STATE)?.iter()? {
            let g = item?.0.value().0;
            if out.last() != Some(&g) {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// Forgets a group: its log rows and every state value, durably.
    pub fn drop_group(&self, group: GroupId) -> Result<()> {
        let seq = self.mutate(&[Mutation::DropGroup { group }])?;
        self.wait_durable(seq)
    }

    /// First and last index present in a group's log.
    pub fn bounds(&self, group: GroupId) -> Result<Option<(u64, u64)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(LOG)?;
        let mut range = t.range((group, 0)..=(group, u64::MAX))?;
        let first = match range.next() {
            Some(item) => item?.0.value().1,
            None => return Ok(None),
        };
        let last = match range.next_back() {
            Some(item) => item?.0.value().1,
            None => first,
        };
        Ok(Some((first, last)))
    }
}

/// One group's view of the shared log.
#[derive(Clone)]
pub struct LogStore {
    group: GroupId,
    db: Arc<LogDb>,
    /// Appends waiting to be reported flushed, in order.
    flusher: tokio::sync::mpsc::UnboundedSender<(u64, LogFlushed<TypeConfig>)>,
    /// Whether entries read back carry their chunk bytes. Only the readers handed
    /// to replication need them; the Raft core reads entries to apply them, and
    /// the chunk is already in this node's store (written at append).
    chunk_bytes: bool,
}

impl LogStore {
    /// Must be called within a tokio runtime (it starts the group's flusher).
    pub fn new(group: GroupId, db: Arc<LogDb>) -> Self {
        let (flusher, mut pending) =
            tokio::sync::mpsc::unbounded_channel::<(u64, LogFlushed<TypeConfig>)>();
        let sync_db = db.clone();
        tokio::spawn(async move {
            // Every append queued by now waits for the same sync: one blocking
            // wait (or none, if a sync already covered them) for the whole batch.
            while let Some(first) = pending.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = pending.try_recv() {
                    batch.push(next);
                }
                let seq = batch.iter().map(|(seq, _)| *seq).max().unwrap_or(0);
                let result = if sync_db.is_durable(seq) {
                    Ok(())
                } else {
                    let db = sync_db.clone();
                    tokio::task::spawn_blocking(move || db.wait_durable(seq))
                        .await
                        .map_err(|e| Error::Task(e.to_string()))
                        .and_then(|r| r)
                };
                let result = result.map_err(|e| e.to_string());
                for (_, callback) in batch {
                    callback.log_io_completed(result.clone().map_err(std::io::Error::other));
                }
            }
        });
        LogStore {
            group,
            db,
            flusher,
            chunk_bytes: false,
        }
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&LogDb, GroupId) -> Result<R> + Send + 'static,
    ) -> Result<R, StorageError> {
        let db = self.db.clone();
        let group = self.group;
        tokio::task::spawn_blocking(move || f(&db, group))
            .await
            .map_err(storage_error)?
            .map_err(storage_error)
    }

    async fn load<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, StorageError> {
        let raw = self.blocking(move |db, g| db.get_state(g, name)).await?;
        raw.map(|b| postcard::from_bytes(&b).map_err(storage_error))
            .transpose()
    }

    async fn save<T: serde::Serialize>(
        &self,
        name: &'static str,
        value: &T,
        durable: bool,
    ) -> Result<(), StorageError> {
        let bytes = postcard::to_allocvec(value).map_err(storage_error)?;
        self.blocking(move |db, g| db.set_state(g, &[(name, bytes)], durable))
            .await
    }
}

/// An entry as stored: chunk bytes moved to the chunk store.
fn stripped(db: &LogDb, entry: &Entry) -> Result<Vec<u8>> {
    if let EntryPayload::Normal(Command::PutChunk { id, data }) = &entry.payload {
        if !data.is_empty() {
            db.chunks.put(id, data)?;
            db.recent.insert(*id, data.clone());
        }
        let mut light = entry.clone();
        light.payload = EntryPayload::Normal(Command::PutChunk {
            id: *id,
            data: bytes::Bytes::new(),
        });
        return Ok(postcard::to_allocvec(&light)?);
    }
    Ok(postcard::to_allocvec(entry)?)
}

/// A stored entry with its chunk bytes reattached. A chunk that is gone (collected
/// as garbage since: nothing refers to it) or damaged travels without bytes, and
/// a replica receiving it stores nothing; reads verify and fall back anyway.
fn restored(db: &LogDb, bytes: &[u8]) -> Result<Entry> {
    let mut entry: Entry = postcard::from_bytes(bytes)?;
    if let EntryPayload::Normal(Command::PutChunk { id, data }) = &mut entry.payload {
        if data.is_empty() && *id != crate::ChunkId::of(b"") {
            if let Some(bytes) = db.recent.get(id) {
                *data = bytes;
                return Ok(entry);
            }
            match db.chunks.get(id) {
                Ok(bytes) => *data = bytes::Bytes::from(bytes),
                Err(e @ (Error::ChunkMissing(_) | Error::ChunkCorrupt(_))) => {
                    tracing::warn!(chunk = %id, error = %e, "log entry's chunk unavailable");
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(entry)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => Some(e),
            Bound::Excluded(&e) => e.checked_sub(1),
            Bound::Unbounded => Some(u64::MAX),
        };
        let Some(end) = end else {
            return Ok(Vec::new());
        };
        if end < start {
            return Ok(Vec::new());
        }
        let chunk_bytes = self.chunk_bytes;
        self.blocking(move |db, g| {
            let txn = db.db.begin_read()?;
            let t = txn.open_table(LOG)?;
            let mut out = Vec::new();
            for item in t.range((g, start)..=(g, end))? {
                let row = item?.1;
                out.push(if chunk_bytes {
                    restored(db, row.value())?
                } else {
                    postcard::from_bytes(row.value())?
                });
            }
            Ok(out)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let purged: Option<LogId> = self.load("purged").await?;
        let last = self
            .blocking(|db, g| {
                let txn = db.db.begin_read()?;
                let t = txn.open_table(LOG)?;
                let last = t.range((g, 0)..=(g, u64::MAX))?.next_back();
                match last {
                    Some(item) => {
                        let entry: Entry = postcard::from_bytes(item?.1.value())?;
                        Ok(Some(entry.log_id))
                    }
                    None => Ok(None),
                }
            })
            .await?;
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last.or(purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogStore {
            chunk_bytes: true,
            ..self.clone()
        }
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.save("vote", vote, true).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.load("vote").await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.save("committed", &committed, false).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.load::<Option<LogId>>("committed").await?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        // Chunk bytes are written (and fsynced) now; the rows commit without fsync.
        let seq = self
            .blocking(move |db, g| {
                let rows = entries
                    .iter()
                    .map(|e| {
                        Ok(Mutation::Insert {
                            group: g,
                            index: e.log_id.index,
                            row: stripped(db, e)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                db.mutate(&rows)
            })
            .await?;
        self.flusher
            .send((seq, callback))
            .map_err(|_| storage_error("log flusher stopped"))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.blocking(move |db, g| {
            let seq = db.mutate(&[Mutation::Remove {
                group: g,
                from: log_id.index,
                to: u64::MAX,
            }])?;
            db.wait_durable(seq)
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let purged = postcard::to_allocvec(&log_id).map_err(storage_error)?;
        self.blocking(move |db, g| {
            db.mutate(&[
                Mutation::State {
                    group: g,
                    name: "purged".into(),
                    value: purged,
                },
                Mutation::Remove {
                    group: g,
                    from: 0,
                    to: log_id.index,
                },
            ])
            .map(drop)
        })
        .await
    }
}
