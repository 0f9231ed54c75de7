//! Snapshot data as openraft passes it around (`SnapshotData`, never the bytes):
//! a file — a placement group's chunk list, or any snapshot being received — or a
//! pinned view of the local catalog, dumped only while it is streamed to a
//! follower (`SnapshotData::stream`). `SnapshotDir` keeps a placement group's
//! current snapshot — its file and its metadata — under `<data>/snapshots/<group>/`.
//!
//! A snapshot's data file is named after its snapshot id (`snap-<hash of id>.data`),
//! and `current.meta` names the current one; the metadata is written last. So a
//! path handed out for one snapshot never shows another's rows, and a crash
//! between the two steps leaves the previous snapshot current.

use crate::error::Result;
use crate::ids::{GroupId, NodeId};
use crate::storage::catalog::CatalogView;
use crate::storage::disk::{Disk, File};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use std::io::Write;
use std::path::{Path, PathBuf};

type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;

/// The data file of a snapshot made before files were named by id.
const LEGACY_DATA: &str = "current.snap";

/// A snapshot's content.
#[derive(Clone, Debug)]
pub enum SnapshotData {
    /// In a file (a placement group's chunk ids, or a snapshot received).
    File(PathBuf),
    /// The local catalog as of the snapshot's last log id.
    Catalog(CatalogView),
}

/// How many bytes of a catalog dump travel in one piece of the stream.
const STREAM_PIECE: usize = 256 * 1024;

impl SnapshotData {
    /// The content as a stream of bytes, read (or dumped, off the runtime) as it
    /// is sent; at most a few pieces are in memory at once.
    pub async fn stream(&self) -> std::io::Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let view = match self {
            SnapshotData::File(path) => {
                let file = tokio::fs::File::open(path).await?;
                return Ok(tokio_util::io::ReaderStream::with_capacity(file, STREAM_PIECE).boxed());
            }
            SnapshotData::Catalog(view) => view.clone(),
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        tokio::task::spawn_blocking(move || {
            let mut out =
                std::io::BufWriter::with_capacity(STREAM_PIECE, PieceSender { tx: tx.clone() });
            let done = view
                .dump(&mut out)
                .map_err(std::io::Error::other)
                .and_then(|()| out.flush());
            if let Err(e) = done {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|piece| (piece, rx))
        })
        .boxed())
    }
}

/// A `Write` that hands each buffer to the stream being sent (blocking while the
/// stream is full; an error once the receiver is gone, which ends the dump).
struct PieceSender {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl Write for PieceSender {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct SnapshotDir {
    disk: Disk,
    dir: PathBuf,
}

impl SnapshotDir {
    pub fn open(disk: &Disk, root: &Path, group: GroupId) -> Result<Self> {
        let dir = root.join(group.to_string());
        // Synced in its parent: a snapshot behind a purged log must not vanish.
        disk.create_dir_all_synced(&dir)?;
        Ok(SnapshotDir {
            disk: disk.clone(),
            dir,
        })
    }

    /// A fresh path to write a snapshot being built or received.
    pub fn temp_path(&self) -> PathBuf {
        self.dir
            .join(format!("incoming-{:016x}", rand::random::<u64>()))
    }

    /// The data file of snapshot `id` (any string: ids come from other nodes too).
    fn data_path(&self, id: &str) -> PathBuf {
        let hash = blake3::hash(id.as_bytes()).to_hex();
        self.dir.join(format!("snap-{}.data", &hash[..32]))
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join("current.meta")
    }

    /// Makes the file at `from` (already synced) the current snapshot: renames it
    /// to its id's name, then replaces the metadata (last), then removes every
    /// other snapshot file.
    pub fn set_current(&self, meta: &SnapshotMeta, from: &Path) -> Result<PathBuf> {
        let data = self.data_path(&meta.snapshot_id);
        let disk = &self.disk;
        if from != data {
            disk.rename(from, &data)?;
        }
        disk.sync_dir(&self.dir)?;
        let tmp = self.dir.join("current.meta.tmp");
        let file = disk.create(&tmp)?;
        (&file).write_all(&postcard::to_allocvec(meta)?)?;
        file.sync_all()?;
        disk.rename(&tmp, &self.meta_path())?;
        disk.sync_dir(&self.dir)?;
        for entry in disk.read_dir(&self.dir)? {
            let name = entry.name;
            let path = self.dir.join(&name);
            let stale = name.starts_with("incoming-")
                || name == LEGACY_DATA
                || (name.starts_with("snap-") && path != data);
            if stale {
                let _ = disk.remove_file(&path);
            }
        }
        Ok(data)
    }

    /// Removes every snapshot file and the metadata (the catalog keeps none: its
    /// snapshots are views).
    pub fn clear(&self) -> Result<()> {
        for entry in self.disk.read_dir(&self.dir)? {
            let _ = self.disk.remove_file(&self.dir.join(&entry.name));
        }
        self.disk.sync_dir(&self.dir)?;
        Ok(())
    }

    pub fn current(&self) -> Result<Option<(SnapshotMeta, PathBuf)>> {
        let meta: SnapshotMeta = match self.disk.read(&self.meta_path()) {
            Ok(bytes) => postcard::from_bytes(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut path = self.data_path(&meta.snapshot_id);
        if !self.disk.exists(&path) && self.disk.exists(&self.dir.join(LEGACY_DATA)) {
            path = self.dir.join(LEGACY_DATA);
        }
        Ok(Some((meta, path)))
    }
}

/// Writes a file on `disk` through `fill` and fsyncs it.
pub fn write_synced(
    disk: &Disk,
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let mut out = std::io::BufWriter::new(disk.create(path)?);
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn meta(id: &str) -> SnapshotMeta {
        SnapshotMeta {
            snapshot_id: id.to_string(),
            ..Default::default()
        }
    }

    fn build(dir: &SnapshotDir, id: &str, rows: &[u8]) -> PathBuf {
        let path = dir.temp_path();
        std::fs::write(&path, rows).unwrap();
        dir.set_current(&meta(id), &path).unwrap()
    }

    #[test]
    fn a_handed_out_snapshot_never_shows_a_newer_ones_rows() {
        let root = tempfile::tempdir().unwrap();
        let dir = SnapshotDir::open(&Disk::Real, root.path(), 3).unwrap();
        let older = build(&dir, "3-100-aa", b"rows up to 100");
        let newer = build(&dir, "3-200-bb", b"rows up to 200");
        assert_ne!(older, newer);
        // The older file is gone (or, if still open elsewhere, its own bytes):
        // never the newer rows under the older snapshot's index.
        match std::fs::read(&older) {
            Ok(bytes) => assert_eq!(bytes, b"rows up to 100"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        }
        let (m, file) = dir.current().unwrap().unwrap();
        assert_eq!(m.snapshot_id, "3-200-bb");
        assert_eq!(std::fs::read(file).unwrap(), b"rows up to 200");
    }

    #[test]
    fn metadata_is_written_after_the_data() {
        let root = tempfile::tempdir().unwrap();
        let dir = SnapshotDir::open(&Disk::Real, root.path(), 1).unwrap();
        build(&dir, "1-10-aa", b"ten");
        // A new snapshot whose data landed but whose metadata did not (a crash
        // between the two): the previous snapshot stays current and whole.
        let path = dir.temp_path();
        std::fs::write(&path, b"twenty").unwrap();
        std::fs::rename(&path, dir.data_path("1-20-bb")).unwrap();
        let (m, file) = dir.current().unwrap().unwrap();
        assert_eq!(m.snapshot_id, "1-10-aa");
        assert_eq!(std::fs::read(file).unwrap(), b"ten");
    }
}
