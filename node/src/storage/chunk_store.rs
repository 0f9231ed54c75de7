//! Content-addressed chunk files under `<data>/chunks/ab/cd/<blake3-hex>`.
//!
//! A chunk is written to a temporary file, fsynced, renamed into place and its
//! directory fsynced, so a chunk file either is complete or does not exist. The
//! write bypasses the page cache (`O_DIRECT`; buffered where the file system
//! refuses it): a buffered write costs a kernel copy per byte, and the CPU is what
//! a PUT runs short of. Chunks cut in an `aligned_buffer` are written as they are;
//! others from a block-aligned copy. Every read
//! verifies the bytes against the id. Writing a chunk that already exists only
//! refreshes its modification time, which the garbage collector's grace period reads.
//!
//! A chunk written or touched is also *pinned* in memory for `PIN_WINDOW`: the
//! collector never deletes a pinned chunk, whatever the grace period, so the chunks
//! of an upload in flight (its record not committed yet) survive however long the
//! upload takes (the gateway re-touches them while it runs and releases them once
//! the record committed).

use crate::error::{Error, Result};
use crate::ids::ChunkId;
use crate::storage::disk::real::ALIGN;
use crate::storage::disk::Disk;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

mod counting;
mod scrubbing;
mod usage;

use usage::Usage;

/// How long a write or touch pins a chunk against collection. Writers refresh
/// their pins well within it (`PIN_WINDOW / 5`) while an upload runs. Short, as
/// an orphan's pin lasts this long: a write interrupted by a crash and replicated
/// again to a node that restarted pins its chunks there once more.
pub const PIN_WINDOW: Duration = Duration::from_secs(60);

pub struct ChunkStore {
    disk: Disk,
    root: PathBuf,
    tmp: PathBuf,
    /// Writers (put, touch) share it; the collector takes it alone to check and delete.
    gc_lock: RwLock<()>,
    /// Chunk files and bytes held, per id prefix (saved at a clean stop or
    /// recounted after a crash: `counting`; then kept up to date).
    usage: Usage,
    /// The counters are exact (read from a saved file, or recounted).
    counted: AtomicBool,
    /// A saved counters file exists: the next change deletes it.
    saved: AtomicBool,
    /// Held while that file is deleted.
    forgetting: Mutex<()>,
    /// Block-aligned staging buffers for direct writes, kept for reuse.
    spare: Mutex<Vec<Vec<u8>>>,
    /// Chunks of writes in flight: id → pinned until.
    pins: Mutex<HashMap<ChunkId, Instant>>,
}

/// A chunk file as listed.
#[derive(Clone, Copy, Debug)]
pub struct ChunkFile {
    pub id: ChunkId,
    pub modified: SystemTime,
    pub len: u64,
}

impl ChunkStore {
    /// Opens (creating if needed) the store rooted at `root` on `disk`; clears
    /// leftover temp files. Walks no chunk file: the counters come from a clean
    /// stop's saved file, or stay short until `count_files` ran.
    pub fn open(disk: &Disk, root: &Path) -> Result<Self> {
        let tmp = root.join("tmp");
        disk.create_dir_all_synced(&tmp)?;
        sync_dir(disk, root)?;
        if let Some(parent) = root.parent() {
            sync_dir(disk, parent)?;
        }
        for entry in disk.read_dir(&tmp)? {
            let _ = disk.remove_file(&tmp.join(entry.name));
        }
        let store = ChunkStore {
            disk: disk.clone(),
            root: root.to_path_buf(),
            tmp,
            gc_lock: RwLock::new(()),
            usage: Usage::default(),
            counted: AtomicBool::new(false),
            saved: AtomicBool::new(false),
            forgetting: Mutex::new(()),
            spare: Mutex::new(Vec::new()),
            pins: Mutex::new(HashMap::new()),
        };
        let exact = store.load_saved_usage()?;
        store
            .counted
            .store(exact, std::sync::atomic::Ordering::Release);
        Ok(store)
    }

    /// Bytes of chunk files held.
    pub fn used(&self) -> u64 {
        self.usage.totals().1
    }

    /// Chunk files held and their bytes, from counters (no walk).
    pub fn totals(&self) -> (u64, u64) {
        self.usage.totals()
    }

    /// Bytes held per placement group of `pg_count` (a power of two ≤ 65,536: a PG is
    /// the id's leading bits, as `cluster::placement::pg_of` has it), PGs with none
    /// left out; from counters (no walk).
    pub fn bytes_per_pg(&self, pg_count: u32) -> Vec<(u32, u64)> {
        self.usage.bytes_by_leading_bits(pg_count.max(1).ilog2())
    }

    /// Creates the fan-out directories down to `dir` (`ab/cd`), fsyncing the parent
    /// of each one created, so a power loss cannot take a directory entry (and
    /// every chunk under it) that a synced chunk depends on.
    fn fan_out_dirs(&self, dir: &Path) -> Result<()> {
        let Ok(rel) = dir.strip_prefix(&self.root) else {
            return Ok(());
        };
        let mut parent = self.root.clone();
        for part in rel.iter() {
            let child = parent.join(part);
            match self.disk.create_dir(&child) {
                Ok(()) => sync_dir(&self.disk, &parent)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
            parent = child;
        }
        Ok(())
    }

    fn path_of(&self, id: &ChunkId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// Stores `data` under `id` (which the caller computed as `ChunkId::of(data)`).
    /// Returns true when the file was newly written, false when it already existed.
    pub fn put(&self, id: &ChunkId, data: &[u8]) -> Result<bool> {
        let _shared = self.gc_lock.read().map_err(|_| poisoned())?;
        let path = self.path_of(id);
        self.pin(id);
        if self.disk.touch(&path)? {
            return Ok(false);
        }
        self.forget_saved_usage()?;
        let tmp_path = self
            .tmp
            .join(format!("{}.{:016x}", id.to_hex(), rand::random::<u64>()));
        if let Err(e) = self.disk.write_new_synced(&tmp_path, data, &self.spare) {
            // A partial temp file (ENOSPC, EIO) would hold the space it took.
            let _ = self.disk.remove_file(&tmp_path);
            return Err(e.into());
        }
        let dir = path.parent().unwrap_or(&self.root);
        let placed = self
            .fan_out_dirs(dir)
            .and_then(|()| self.disk.rename(&tmp_path, &path).map_err(Error::from))
            .and_then(|()| sync_dir(&self.disk, dir));
        if let Err(e) = placed {
            let _ = self.disk.remove_file(&tmp_path);
            return Err(e);
        }
        self.usage.add(id, data.len() as u64);
        Ok(true)
    }

    /// Refreshes an existing chunk's time so the collector keeps it while a new
    /// reference to it commits; fails if the chunk is gone.
    pub fn retain(&self, id: &ChunkId) -> Result<()> {
        let _shared = self.gc_lock.read().map_err(|_| poisoned())?;
        if self.disk.touch(&self.path_of(id))? {
            self.pin(id);
            Ok(())
        } else {
            Err(Error::ChunkMissing(*id))
        }
    }

    /// Pins `id` against collection for `PIN_WINDOW` (a write of it is in flight).
    pub fn pin(&self, id: &ChunkId) {
        self.pins_lock().insert(*id, Instant::now() + PIN_WINDOW);
    }

    /// Drops the pins of `ids` (their record committed, or their write failed).
    pub fn release(&self, ids: &[ChunkId]) {
        let mut pins = self.pins_lock();
        for id in ids {
            pins.remove(id);
        }
    }

    fn pins_lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChunkId, Instant>> {
        self.pins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads a chunk without verifying it: for a reader on another machine, which
    /// verifies the bytes that reach it (and tries another replica if they fail).
    pub fn read(&self, id: &ChunkId) -> Result<Vec<u8>> {
        match self.disk.read(&self.path_of(id)) {
            Ok(d) => Ok(d),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::ChunkMissing(*id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads and verifies a chunk.
    pub fn get(&self, id: &ChunkId) -> Result<Vec<u8>> {
        let data = self.read(id)?;
        if ChunkId::of(&data) != *id {
            tracing::error!(chunk = %id, "chunk failed verification");
            return Err(Error::ChunkCorrupt(*id));
        }
        Ok(data)
    }

    pub fn contains(&self, id: &ChunkId) -> bool {
        self.disk.exists(&self.path_of(id))
    }

    /// Every chunk file.
    pub fn list(&self) -> Result<Vec<ChunkFile>> {
        let mut out = Vec::new();
        self.for_each_file(|file| {
            out.push(file);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `visit` with every chunk file, one fan-out directory in memory at a
    /// time (a file removed meanwhile is skipped).
    pub fn for_each_file(&self, mut visit: impl FnMut(ChunkFile) -> Result<()>) -> Result<()> {
        for l1 in read_dirs(&self.disk, &self.root)? {
            for l2 in read_dirs(&self.disk, &l1)? {
                self.for_each_file_in(&l2, &mut visit)?;
            }
        }
        Ok(())
    }

    /// Calls `visit` with every chunk file of one fan-out directory.
    fn for_each_file_in(
        &self,
        dir: &Path,
        mut visit: impl FnMut(ChunkFile) -> Result<()>,
    ) -> Result<()> {
        for entry in self.disk.read_dir(dir)? {
            let Some(id) = ChunkId::from_hex(&entry.name) else {
                continue;
            };
            let meta = match self.disk.metadata(&dir.join(&entry.name)) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            visit(ChunkFile {
                id,
                modified: meta.modified,
                len: meta.len,
            })?;
        }
        Ok(())
    }

    /// Deletes each chunk of `ids` whose file is still older than `cutoff`, checked
    /// under the store's exclusive lock so a concurrent `put` that reuses the chunk
    /// either refreshes it first (and it stays) or finds it gone (and rewrites it).
    pub fn delete_if_older(&self, ids: &[ChunkId], cutoff: SystemTime) -> Result<u64> {
        let _exclusive = self.gc_lock.write().map_err(|_| poisoned())?;
        self.forget_saved_usage()?;
        let mut pins = self.pins_lock();
        let now = Instant::now();
        pins.retain(|_, until| *until > now);
        let mut deleted = 0;
        for id in ids {
            if pins.contains_key(id) {
                continue;
            }
            let path = self.path_of(id);
            let Ok(meta) = self.disk.metadata(&path) else {
                continue;
            };
            if meta.modified < cutoff {
                self.disk.remove_file(&path)?;
                self.usage.remove(id, meta.len);
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Deletes every chunk whose id `doomed` selects (the chunks of a placement
    /// group this node no longer holds); returns the bytes freed.
    pub fn delete_where(&self, doomed: impl Fn(&ChunkId) -> bool) -> Result<u64> {
        let _exclusive = self.gc_lock.write().map_err(|_| poisoned())?;
        self.forget_saved_usage()?;
        let mut freed = 0;
        let walked = self.for_each_file(|file| {
            if doomed(&file.id) {
                match self.disk.remove_file(&self.path_of(&file.id)) {
                    Ok(()) => {
                        freed += file.len;
                        self.usage.remove(&file.id, file.len);
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        });
        walked.map(|()| freed)
    }
}

/// An empty buffer of at least `capacity` bytes whose start is block-aligned, so
/// that a chunk filled in it is written to disk without a copy.
pub fn aligned_buffer(capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(capacity + ALIGN);
    let skip = buf.as_ptr().align_offset(ALIGN).min(ALIGN);
    buf.resize(skip, 0);
    let _ = buf.split_to(skip);
    buf
}

/// Deserializes chunk bytes into an `aligned_buffer` (serde `deserialize_with`),
/// so chunks that arrive over the network are written to disk without a copy.
pub fn deserialize_aligned<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Bytes, D::Error> {
    struct Aligned;
    impl<'de> serde::de::Visitor<'de> for Aligned {
        type Value = Bytes;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("chunk bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
            if v.len() < ALIGN {
                // Log rows carry no bytes; a tail-sized chunk is copied anyway.
                return Ok(Bytes::copy_from_slice(v));
            }
            let mut buf = aligned_buffer(v.len());
            buf.extend_from_slice(v);
            Ok(buf.freeze())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Bytes, A::Error> {
            let mut buf = aligned_buffer(seq.size_hint().unwrap_or(0));
            while let Some(b) = seq.next_element::<u8>()? {
                buf.extend_from_slice(&[b]);
            }
            Ok(buf.freeze())
        }
    }
    d.deserialize_bytes(Aligned)
}

/// The fan-out subdirectories (two hex characters) of `dir`.
fn read_dirs(disk: &Disk, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in disk.read_dir(dir)? {
        if entry.is_dir && entry.name.len() == 2 {
            out.push(dir.join(entry.name));
        }
    }
    Ok(out)
}

fn poisoned() -> Error {
    Error::Task("chunk store lock poisoned".into())
}

/// fsyncs a directory (its entries), counted in tests.
fn sync_dir(disk: &Disk, dir: &Path) -> Result<()> {
    #[cfg(test)]
    tests::SYNCED_DIRS.with(|d| d.borrow_mut().push(dir.to_path_buf()));
    disk.sync_dir(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

    thread_local! {
        /// Directories `sync_dir` fsynced on this thread.
        pub(super) static SYNCED_DIRS: std::cell::RefCell<Vec<PathBuf>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }

    #[test]
    fn pinned_chunks_survive_collection_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        let data = b"chunk of an upload in flight".to_vec();
        let id = ChunkId::of(&data);
        store.put(&id, &data).unwrap();
        let future = SystemTime::now() + Duration::from_secs(3600);
        // Older than any cutoff, unreferenced: only the pin keeps it.
        assert_eq!(store.delete_if_older(&[id], future).unwrap(), 0);
        assert!(store.contains(&id));
        store.release(&[id]);
        assert_eq!(store.delete_if_older(&[id], future).unwrap(), 1);
        assert!(!store.contains(&id));
        // A touch (a copy, or a writer refreshing its upload) pins again.
        store.put(&id, &data).unwrap();
        store.release(&[id]);
        store.retain(&id).unwrap();
        assert_eq!(store.delete_if_older(&[id], future).unwrap(), 0);
    }

    #[test]
    fn new_fan_out_directories_are_synced_in_their_parents() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        SYNCED_DIRS.with(|d| d.borrow_mut().clear());
        let data = b"a chunk in fresh directories".to_vec();
        let id = ChunkId::of(&data);
        store.put(&id, &data).unwrap();
        let file = store.path_of(&id);
        let cd = file.parent().unwrap().to_path_buf();
        let ab = cd.parent().unwrap().to_path_buf();
        let synced = SYNCED_DIRS.with(|d| d.borrow().clone());
        // ab's entry lives in the root, cd's in ab, the chunk's in cd.
        for want in [dir.path().to_path_buf(), ab.clone(), cd.clone()] {
            assert!(
                synced.contains(&want),
                "{} not synced: {synced:?}",
                want.display()
            );
        }
        // A second chunk in the same directories syncs only its own entry.
        SYNCED_DIRS.with(|d| d.borrow_mut().clear());
        let (other, other_id) = (0u32..)
            .map(|n| {
                let d = format!("sibling {n}").into_bytes();
                let id = ChunkId::of(&d);
                (d, id)
            })
            .find(|(_, i)| store.path_of(i).parent() == Some(cd.as_path()))
            .unwrap();
        store.put(&other_id, &other).unwrap();
        assert_eq!(SYNCED_DIRS.with(|d| d.borrow().clone()), vec![cd]);
    }

    #[test]
    fn put_get_dedup_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        let data = b"hello chunk".to_vec();
        let id = ChunkId::of(&data);
        assert!(store.put(&id, &data).unwrap());
        assert!(!store.put(&id, &data).unwrap());
        assert_eq!(store.get(&id).unwrap(), data);
        assert_eq!(store.list().unwrap().len(), 1);

        fs::write(store.path_of(&id), b"tampered").unwrap();
        assert!(matches!(store.get(&id), Err(Error::ChunkCorrupt(_))));
    }

    #[test]
    fn aligned_and_unaligned_writes_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        for len in [1, ALIGN - 1, ALIGN, ALIGN + 1, 3 * ALIGN + 17, 1 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let mut aligned = aligned_buffer(len);
            assert_eq!(aligned.as_ptr().align_offset(ALIGN), 0);
            assert!(aligned.capacity() >= len);
            aligned.extend_from_slice(&data);
            let aligned = aligned.freeze();
            assert_eq!(aligned.as_ptr().align_offset(ALIGN), 0);
            let id = ChunkId::of(&data);
            assert!(store.put(&id, &aligned).unwrap());
            assert_eq!(store.get(&id).unwrap(), data);
            assert_eq!(fs::metadata(store.path_of(&id)).unwrap().len(), len as u64);
            // Other bytes from an unaligned start.
            let other: Vec<u8> = data.iter().map(|b| b ^ 0x5a).collect();
            let mut shifted_other = vec![0u8];
            shifted_other.extend_from_slice(&other);
            let id2 = ChunkId::of(&other);
            assert!(store.put(&id2, &shifted_other[1..]).unwrap());
            assert_eq!(store.get(&id2).unwrap(), other);
        }
    }

    #[test]
    fn chunk_bytes_deserialize_aligned() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Msg {
            #[serde(deserialize_with = "deserialize_aligned")]
            data: Bytes,
        }
        for len in [0, 100, ALIGN, 3 * ALIGN + 5] {
            let data = Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>());
            let wire = postcard::to_allocvec(&Msg { data: data.clone() }).unwrap();
            let back: Msg = postcard::from_bytes(&wire).unwrap();
            assert_eq!(back.data, data);
            if len >= ALIGN {
                assert_eq!(back.data.as_ptr().align_offset(ALIGN), 0);
            }
        }
    }

    #[test]
    fn delete_respects_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        let id = ChunkId::of(b"x");
        store.put(&id, b"x").unwrap();
        store.release(&[id]);
        let past = SystemTime::now() - std::time::Duration::from_secs(60);
        assert_eq!(store.delete_if_older(&[id], past).unwrap(), 0);
        let future = SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(store.delete_if_older(&[id], future).unwrap(), 1);
        assert!(!store.contains(&id));
    }
}
