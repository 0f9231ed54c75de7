//! `Disk`: the one way the node reaches durable storage — files, directories,
//! their fsyncs. `Disk::Real` is `std::fs` (`real`, with the chunk store's
//! page-cache-bypassing write); `Disk::Sim` is an in-memory file system that
//! knows what an fsync made durable and can inject faults (`sim`), so the whole
//! node can be crashed at any disk operation in tests. `redb_backend` opens a
//! redb database over either.

pub mod entry;
pub mod faults;
pub mod real;
pub mod redb_backend;
pub mod sim;
#[cfg(test)]
mod sim_tests;

use entry::{DirEntry, Meta, OpenMode, Space};
use sim::{SimDisk, SimFile};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A handle on the disk the node stores to; cheap to clone.
#[derive(Clone, Default)]
pub enum Disk {
    /// The machine's file systems.
    #[default]
    Real,
    /// A simulated disk (tests).
    Sim(Arc<SimDisk>),
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Disk::Real => "Disk::Real",
            Disk::Sim(_) => "Disk::Sim",
        })
    }
}

/// An open file of a `Disk`.
pub enum File {
    Real(std::fs::File),
    Sim(SimFile),
}

impl Disk {
    pub fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        match self {
            Disk::Real => std::fs::create_dir_all(path),
            Disk::Sim(s) => s.create_dir_all(path),
        }
    }

    /// Creates `path` and its missing parents, fsyncing the parent of each one
    /// created, so that no directory the node made (and nothing under it) can
    /// vanish in a power loss.
    pub fn create_dir_all_synced(&self, path: &Path) -> io::Result<()> {
        if self.metadata(path).is_ok_and(|m| m.is_dir) {
            return Ok(());
        }
        let parent = match path.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => return Ok(()),
        };
        self.create_dir_all_synced(parent)?;
        match self.create_dir(path) {
            Ok(()) => self.sync_dir(parent),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates one directory; `AlreadyExists` if there is one.
    pub fn create_dir(&self, path: &Path) -> io::Result<()> {
        match self {
            Disk::Real => std::fs::create_dir(path),
            Disk::Sim(s) => s.create_dir(path),
        }
    }

    pub fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        match self {
            Disk::Real => real::read_dir(path),
            Disk::Sim(s) => s.read_dir(path),
        }
    }

    pub fn metadata(&self, path: &Path) -> io::Result<Meta> {
        match self {
            Disk::Real => real::metadata(path),
            Disk::Sim(s) => s.metadata(path),
        }
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.metadata(path).is_ok()
    }

    /// A whole file's bytes.
    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self {
            Disk::Real => std::fs::read(path),
            Disk::Sim(_) => {
                let mut out = Vec::new();
                self.open(path)?.read_to_end(&mut out)?;
                Ok(out)
            }
        }
    }

    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        match self {
            Disk::Real => std::fs::remove_file(path),
            Disk::Sim(s) => s.remove_file(path),
        }
    }

    pub fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        match self {
            Disk::Real => std::fs::remove_dir_all(path),
            Disk::Sim(s) => s.remove_dir_all(path),
        }
    }

    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match self {
            Disk::Real => std::fs::rename(from, to),
            Disk::Sim(s) => s.rename(from, to),
        }
    }

    /// fsyncs a directory: its entries (creates, renames, unlinks) become durable.
    pub fn sync_dir(&self, path: &Path) -> io::Result<()> {
        match self {
            Disk::Real => real::sync_dir(path),
            Disk::Sim(s) => s.sync_dir(path),
        }
    }

    /// Refreshes an existing file's modification time; false if there is none.
    pub fn touch(&self, path: &Path) -> io::Result<bool> {
        match self {
            Disk::Real => real::touch(path),
            Disk::Sim(s) => s.set_modified(path, SystemTime::now()),
        }
    }

    /// Free and total bytes of the file system holding `path`.
    pub fn space(&self, path: &Path) -> io::Result<Space> {
        match self {
            Disk::Real => real::space(path),
            Disk::Sim(s) => s.space(),
        }
    }

    /// Opens a file for reading.
    pub fn open(&self, path: &Path) -> io::Result<File> {
        match self {
            Disk::Real => std::fs::File::open(path).map(File::Real),
            Disk::Sim(s) => s.open(path, OpenMode::default()).map(File::Sim),
        }
    }

    /// Creates (or empties) a file for writing.
    pub fn create(&self, path: &Path) -> io::Result<File> {
        match self {
            Disk::Real => std::fs::File::create(path).map(File::Real),
            Disk::Sim(s) => s
                .open(
                    path,
                    OpenMode {
                        create: true,
                        truncate: true,
                        ..OpenMode::default()
                    },
                )
                .map(File::Sim),
        }
    }

    /// Opens a file for reading and writing, creating it if missing.
    pub fn open_rw(&self, path: &Path) -> io::Result<File> {
        match self {
            Disk::Real => std::fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map(File::Real),
            Disk::Sim(s) => s
                .open(
                    path,
                    OpenMode {
                        create: true,
                        ..OpenMode::default()
                    },
                )
                .map(File::Sim),
        }
    }

    /// Writes a whole file (not synced).
    pub fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.create(path)?.write_all(data)
    }

    /// Writes `data` to a new file at `path` (which must not exist) and fsyncs it.
    /// On the real disk it bypasses the page cache where it can (`real`), with
    /// `spare` as block-aligned staging buffers.
    pub fn write_new_synced(
        &self,
        path: &Path,
        data: &[u8],
        spare: &Mutex<Vec<Vec<u8>>>,
    ) -> io::Result<()> {
        match self {
            Disk::Real => real::write_new_synced(path, data, spare),
            Disk::Sim(s) => {
                let mode = OpenMode {
                    create: true,
                    create_new: true,
                    ..OpenMode::default()
                };
                let file = File::Sim(s.open(path, mode)?);
                file.write_at(0, data)?;
                file.sync_all()
            }
        }
    }
}

impl File {
    pub fn len(&self) -> io::Result<u64> {
        match self {
            File::Real(f) => Ok(f.metadata()?.len()),
            File::Sim(f) => f.len(),
        }
    }

    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Reads exactly `out.len()` bytes at `at`.
    pub fn read_at(&self, at: u64, out: &mut [u8]) -> io::Result<()> {
        match self {
            File::Real(f) => f.read_exact_at(out, at),
            File::Sim(f) => f.read_at(at, out),
        }
    }

    /// Writes all of `data` at `at`.
    pub fn write_at(&self, at: u64, data: &[u8]) -> io::Result<()> {
        match self {
            File::Real(f) => f.write_all_at(data, at),
            File::Sim(f) => f.write_at(at, data),
        }
    }

    pub fn set_len(&self, len: u64) -> io::Result<()> {
        match self {
            File::Real(f) => f.set_len(len),
            File::Sim(f) => f.set_len(len),
        }
    }

    /// fdatasync.
    pub fn sync_data(&self) -> io::Result<()> {
        match self {
            File::Real(f) => f.sync_data(),
            File::Sim(f) => f.sync(),
        }
    }

    /// fsync.
    pub fn sync_all(&self) -> io::Result<()> {
        match self {
            File::Real(f) => f.sync_all(),
            File::Sim(f) => f.sync(),
        }
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            File::Real(f) => (&*f).write(buf),
            File::Sim(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            File::Real(f) => f.read(buf),
            File::Sim(f) => f.read(buf),
        }
    }
}
