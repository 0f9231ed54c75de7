//! One group's view of the node's shared Raft log (`log_db`): openraft's log
//! storage. Appends of all groups are group-committed, so concurrent groups share
//! fsyncs. A `PutChunk` entry's bytes go to the chunk store (fsynced) and the log
//! row keeps only the id; reading the entry back reattaches the bytes.
//!
//! An append is refused before anything is written when the disk is below the
//! log's floor (`DiskSpace::check_log`); otherwise it commits its rows at once
//! without fsync (so they are readable), writes them to the write-ahead file and
//! returns; a per-group flusher reports them flushed, in order, once a shared
//! fdatasync of that file covers them. So the Raft core keeps taking new entries
//! while an fsync is in flight, and those batch into the next one.

use super::log_db::{LogDb, Seq, LOG};
use super::types::{storage_error, Command, Entry, LogId, StorageError, TypeConfig, Vote};
use super::wal::Mutation;
use crate::error::{Error, Result};
use crate::ids::GroupId;
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{EntryPayload, RaftLogReader};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// One group's view of the shared log.
#[derive(Clone)]
pub struct LogStore {
    group: GroupId,
    db: Arc<LogDb>,
    /// Appends waiting to be reported flushed, in order.
    flusher: tokio::sync::mpsc::UnboundedSender<(Seq, LogFlushed<TypeConfig>)>,
    /// Whether entries read back carry their chunk bytes. Only the readers handed
    /// to replication need them; the Raft core reads entries to apply them, and
    /// the chunk is already in this node's store (written at append).
    chunk_bytes: bool,
}

impl LogStore {
    /// Must be called within a tokio runtime (it starts the group's flusher).
    pub fn new(group: GroupId, db: Arc<LogDb>) -> Self {
        let (flusher, mut pending) =
            tokio::sync::mpsc::unbounded_channel::<(Seq, LogFlushed<TypeConfig>)>();
        let sync_db = db.clone();
        tokio::spawn(async move {
            // Every append queued by now waits for the same sync: one blocking
            // wait (or none, if a sync already covered them) for the whole batch,
            // or for each run of it made in one opening of the log.
            while let Some(first) = pending.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = pending.try_recv() {
                    batch.push(next);
                }
                while let Some(head) = batch.first().map(|(seq, _)| *seq) {
                    let run = batch
                        .iter()
                        .position(|(seq, _)| !seq.same_opening(&head))
                        .unwrap_or(batch.len());
                    let rest = batch.split_off(run);
                    let seq = batch.iter().map(|(seq, _)| *seq).fold(head, Seq::max);
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
                    batch = rest;
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
            db.read(|txn| {
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
                db.read(|txn| {
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
                db.check_room()?;
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
