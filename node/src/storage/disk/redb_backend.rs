//! A redb database over a `Disk`: on the real disk, redb's own file backend (its
//! locking and I/O as they are); on a simulated one, `DiskBackend`, redb's
//! `StorageBackend` over a `disk::File`, so the database's writes and fsyncs meet
//! the simulation's faults and power losses.

use super::{Disk, File};
use redb::{Database, DatabaseError, StorageBackend};
use std::path::Path;

/// Opens (creating if needed) the database at `path` on `disk`.
pub fn open(disk: &Disk, path: &Path) -> Result<Database, DatabaseError> {
    match disk {
        Disk::Real => Database::builder()
            .set_cache_size(crate::storage::DB_CACHE_BYTES)
            .create(path),
        Disk::Sim(_) => {
            let file = disk.open_rw(path)?;
            Database::builder()
                .set_cache_size(crate::storage::DB_CACHE_BYTES)
                .create_with_backend(DiskBackend { file })
        }
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
    fn len(&self) -> std::io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.file.read_at(offset, out)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.file.write_at(offset, data)
    }
}
