//! The node's one Raft log, shared by all its groups: a redb database whose rows are
//! keyed by (group, index). Appends of all groups are group-committed, so concurrent
//! groups share fsyncs. A `PutChunk` entry's bytes go to the chunk store (fsynced)
//! and the log row keeps only the id; reading the entry back reattaches the bytes.
//! The same database holds each group's vote, committed id and (for placement
//! groups) state-machine bookkeeping.

use super::{storage_error, Command, Entry, GroupId, LogId, StorageError, TypeConfig, Vote};
use crate::chunk_store::ChunkStore;
use crate::group_commit::GroupCommit;
use crate::{Error, Result};
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

pub struct LogDb {
    db: Database,
    sync: GroupCommit,
    chunks: Arc<ChunkStore>,
}

impl LogDb {
    pub fn open(path: &Path, chunks: Arc<ChunkStore>) -> Result<Arc<Self>> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(LOG)?;
        txn.open_table(STATE)?;
        txn.commit()?;
        Ok(Arc::new(LogDb {
            db,
            sync: GroupCommit::default(),
            chunks,
        }))
    }

    /// Runs `f` in a write transaction; when `durable`, returns only once a syncing
    /// commit (shared with concurrent writers) covers it.
    fn write<R>(
        &self,
        durable: bool,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<R>,
    ) -> Result<R> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::None)?;
        let out = f(&txn)?;
        txn.commit()?;
        if durable {
            let seq = self.sync.committed();
            self.sync.wait_durable(seq, || self.sync_now())?;
        }
        Ok(out)
    }

    /// Makes every earlier commit durable now.
    pub fn sync_now(&self) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        Ok(())
    }

    pub fn get_state(&self, group: GroupId, name: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(STATE)?;
        Ok(t.get((group, name))?.map(|v| v.value().to_vec()))
    }

    pub fn set_state(&self, group: GroupId, values: &[(&str, Vec<u8>)], durable: bool) -> Result<()> {
        self.write(durable, |txn| {
            let mut t = txn.open_table(STATE)?;
            for (name, value) in values {
                t.insert((group, *name), value.as_slice())?;
            }
            Ok(())
        })
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

    /// Size of the log database file.
    pub fn file_size(&self, path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}

/// One group's view of the shared log.
#[derive(Clone)]
pub struct LogStore {
    group: GroupId,
    db: Arc<LogDb>,
}

impl LogStore {
    pub fn new(group: GroupId, db: Arc<LogDb>) -> Self {
        LogStore { group, db }
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
fn stripped(chunks: &ChunkStore, entry: &Entry) -> Result<Vec<u8>> {
    if let EntryPayload::Normal(Command::PutChunk { id, data }) = &entry.payload {
        if !data.is_empty() {
            chunks.put(id, data)?;
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

/// A stored entry with its chunk bytes reattached.
fn restored(chunks: &ChunkStore, bytes: &[u8]) -> Result<Entry> {
    let mut entry: Entry = postcard::from_bytes(bytes)?;
    if let EntryPayload::Normal(Command::PutChunk { id, data }) = &mut entry.payload {
        if data.is_empty() && *id != crate::ChunkId::of(b"") {
            *data = bytes::Bytes::from(chunks.get(id).map_err(|e| match e {
                Error::ChunkMissing(id) => Error::ChunkMissing(id),
                other => other,
            })?);
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
        self.blocking(move |db, g| {
            let txn = db.db.begin_read()?;
            let t = txn.open_table(LOG)?;
            let mut out = Vec::new();
            for item in t.range((g, start)..=(g, end))? {
                out.push(restored(&db.chunks, item?.1.value())?);
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
        self.clone()
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

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let result = self
            .blocking(move |db, g| {
                let rows = entries
                    .iter()
                    .map(|e| Ok((e.log_id.index, stripped(&db.chunks, e)?)))
                    .collect::<Result<Vec<_>>>()?;
                db.write(true, |txn| {
                    let mut t = txn.open_table(LOG)?;
                    for (index, row) in &rows {
                        t.insert((g, *index), row.as_slice())?;
                    }
                    Ok(())
                })
            })
            .await;
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.blocking(move |db, g| {
            db.write(true, |txn| {
                let mut t = txn.open_table(LOG)?;
                t.retain_in((g, log_id.index)..=(g, u64::MAX), |_, _| false)?;
                Ok(())
            })
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let purged = postcard::to_allocvec(&log_id).map_err(storage_error)?;
        self.blocking(move |db, g| {
            db.write(false, |txn| {
                txn.open_table(STATE)?.insert((g, "purged"), purged.as_slice())?;
                let mut t = txn.open_table(LOG)?;
                t.retain_in((g, 0)..=(g, log_id.index), |_, _| false)?;
                Ok(())
            })
        })
        .await
    }
}
