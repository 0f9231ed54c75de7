//! Free space on the file system of a node's data directory (`statvfs`), and the
//! floor that new chunk writes may not go below.
//!
//! A chunk write is admitted only if the free space, less the bytes of chunk
//! writes already admitted and still running, stays at or above the floor after
//! it (`reserve`). The floor is room kept for what must keep working on a full
//! disk: the Raft log and its write-ahead file, the catalog, snapshots. Catalog
//! writes are refused only below half the floor (`check_catalog`), so deletes and
//! other metadata changes still commit once chunks no longer fit, and Raft log
//! appends (a follower's entries and their chunks) only below a quarter of it
//! (`check_log`), before anything is written: so a disk filled by something else
//! stops the node's groups cleanly (they restart once there is room again) rather
//! than meeting `ENOSPC` inside the write-ahead file. A refusal is
//! `Error::InsufficientCapacity` (HTTP 507 at the gateway), as is an `ENOSPC` or
//! `EDQUOT` that a write meets anyway (see `Error`'s `From<io::Error>`).
//!
//! The default floor is 64 MiB or 1% of the file system, whichever is smaller.

use crate::error::{Error, Result, DISK_FULL};
pub use crate::storage::disk::entry::Space;
use crate::storage::disk::{real, Disk};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The default floor's upper bound.
pub const DEFAULT_FLOOR_MAX: u64 = 64 << 20;

pub struct DiskSpace {
    disk: Disk,
    dir: PathBuf,
    /// The configured floor; `None`: the default (see `floor`).
    configured: Option<u64>,
    /// Bytes of chunk writes admitted and not finished yet.
    reserved: Arc<AtomicU64>,
}

/// Bytes admitted for a write in progress; given back when dropped.
#[must_use]
pub struct Reservation {
    bytes: u64,
    reserved: Arc<AtomicU64>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.reserved.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// The space of the (real) file system holding `dir`.
pub fn space_of(dir: &Path) -> Result<Space> {
    Ok(real::space(dir)?)
}

/// The default floor for a file system of `total` bytes.
pub fn default_floor(total: u64) -> u64 {
    (total / 100).min(DEFAULT_FLOOR_MAX)
}

impl DiskSpace {
    /// Watches the file system of `dir` on `disk`, with the floor `floor` (`None`:
    /// the default).
    pub fn new(disk: &Disk, dir: &Path, floor: Option<u64>) -> Self {
        DiskSpace {
            disk: disk.clone(),
            dir: dir.to_path_buf(),
            configured: floor,
            reserved: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn space(&self) -> Result<Space> {
        Ok(self.disk.space(&self.dir)?)
    }

    /// The floor for a file system of `total` bytes.
    pub fn floor(&self, total: u64) -> u64 {
        self.configured.unwrap_or_else(|| default_floor(total))
    }

    /// Admits a chunk write of `len` bytes if it leaves at least the floor free
    /// (counting the writes admitted before it); the bytes stay reserved until the
    /// returned `Reservation` is dropped.
    pub fn reserve(&self, len: u64) -> Result<Reservation> {
        let space = self.space()?;
        let floor = self.floor(space.total);
        let before = self.reserved.fetch_add(len, Ordering::Relaxed);
        let reservation = Reservation {
            bytes: len,
            reserved: self.reserved.clone(),
        };
        let needed = before.saturating_add(len).saturating_add(floor);
        if space.free < needed {
            return Err(full(
                space,
                floor,
                format!("a write of {len} bytes would go below the floor"),
            ));
        }
        Ok(reservation)
    }

    /// Refuses a catalog write when less than half the floor is free.
    pub fn check_catalog(&self) -> Result<()> {
        let space = self.space()?;
        let floor = self.floor(space.total);
        if space.free < floor / 2 {
            return Err(full(
                space,
                floor,
                "a catalog write needs half the floor".into(),
            ));
        }
        Ok(())
    }

    /// Refuses a Raft log append when less than a quarter of the floor is free.
    pub fn check_log(&self) -> Result<()> {
        let space = self.space()?;
        let floor = self.floor(space.total);
        if space.free < floor / 4 {
            return Err(full(
                space,
                floor,
                "a Raft log append needs a quarter of the floor".into(),
            ));
        }
        Ok(())
    }

    /// Whether the free space is below the floor (a write failure is then most
    /// likely the disk being full).
    pub fn below_floor(&self) -> bool {
        self.space()
            .map(|s| s.free < self.floor(s.total))
            .unwrap_or(false)
    }
}

fn full(space: Space, floor: u64, why: String) -> Error {
    Error::InsufficientCapacity(format!(
        "{DISK_FULL}: {} of {} bytes free; {why} (the floor: {floor} bytes, --min-free)",
        space.free, space.total
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_floor_is_one_percent_up_to_64_mib() {
        assert_eq!(default_floor(64 << 20), (64 << 20) / 100);
        assert_eq!(default_floor(1 << 40), DEFAULT_FLOOR_MAX);
    }

    #[test]
    fn reservations_count_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let space = space_of(dir.path()).unwrap();
        assert!(space.free > 0 && space.total >= space.free);
        // A floor that leaves room for exactly one write of `len`.
        let len = 256 << 20;
        let disk = DiskSpace::new(&Disk::Real, dir.path(), Some(space.free - len - len / 2));
        let first = disk.reserve(len).unwrap();
        let refused = disk.reserve(len).err().unwrap();
        assert!(
            matches!(refused, Error::InsufficientCapacity(_)),
            "{refused}"
        );
        drop(first);
        // Other processes write to this file system too: only check it is admitted
        // again when nothing else is reserved.
        assert_eq!(disk.reserved.load(Ordering::Relaxed), 0);
        assert!(DiskSpace::new(&Disk::Real, dir.path(), Some(0))
            .reserve(len)
            .is_ok());
        assert!(DiskSpace::new(&Disk::Real, dir.path(), Some(0))
            .check_catalog()
            .is_ok());
        assert!(DiskSpace::new(&Disk::Real, dir.path(), Some(0))
            .check_log()
            .is_ok());
        let huge = DiskSpace::new(&Disk::Real, dir.path(), Some(u64::MAX / 2));
        assert!(huge.check_catalog().is_err());
        let log = huge.check_log().err().unwrap();
        assert!(log.to_string().contains(DISK_FULL), "{log}");
        assert!(huge.below_floor());
    }

    /// A small tmpfs mounted at a fresh directory (unmounted on drop); `None`, with
    /// the reason printed, where mounting is not allowed.
    struct Tmpfs(tempfile::TempDir);

    impl Tmpfs {
        fn mount(size: &str) -> Option<Tmpfs> {
            let dir = tempfile::tempdir().unwrap();
            let out = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .output();
            match out {
                Ok(o) if o.status.success() => Some(Tmpfs(dir)),
                Ok(o) => {
                    eprintln!(
                        "skipped: cannot mount a tmpfs: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                    None
                }
                Err(e) => {
                    eprintln!("skipped: cannot run mount: {e}");
                    None
                }
            }
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }

    #[test]
    fn a_chunk_write_that_meets_a_full_disk_is_refused_and_cleaned_up() {
        let Some(fs) = Tmpfs::mount("2m") else {
            return;
        };
        let root = fs.0.path().join("chunks");
        let store = crate::storage::chunk_store::ChunkStore::open(&Disk::Real, &root).unwrap();
        let before = space_of(&root).unwrap();
        let data = vec![7u8; 4 << 20];
        let id = crate::ids::ChunkId::of(&data);
        let err = store.put(&id, &data).err().unwrap();
        assert!(matches!(err, Error::InsufficientCapacity(_)), "{err}");
        assert!(!store.contains(&id));
        assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        assert_eq!(
            space_of(&root).unwrap().free,
            before.free,
            "temp file removed"
        );
        // The space is there again for a chunk that fits.
        let small = vec![8u8; 256 << 10];
        assert!(store.put(&crate::ids::ChunkId::of(&small), &small).unwrap());
    }
}
