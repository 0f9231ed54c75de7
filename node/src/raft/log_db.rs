//! The node's one Raft log database, shared by all its groups: a redb database
//! whose rows are keyed by (group, index), each group's vote, committed id and
//! (for placement groups) state-machine bookkeeping, and its write-ahead file
//! (`wal`). Every change commits at once without fsync (so it is readable) and is
//! appended to the write-ahead file; `wait_durable` returns once a shared
//! fdatasync of that file covers it.
//!
//! A failed write, sync, commit or checkpoint poisons the log: every later write
//! is refused. `reopen` is the way back without a process restart: it fences the
//! database off (nothing more reaches its file, so its non-durable commits are
//! not made durable by the close), drops it and the write-ahead file, and opens
//! both again through the same path as at start (`Opened::load`: the database as
//! of its last durable commit, then every intact record of the write-ahead file
//! replayed, a torn or unsynced tail dropped, a hole in synced records refused).
//! That is what a restart after a crash would find, so nothing acknowledged is
//! lost and no failed fsync is retried. A write made before a reopen cannot be
//! waited on after it (its durability is unknown to the new file): that wait
//! fails, and the group that made the write restarts from what is on disk.

use super::recent_chunks::RecentChunks;
use super::wal::{Mutation, Wal};
use crate::error::{Error, Result};
use crate::ids::GroupId;
use crate::storage::chunk_store::ChunkStore;
use crate::storage::disk::redb_backend::{self, Fence};
use crate::storage::disk::Disk;
use crate::storage::disk_space::DiskSpace;
use redb::{Database, Durability, ReadTransaction, ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// (group, index) → entry (postcard, chunk bytes stripped)
pub(super) const LOG: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("log");
/// (group, name) → value (postcard)
const STATE: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("state");

/// name → value: "first_generation", the oldest write-ahead file not yet
/// checkpointed (older ones left behind by a crash are never replayed).
const WAL_META: TableDefinition<&str, u64> = TableDefinition::new("wal");
const FIRST_GENERATION: &str = "first_generation";

/// The write-ahead file is emptied into the database once it grows past this.
const CHECKPOINT_BYTES: u64 = 32 << 20;

/// A change's place in the write-ahead file, to wait on: which opening of the
/// log it was made in, and its sequence number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seq {
    opening: u64,
    n: u64,
}

impl Seq {
    /// Whether both changes were made in the same opening of the log.
    pub fn same_opening(&self, other: &Seq) -> bool {
        self.opening == other.opening
    }
}

/// The database and its write-ahead file as opened from disk once.
struct Opened {
    db: Database,
    fence: Fence,
    wal: Wal,
    opening: u64,
}

enum Slot {
    Open(Arc<Opened>),
    /// Not open (being reopened, or the last reopening failed): why.
    Closed(String),
}

pub struct LogDb {
    disk: Disk,
    path: PathBuf,
    /// The database's page cache, in bytes.
    cache: usize,
    space: Arc<DiskSpace>,
    slot: RwLock<Slot>,
    /// Times the log was opened (1 at start).
    openings: AtomicU64,
    /// Serializes reopenings.
    reopening: Mutex<()>,
    pub(super) chunks: Arc<ChunkStore>,
    pub(super) recent: RecentChunks,
}

impl Opened {
    /// Opens the database at `path` and its write-ahead files in `path` + ".wal",
    /// replays what they hold and checkpoints; returns the changes replayed.
    fn load(disk: &Disk, path: &Path, cache: usize, opening: u64) -> Result<(Opened, usize)> {
        let (db, fence) = redb_backend::open_fenced(disk, path, cache)?;
        let txn = db.begin_write()?;
        txn.open_table(LOG)?;
        txn.open_table(STATE)?;
        let meta = txn.open_table(WAL_META)?;
        let first = redb::ReadableTable::get(&meta, FIRST_GENERATION)?.map_or(0, |v| v.value());
        drop(meta);
        txn.commit()?;
        let (wal, replay) = Wal::open(disk, &path.with_extension("wal"), first)?;
        let opened = Opened {
            db,
            fence,
            wal,
            opening,
        };
        if !replay.is_empty() {
            tracing::info!(
                changes = replay.len(),
                "replaying the raft write-ahead file"
            );
            opened.commit(&replay)?;
        }
        opened
            .wal
            .checkpoint(|first| opened.sync_checkpoint(first))?;
        Ok((opened, replay.len()))
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

    /// Commits changes and logs them in the write-ahead file. Checkpoints when
    /// the file has grown.
    fn mutate(&self, changes: &[Mutation]) -> Result<Seq> {
        let (n, wal_bytes) = self.wal.append(changes, || self.commit(changes))?;
        if wal_bytes > CHECKPOINT_BYTES {
            self.wal.checkpoint(|first| self.sync_checkpoint(first))?;
        }
        Ok(Seq {
            opening: self.opening,
            n,
        })
    }

    /// A syncing commit of nothing: every earlier commit becomes durable.
    fn sync_db(&self) -> Result<()> {
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
}

impl LogDb {
    /// Opens the database at `path` (and its write-ahead files in `path` + ".wal"),
    /// replaying what the write-ahead files hold, with a page cache of `cache`
    /// bytes. `recent_bytes` is the memory for
    /// chunks appended lately, kept for replicating them (see `recent_chunks`);
    /// appends are refused when `space` is below the log's floor.
    pub fn open(
        disk: &Disk,
        path: &Path,
        cache: usize,
        chunks: Arc<ChunkStore>,
        recent_bytes: usize,
        space: Arc<DiskSpace>,
    ) -> Result<Arc<Self>> {
        let (opened, _) = Opened::load(disk, path, cache, 1)?;
        Ok(Arc::new(LogDb {
            disk: disk.clone(),
            path: path.to_path_buf(),
            cache,
            space,
            slot: RwLock::new(Slot::Open(Arc::new(opened))),
            openings: AtomicU64::new(1),
            reopening: Mutex::new(()),
            chunks,
            recent: RecentChunks::new(recent_bytes),
        }))
    }

    fn opened(&self) -> Result<Arc<Opened>> {
        match &*self.slot.read().map_err(|_| lock_poisoned())? {
            Slot::Open(o) => Ok(o.clone()),
            Slot::Closed(why) => Err(Error::Io(std::io::Error::other(format!(
                "the raft log is not open: {why}"
            )))),
        }
    }

    /// Why the log refuses writes (a failed write, sync, commit or checkpoint, or
    /// a reopening that failed), if it does.
    pub fn failure(&self) -> Option<String> {
        match &*self.slot.read().ok()? {
            Slot::Open(o) => o.wal.failure(),
            Slot::Closed(why) => Some(why.clone()),
        }
    }

    /// Times the log was reopened after a failure.
    pub fn reopens(&self) -> u64 {
        self.openings.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Reopens a failed log from disk (see the file's doc); returns the changes
    /// the write-ahead file replayed. Does nothing if the log has not failed. The
    /// log refuses every write while this runs; groups whose writes failed must be
    /// restarted after it (their Raft cores stopped on the error).
    pub fn reopen(&self) -> Result<usize> {
        let _serial = self.reopening.lock().map_err(|_| lock_poisoned())?;
        let old = {
            let mut slot = self.slot.write().map_err(|_| lock_poisoned())?;
            let open = match &*slot {
                Slot::Open(o) if o.wal.failure().is_none() => return Ok(0),
                Slot::Open(o) => {
                    // From here on no byte of the old database reaches its file.
                    o.fence.close();
                    if Arc::strong_count(o) > 1 {
                        return Err(Error::Unavailable(
                            "the raft log is still in use; reopening it later".into(),
                        ));
                    }
                    true
                }
                Slot::Closed(_) => false,
            };
            open.then(|| std::mem::replace(&mut *slot, Slot::Closed("being reopened".into())))
        };
        // Closes the database (it writes nothing: fenced) and the file.
        drop(old);
        let opening = self.openings.fetch_add(1, Ordering::Relaxed) + 1;
        let loaded = Opened::load(&self.disk, &self.path, self.cache, opening);
        let mut slot = self.slot.write().map_err(|_| lock_poisoned())?;
        match loaded {
            Ok((opened, replayed)) => {
                *slot = Slot::Open(Arc::new(opened));
                Ok(replayed)
            }
            Err(e) => {
                *slot = Slot::Closed(format!("reopening it failed: {e}"));
                Err(e)
            }
        }
    }

    /// Refuses an append of entries when the disk is below the log's floor
    /// (`DiskSpace::check_log`), before anything is written.
    pub(super) fn check_room(&self) -> Result<()> {
        self.space.check_log()
    }

    /// Commits changes and logs them in the write-ahead file; returns what
    /// `wait_durable` takes.
    pub(super) fn mutate(&self, changes: &[Mutation]) -> Result<Seq> {
        self.opened()?.mutate(changes)
    }

    /// Returns once change `seq` is on disk. A change made before the log was
    /// reopened fails: the new file cannot tell.
    pub(super) fn wait_durable(&self, seq: Seq) -> Result<()> {
        let opened = self.opened()?;
        if opened.opening != seq.opening {
            return Err(Error::Io(std::io::Error::other(
                "the raft log was reopened since this write; its durability is unknown here",
            )));
        }
        opened.wal.wait_durable(seq.n)
    }

    /// Whether change `seq` is on disk already (no waiting).
    pub(super) fn is_durable(&self, seq: Seq) -> bool {
        self.opened()
            .is_ok_and(|o| o.opening == seq.opening && o.wal.is_durable(seq.n))
    }

    /// Runs `f` on a read transaction of the database.
    pub(super) fn read<R>(&self, f: impl FnOnce(&ReadTransaction) -> Result<R>) -> Result<R> {
        let opened = self.opened()?;
        let txn = opened.db.begin_read()?;
        f(&txn)
    }

    /// Makes every earlier commit durable in the database itself.
    pub fn sync_now(&self) -> Result<()> {
        let opened = self.opened()?;
        if let Some(failure) = opened.wal.failure() {
            return Err(crate::storage::group_commit::poisoned(&failure));
        }
        opened
            .sync_db()
            .inspect_err(|e| opened.wal.fail(e.to_string()))
    }

    pub fn get_state(&self, group: GroupId, name: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let t = txn.open_table(STATE)?;
            Ok(t.get((group, name))?.map(|v| v.value().to_vec()))
        })
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
        self.read(|txn| {
            let mut out: Vec<GroupId> = Vec::new();
            for item in txn.open_table(STATE)?.iter()? {
                let g = item?.0.value().0;
                if out.last() != Some(&g) {
                    out.push(g);
                }
            }
            Ok(out)
        })
    }

    /// Forgets a group: its log rows and every state value, durably.
    pub fn drop_group(&self, group: GroupId) -> Result<()> {
        let seq = self.mutate(&[Mutation::DropGroup { group }])?;
        self.wait_durable(seq)
    }

    /// First and last index present in a group's log.
    pub fn bounds(&self, group: GroupId) -> Result<Option<(u64, u64)>> {
        self.read(|txn| {
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
        })
    }
}

fn lock_poisoned() -> Error {
    Error::Task("raft log lock poisoned".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::DISK_FULL;
    use crate::storage::disk::sim::SimDisk;

    const CAPACITY: u64 = 256 << 20;

    fn open(sim: &Arc<SimDisk>, floor: u64) -> Arc<LogDb> {
        let disk = Disk::Sim(sim.clone());
        let dir = Path::new("/sim/node");
        disk.create_dir_all_synced(dir).unwrap();
        let chunks = Arc::new(ChunkStore::open(&disk, &dir.join("chunks")).unwrap());
        let space = Arc::new(DiskSpace::new(&disk, dir, Some(floor)));
        LogDb::open(&disk, &dir.join("raft.redb"), 1 << 20, chunks, 0, space).unwrap()
    }

    fn insert(index: u64) -> Mutation {
        Mutation::Insert {
            group: 7,
            index,
            row: vec![index as u8; 64 << 10],
        }
    }

    fn rows(db: &LogDb) -> Vec<u64> {
        db.read(|txn| {
            let t = txn.open_table(LOG)?;
            let mut out = Vec::new();
            for item in t.range((7, 0)..=(7, u64::MAX))? {
                out.push(item?.0.value().1);
            }
            Ok(out)
        })
        .unwrap()
    }

    #[test]
    fn a_log_that_met_a_full_disk_reopens_from_disk_keeping_what_it_acknowledged() {
        let sim = SimDisk::new(CAPACITY);
        let db = open(&sim, 0);
        let acked = db.mutate(&[insert(1), insert(2)]).unwrap();
        db.wait_durable(acked).unwrap();
        let written = db.mutate(&[insert(3)]).unwrap();
        // The disk fills from outside: the next change meets ENOSPC.
        sim.set_ballast(CAPACITY);
        let err = db.mutate(&[insert(4)]).err().unwrap();
        assert!(err.to_string().contains(DISK_FULL), "{err}");
        assert!(db.failure().is_some());
        sim.set_ballast(0);
        // Poisoned: room again does not make it take writes, nor a sync.
        assert!(db.mutate(&[insert(5)]).is_err());
        assert!(db.wait_durable(written).is_err());

        db.reopen().unwrap();
        assert_eq!(db.failure(), None);
        assert_eq!(db.reopens(), 1);
        // The change whose write failed is gone (the database was fenced off: its
        // close did not make that commit durable); what the write-ahead file held
        // was replayed.
        assert_eq!(rows(&db), vec![1, 2, 3]);
        // A write of the old opening cannot be waited on in the new one.
        assert!(db.wait_durable(acked).is_err());
        assert!(!db.is_durable(acked));
        let after = db.mutate(&[insert(6)]).unwrap();
        db.wait_durable(after).unwrap();

        // A power loss now: everything acknowledged is on disk.
        let image = sim.durable_image(None);
        drop(db);
        let db = open(&image, 0);
        let found = rows(&db);
        for i in [1, 2, 6] {
            assert!(found.contains(&i), "acknowledged row {i} lost: {found:?}");
        }
        assert!(!found.contains(&4), "{found:?}");
    }

    #[test]
    fn appends_are_refused_below_a_quarter_of_the_floor() {
        let sim = SimDisk::new(CAPACITY);
        let floor = 64 << 20;
        let db = open(&sim, floor);
        assert!(db.check_room().is_ok());
        let used = CAPACITY - sim_free(&sim);
        // Free: an eighth of the floor. Catalog and chunk writes are refused far
        // above that; the log keeps its quarter.
        sim.set_ballast(CAPACITY - used - floor / 8);
        let err = db.check_room().err().unwrap();
        assert!(matches!(err, Error::InsufficientCapacity(_)), "{err}");
        assert!(err.to_string().contains(DISK_FULL), "{err}");
        sim.set_ballast(CAPACITY - used - floor / 2);
        assert!(db.check_room().is_ok());
    }

    fn sim_free(sim: &Arc<SimDisk>) -> u64 {
        Disk::Sim(sim.clone()).space(Path::new("/")).unwrap().free
    }
}
