//! The state machines. The catalog group applies `CatalogCommand`s to the catalog;
//! a placement group's state is its chunk set — the chunk files whose id falls in
//! the PG, written when their log entry was appended — so applying only records
//! progress. Snapshots: the catalog's is a pinned view of its tables, taken in no
//! time and dumped only when a follower needs it; a PG's is its metadata alone,
//! its chunk files listed only when it streams (the receiver fetches the chunks it
//! lacks before installing, see `node`).

use super::snapshot::{PgChunks, SnapshotData, SnapshotDir};
use super::types::{
    storage_error, Command, Entry, LogId, Reply, SnapshotMeta, StorageError, StoredMembership,
    TypeConfig,
};
use crate::error::{Error, Result};
use crate::ids::ChunkId;
use crate::ids::GroupId;
use crate::ids::PgId;
use crate::raft::stores::Stores;
use crate::storage::catalog::{CatalogView, EntryWrite, Outcome};
use crate::storage::disk::Disk;
use crate::storage::frames::read_frame;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Catalog,
    Pg(PgId),
}

#[derive(Clone)]
pub struct StateMachine {
    group: GroupId,
    kind: Kind,
    stores: Arc<Stores>,
    snaps: Arc<SnapshotDir>,
    /// The catalog's current snapshot, once one was taken since the start.
    view: Arc<Mutex<Option<(SnapshotMeta, CatalogView)>>>,
}

const APPLIED: &str = "sm_applied";
const MEMBERSHIP: &str = "sm_membership";

impl StateMachine {
    pub fn new(group: GroupId, kind: Kind, stores: Arc<Stores>) -> Result<Self> {
        let snaps = Arc::new(SnapshotDir::open(
            &stores.disk,
            &stores.snapshot_root(),
            group,
        )?);
        if let Kind::Catalog = kind {
            // Full dumps of earlier versions (and anything half received).
            snaps.clear()?;
        }
        Ok(StateMachine {
            group,
            kind,
            stores,
            snaps,
            view: Arc::default(),
        })
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&StateMachine) -> Result<R> + Send + 'static,
    ) -> Result<R, StorageError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(storage_error)?
            .map_err(storage_error)
    }

    fn load_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.kind {
            Kind::Catalog => self.stores.catalog.meta(name),
            Kind::Pg(_) => self.stores.log.get_state(self.group, name),
        }
    }

    fn save_progress(&self, applied: &Option<LogId>, membership: &StoredMembership) -> Result<()> {
        let values = [
            (APPLIED, postcard::to_allocvec(applied)?),
            (MEMBERSHIP, postcard::to_allocvec(membership)?),
        ];
        match self.kind {
            Kind::Catalog => self.stores.catalog.set_meta(&values),
            Kind::Pg(_) => self.stores.log.set_state(self.group, &values, false),
        }
    }

    fn progress(&self) -> Result<(Option<LogId>, StoredMembership)> {
        progress_from(|name| self.load_meta(name))
    }

    /// Applies one catalog entry's writes together with the progress up to it, in
    /// one catalog transaction; each write's outcome (an I/O or database failure
    /// fails the whole apply instead, and changes nothing).
    fn apply_catalog(
        &self,
        log_id: LogId,
        membership: &StoredMembership,
        writes: &[EntryWrite<'_>],
    ) -> Result<Vec<Outcome>> {
        let meta = [
            (APPLIED, postcard::to_allocvec(&Some(log_id))?),
            (MEMBERSHIP, postcard::to_allocvec(membership)?),
        ];
        self.stores.catalog.apply_entry(log_id.index, writes, &meta)
    }

    fn apply_blocking(&self, entries: Vec<Entry>) -> Result<Vec<Reply>> {
        let (mut applied, mut membership) = self.progress()?;
        // The progress already written with the last catalog entry applied.
        let mut saved = applied;
        let mut replies = Vec::with_capacity(entries.len());
        for entry in entries {
            let reply = match &entry.payload {
                EntryPayload::Blank => Reply::None,
                EntryPayload::Membership(m) => {
                    membership = StoredMembership::new(Some(entry.log_id), m.clone());
                    Reply::None
                }
                EntryPayload::Normal(Command::Catalog(cmd)) => {
                    let writes = [EntryWrite::Plain(cmd)];
                    let mut out = self.apply_catalog(entry.log_id, &membership, &writes)?;
                    saved = Some(entry.log_id);
                    match out.pop() {
                        Some(o) => Reply::Catalog(Box::new(o)),
                        None => Reply::None,
                    }
                }
                EntryPayload::Normal(Command::CatalogBatch(cmds)) => {
                    let writes: Vec<EntryWrite<'_>> = cmds.iter().map(EntryWrite::Plain).collect();
                    saved = Some(entry.log_id);
                    Reply::CatalogBatch(self.apply_catalog(entry.log_id, &membership, &writes)?)
                }
                EntryPayload::Normal(Command::CatalogRequests(reqs)) => {
                    let writes: Vec<EntryWrite<'_>> = reqs.iter().map(EntryWrite::Once).collect();
                    saved = Some(entry.log_id);
                    Reply::CatalogBatch(self.apply_catalog(entry.log_id, &membership, &writes)?)
                }
                EntryPayload::Normal(Command::PutChunk { id, data }) => {
                    // Not pinned here: the append pinned it (`ChunkStore::put`), and
                    // entries replayed after a restart must not pin orphans again.
                    if !data.is_empty() && !self.stores.chunks.contains(id) {
                        self.stores.chunks.put(id, data)?;
                    }
                    if self.stores.chunks.contains(id) || *id == ChunkId::of(b"") {
                        Reply::Chunk
                    } else {
                        // The entry came without bytes (its chunk was collected on the
                        // leader before it was replicated): the write must not be
                        // acknowledged; the writer sends the bytes again.
                        Reply::ChunkLost
                    }
                }
            };
            applied = Some(entry.log_id);
            replies.push(reply);
        }
        if saved != applied {
            self.save_progress(&applied, &membership)?;
        }
        Ok(replies)
    }

    /// Takes a snapshot: the catalog pins a view, a placement group records its
    /// metadata (its chunk files are its state).
    fn build_blocking(&self) -> Result<(SnapshotMeta, SnapshotData)> {
        let pg = match self.kind {
            Kind::Catalog => return self.catalog_view(),
            Kind::Pg(pg) => pg,
        };
        let (applied, membership) = self.progress()?;
        // Chunk files are durable when written; make the progress durable too.
        self.stores.log.sync_now()?;
        let meta = self.meta(applied, membership);
        self.snaps.set_current(&meta)?;
        Ok((meta, self.pg_chunks(pg)))
    }

    /// Pins the catalog as it is now (durable) as its current snapshot.
    fn catalog_view(&self) -> Result<(SnapshotMeta, SnapshotData)> {
        let view = self.stores.catalog.view()?;
        let (applied, membership) = progress_from(|name| view.meta(name))?;
        let meta = self.meta(applied, membership);
        let mut current = self.view.lock().unwrap_or_else(|p| p.into_inner());
        *current = Some((meta.clone(), view.clone()));
        Ok((meta, SnapshotData::Catalog(view)))
    }

    fn meta(&self, applied: Option<LogId>, membership: StoredMembership) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id: format!(
                "{}-{}-{:08x}",
                self.group,
                applied.map(|l| l.index).unwrap_or(0),
                rand::random::<u32>()
            ),
        }
    }

    /// The current snapshot: the catalog's view (one taken now if none was taken
    /// since the start: the catalog on disk is the state as of its progress), a
    /// placement group's last file.
    fn current_blocking(&self) -> Result<Option<(SnapshotMeta, SnapshotData)>> {
        match self.kind {
            Kind::Catalog => {
                let current = self.view.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match current {
                    Some((meta, view)) => Ok(Some((meta, SnapshotData::Catalog(view)))),
                    None => self.catalog_view().map(Some),
                }
            }
            Kind::Pg(pg) => Ok(self.snaps.current()?.map(|meta| (meta, self.pg_chunks(pg)))),
        }
    }

    /// A placement group's chunks held here, as snapshot data.
    fn pg_chunks(&self, pg: PgId) -> SnapshotData {
        SnapshotData::Chunks(PgChunks {
            store: self.stores.chunks.clone(),
            pg,
            pg_count: self.stores.pg_count,
        })
    }

    fn install_blocking(&self, meta: &SnapshotMeta, data: &SnapshotData) -> Result<()> {
        let SnapshotData::File(path) = data else {
            return Err(Error::Io(std::io::ErrorKind::InvalidInput.into()));
        };
        match self.kind {
            Kind::Catalog => {
                let mut input = std::io::BufReader::new(self.stores.disk.open(path)?);
                self.stores.catalog.load(&mut input)?;
                self.save_progress(&meta.last_log_id, &meta.last_membership)?;
                // The loaded rows are the state now: the next snapshot is a view of them
                // (the receiver deletes the file).
                self.catalog_view()?;
            }
            Kind::Pg(_) => {
                // The chunks were fetched before installation; check they are here.
                let mut list = ChunkList::open(&self.stores.disk, path)?;
                loop {
                    let batch = list.next_batch(LIST_BATCH)?;
                    if batch.is_empty() {
                        break;
                    }
                    if let Some(id) = batch
                        .into_iter()
                        .find(|id| !self.stores.chunks.contains(id))
                    {
                        return Err(Error::ChunkMissing(id));
                    }
                }
                self.save_progress(&meta.last_log_id, &meta.last_membership)?;
                self.stores.log.sync_now()?;
                // The chunk files are the state (the receiver deletes the list).
                self.snaps.set_current(meta)?;
            }
        }
        Ok(())
    }
}

/// The state machine's progress from its bookkeeping values.
fn progress_from(
    load: impl Fn(&str) -> Result<Option<Vec<u8>>>,
) -> Result<(Option<LogId>, StoredMembership)> {
    let applied = match load(APPLIED)? {
        Some(b) => postcard::from_bytes(&b)?,
        None => None,
    };
    let membership = match load(MEMBERSHIP)? {
        Some(b) => postcard::from_bytes(&b)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

/// How many ids of a snapshot's chunk list are in memory at once.
pub const LIST_BATCH: usize = 4096;

/// A placement group's snapshot file as received: its chunk ids, read a batch at a
/// time (the list of a big PG is not held whole).
pub struct ChunkList {
    input: std::io::BufReader<crate::storage::disk::File>,
}

impl ChunkList {
    pub fn open(disk: &Disk, path: &std::path::Path) -> Result<Self> {
        Ok(ChunkList {
            input: std::io::BufReader::new(disk.open(path)?),
        })
    }

    /// Up to `max` more ids; empty at the end.
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<ChunkId>> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(frame) = read_frame(&mut self.input)? else {
                break;
            };
            out.push(ChunkId(frame.as_slice().try_into().map_err(|_| {
                Error::Io(std::io::ErrorKind::InvalidData.into())
            })?));
        }
        Ok(out)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (meta, file) = self.blocking(|sm| sm.build_blocking()).await?;
        tracing::info!(group = self.group, snapshot = %meta.snapshot_id, "snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        self.blocking(|sm| sm.progress()).await
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Reply>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        self.blocking(move |sm| sm.apply_blocking(entries)).await
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotData>, StorageError> {
        Ok(Box::new(SnapshotData::File(self.snaps.temp_path())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<SnapshotData>,
    ) -> Result<(), StorageError> {
        let meta = meta.clone();
        let id = meta.snapshot_id.clone();
        self.blocking(move |sm| sm.install_blocking(&meta, &snapshot))
            .await?;
        tracing::info!(group = self.group, snapshot = %id, "snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let current = self.blocking(|sm| sm.current_blocking()).await?;
        Ok(current.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(data),
        }))
    }
}
