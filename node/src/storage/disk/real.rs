//! The real disk: `std::fs` and the kernel. Holds what is more than one call of
//! `std::fs`: the chunk write that bypasses the page cache (`O_DIRECT`, from a
//! block-aligned buffer; buffered where the file system refuses it), directory
//! fsync, modification-time refresh and `statvfs`.

use super::entry::{DirEntry, Meta, Space};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

/// The block size direct writes are aligned to (buffer address, length, offset).
pub const ALIGN: usize = 4096;
/// Aligned staging buffers kept for reuse between direct writes.
const SPARE_BUFFERS: usize = 2;

/// Writes `data` to a new file at `path` and fsyncs it: directly (page cache
/// bypassed) where the file system supports it, buffered otherwise.
pub fn write_new_synced(path: &Path, data: &[u8], spare: &Mutex<Vec<Vec<u8>>>) -> io::Result<()> {
    let file = match write_direct(path, data, spare) {
        Ok(file) => file,
        // Refused at open, or (on some file systems) only at the write.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => buffered(path, data)?,
        Err(e) => return Err(e),
    };
    file.sync_all()
}

fn write_direct(path: &Path, data: &[u8], spare: &Mutex<Vec<Vec<u8>>>) -> io::Result<File> {
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    write_aligned(&mut file, data, spare)?;
    Ok(file)
}

fn buffered(path: &Path, data: &[u8]) -> io::Result<File> {
    let mut file = File::create(path)?;
    file.write_all(data)?;
    Ok(file)
}

/// Writes `data` through a file opened with `O_DIRECT`, then cuts the file back
/// to its length. Bytes that start block-aligned (see `aligned_buffer`) go out as
/// they are, up to their last whole block; the rest is copied into a block-aligned
/// buffer padded to whole blocks (taken from `spare`, given back after).
fn write_aligned(file: &mut File, data: &[u8], spare: &Mutex<Vec<Vec<u8>>>) -> io::Result<()> {
    let direct = if data.as_ptr().align_offset(ALIGN) == 0 {
        data.len() / ALIGN * ALIGN
    } else {
        0
    };
    file.write_all(&data[..direct])?;
    let rest = &data[direct..];
    if !rest.is_empty() {
        let padded = rest.len().div_ceil(ALIGN) * ALIGN;
        let taken = spare.lock().ok().and_then(|mut s| s.pop());
        let mut buf = taken.unwrap_or_default();
        if buf.len() < padded + ALIGN {
            buf = vec![0u8; padded + ALIGN];
        }
        let start = buf.as_ptr().align_offset(ALIGN);
        let block = &mut buf[start..start + padded];
        block[..rest.len()].copy_from_slice(rest);
        block[rest.len()..].fill(0);
        let written = file.write_all(block);
        if let Ok(mut s) = spare.lock() {
            if s.len() < SPARE_BUFFERS {
                s.push(buf);
            }
        }
        written?;
    }
    file.set_len(data.len() as u64)
}

/// Refreshes the modification time of an existing file; false if there is none.
pub fn touch(path: &Path) -> io::Result<bool> {
    match File::options().write(true).open(path) {
        Ok(f) => {
            f.set_modified(SystemTime::now())?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn read_dir(dir: &Path) -> io::Result<Vec<DirEntry>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        out.push(DirEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            is_dir: entry.file_type()?.is_dir(),
        });
    }
    Ok(out)
}

pub fn metadata(path: &Path) -> io::Result<Meta> {
    let meta = fs::metadata(path)?;
    Ok(Meta {
        len: meta.len(),
        modified: meta.modified()?,
        is_dir: meta.is_dir(),
    })
}

/// fsyncs a directory (its entries).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The space of the file system holding `dir`.
pub fn space(dir: &Path) -> io::Result<Space> {
    let st = rustix::fs::statvfs(dir).map_err(io::Error::from)?;
    let unit = if st.f_frsize > 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    Ok(Space {
        free: st.f_bavail.saturating_mul(unit),
        total: st.f_blocks.saturating_mul(unit),
    })
}
