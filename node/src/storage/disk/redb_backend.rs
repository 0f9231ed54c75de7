//! A redb database over a `Disk`: on the real disk, redb's own file backend (its
//! locking and I/O as they are); on a simulated one, `DiskBackend`, redb's
//! `StorageBackend` over a `disk::File`, so the database's writes and fsyncs meet
//! the simulation's faults and power losses.
//!
//! `open_fenced` adds a `Fence`: once it is closed, no byte reaches the file any
//! more (reads go on), so dropping the database then leaves the file exactly as a
//! crash would, with none of its non-durable commits made durable by the close.
//! The Raft log uses it to reopen itself from disk after a failed write.

use super::{Disk, File};
use redb::backends::FileBackend;
use redb::{BackendError, Database, DatabaseError, StorageBackend};
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Opens (creating if needed) the database at `path` on `disk`, with a page cache
/// of `cache` bytes.
pub fn open(disk: &Disk, path: &Path, cache: usize) -> Result<Database, DatabaseError> {
    match disk {
        Disk::Real => Database::builder().set_cache_size(cache).create(path),
        Disk::Sim(_) => with_backend(
            DiskBackend {
                file: disk.open_rw(path)?,
            },
            cache,
        ),
    }
}

/// `open`, with a fence that can stop every write of the database.
pub fn open_fenced(
    disk: &Disk,
    path: &Path,
    cache: usize,
) -> Result<(Database, Fence), DatabaseError> {
    let fence = Fence::default();
    let db = match disk {
        Disk::Real => {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            with_backend(
                Fenced {
                    inner: FileBackend::new(file)?,
                    fence: fence.clone(),
                },
                cache,
            )?
        }
        Disk::Sim(_) => with_backend(
            Fenced {
                inner: DiskBackend {
                    file: disk.open_rw(path)?,
                },
                fence: fence.clone(),
            },
            cache,
        )?,
    };
    Ok((db, fence))
}

fn with_backend(backend: impl StorageBackend, cache: usize) -> Result<Database, DatabaseError> {
    Database::builder()
        .set_cache_size(cache)
        .create_with_backend(backend)
}

/// Stops the writes of a database opened with `open_fenced`; cheap to clone.
#[derive(Clone, Default)]
pub struct Fence(Arc<AtomicBool>);

impl Fence {
    /// From now on every write, resize and sync of the file fails.
    pub fn close(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn check(&self) -> io::Result<()> {
        if self.0.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "the database is fenced off for reopening: no more writes",
            ));
        }
        Ok(())
    }
}

/// A backend whose writes stop once its fence is closed.
struct Fenced<B> {
    inner: B,
    fence: Fence,
}

impl<B> std::fmt::Debug for Fenced<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fenced")
    }
}

impl<B: StorageBackend> StorageBackend for Fenced<B> {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.fence.check()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.fence.check()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.fence.check()?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// redb's storage: one file of a `Disk`.
pub struct DiskBackend {
    file: File,
}

impl std::fmt::Debug for DiskBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiskBackend")
    }
}

impl StorageBackend for DiskBackend {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.file.read_at(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_at(offset, data)
    }
}
