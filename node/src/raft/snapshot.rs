//! Snapshot data as openraft passes it around (`SnapshotData`, never the bytes):
//! a file (a snapshot being received), a pinned view of the local catalog, or a
//! placement group's chunk files. The last two are dumped only while they stream
//! to a follower (`SnapshotData::stream`), so taking a snapshot costs nothing that
//! grows with the store. `SnapshotDir` keeps a placement group's current snapshot's
//! metadata (`current.meta`) under `<data>/snapshots/<group>/`.
//!
//! A placement group's state is its chunk files, which are immutable and named by
//! their content, so the list streamed later than the snapshot's index is as good
//! as one taken at it: chunks written since are what the follower would fetch
//! while replaying the entries after the index anyway, and chunks deleted since
//! were referenced by nothing.

use crate::error::Result;
use crate::ids::{GroupId, NodeId, PgId};
use crate::storage::catalog::CatalogView;
use crate::storage::chunk_store::ChunkStore;
use crate::storage::disk::Disk;
use crate::storage::frames::write_frame;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;

/// The metadata file of a group's current snapshot.
const META: &str = "current.meta";

/// A snapshot's content.
#[derive(Clone, Debug)]
pub enum SnapshotData {
    /// In a file (a snapshot being received).
    File(PathBuf),
    /// The local catalog as of the snapshot's last log id.
    Catalog(CatalogView),
    /// A placement group's chunk files held here, listed as it streams.
    Chunks(PgChunks),
}

/// A placement group's chunks in the local chunk store.
#[derive(Clone)]
pub struct PgChunks {
    pub store: Arc<ChunkStore>,
    pub pg: PgId,
    pub pg_count: u32,
}

impl std::fmt::Debug for PgChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgChunks(pg {} of {})", self.pg, self.pg_count)
    }
}

/// How many bytes of a catalog dump travel in one piece of the stream.
const STREAM_PIECE: usize = 256 * 1024;

impl SnapshotData {
    /// The content as a stream of bytes, read (or dumped, off the runtime) as it
    /// is sent; at most a few pieces are in memory at once.
    pub async fn stream(&self) -> std::io::Result<BoxStream<'static, std::io::Result<Bytes>>> {
        match self {
            SnapshotData::File(path) => {
                let file = tokio::fs::File::open(path).await?;
                Ok(tokio_util::io::ReaderStream::with_capacity(file, STREAM_PIECE).boxed())
            }
            SnapshotData::Catalog(view) => {
                let view = view.clone();
                Ok(dumped(move |out| view.dump(out)))
            }
            SnapshotData::Chunks(c) => {
                let c = c.clone();
                Ok(dumped(move |out| {
                    c.store
                        .for_each_file_of_pg(c.pg, c.pg_count, |f| write_frame(out, &f.id.0))
                }))
            }
        }
    }
}

/// The bytes `dump` writes, as a stream: `dump` runs off the runtime and blocks
/// while the stream is full; an error it meets ends the stream with it.
fn dumped(
    dump: impl FnOnce(&mut BufWriter<PieceSender>) -> Result<()> + Send + 'static,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = BufWriter::with_capacity(STREAM_PIECE, PieceSender { tx: tx.clone() });
        let done = dump(&mut out)
            .map_err(std::io::Error::other)
            .and_then(|()| out.flush());
        if let Err(e) = done {
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    })
    .boxed()
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

    fn meta_path(&self) -> PathBuf {
        self.dir.join(META)
    }

    /// Makes `meta` the current snapshot's metadata (written synced, renamed into
    /// place), then removes every other file: data files of earlier versions,
    /// which kept a chunk list per snapshot, and snapshots half received.
    pub fn set_current(&self, meta: &SnapshotMeta) -> Result<()> {
        let disk = &self.disk;
        let tmp = self.dir.join("current.meta.tmp");
        let file = disk.create(&tmp)?;
        (&file).write_all(&postcard::to_allocvec(meta)?)?;
        file.sync_all()?;
        disk.rename(&tmp, &self.meta_path())?;
        disk.sync_dir(&self.dir)?;
        for entry in disk.read_dir(&self.dir)? {
            if entry.name != META {
                let _ = disk.remove_file(&self.dir.join(&entry.name));
            }
        }
        Ok(())
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

    /// The current snapshot's metadata, if one was taken or installed.
    pub fn current(&self) -> Result<Option<SnapshotMeta>> {
        match self.disk.read(&self.meta_path()) {
            Ok(bytes) => Ok(Some(postcard::from_bytes(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::ChunkId;
    use crate::storage::frames::read_frame;

    fn meta(id: &str) -> SnapshotMeta {
        SnapshotMeta {
            snapshot_id: id.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn the_current_metadata_replaces_the_last_and_clears_older_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = SnapshotDir::open(&Disk::Real, root.path(), 3).unwrap();
        assert!(dir.current().unwrap().is_none());
        // What an earlier version kept, and a snapshot half received.
        std::fs::write(root.path().join("3/snap-0123.data"), b"old list").unwrap();
        std::fs::write(root.path().join("3/current.snap"), b"older list").unwrap();
        std::fs::write(dir.temp_path(), b"half").unwrap();
        dir.set_current(&meta("3-100-aa")).unwrap();
        dir.set_current(&meta("3-200-bb")).unwrap();
        assert_eq!(dir.current().unwrap().unwrap().snapshot_id, "3-200-bb");
        let names: Vec<String> = std::fs::read_dir(root.path().join("3"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![META.to_string()]);
    }

    #[tokio::test]
    async fn a_placement_groups_snapshot_streams_exactly_its_chunks_held_now() {
        let root = tempfile::tempdir().unwrap();
        let store = Arc::new(ChunkStore::open(&Disk::Real, root.path()).unwrap());
        let pg_count = 8;
        let mut want = Vec::new();
        for n in 0..200u32 {
            let data = format!("chunk {n}").into_bytes();
            let id = ChunkId::of(&data);
            store.put(&id, &data).unwrap();
            if crate::cluster::placement::pg_of(&id, pg_count) == 5 {
                want.push(id);
            }
        }
        let data = SnapshotData::Chunks(PgChunks {
            store: store.clone(),
            pg: 5,
            pg_count,
        });
        let mut bytes = Vec::new();
        let mut stream = data.stream().await.unwrap();
        while let Some(piece) = stream.next().await {
            bytes.extend_from_slice(&piece.unwrap());
        }
        let mut got = Vec::new();
        let mut input = bytes.as_slice();
        while let Some(frame) = read_frame(&mut input).unwrap() {
            got.push(ChunkId(frame.as_slice().try_into().unwrap()));
        }
        got.sort();
        want.sort();
        assert!(!want.is_empty());
        assert_eq!(got, want);
    }
}
