//! Snapshots as files: `SnapshotFile` is the snapshot data openraft passes around (a
//! path, never the bytes), and `SnapshotDir` keeps a group's current snapshot — its
//! file and its metadata — under `<data>/snapshots/<group>/`.

use crate::ids::{GroupId, NodeId};

type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// A snapshot's content, in a file.
#[derive(Clone, Debug)]
pub struct SnapshotFile {
    pub path: PathBuf,
}

pub struct SnapshotDir {
    dir: PathBuf,
}

impl SnapshotDir {
    pub fn open(root: &Path, group: GroupId) -> Result<Self> {
        let dir = root.join(group.to_string());
        std::fs::create_dir_all(&dir)?;
        Ok(SnapshotDir { dir })
    }

    /// A fresh path to write a snapshot being built or received.
    pub fn temp_path(&self) -> PathBuf {
        self.dir
            .join(format!("incoming-{:016x}", rand::random::<u64>()))
    }

    fn data_path(&self) -> PathBuf {
        self.dir.join("current.snap")
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join("current.meta")
    }

    /// Makes the file at `from` (already synced) the current snapshot; removes
    /// every other snapshot file.
    pub fn set_current(&self, meta: &SnapshotMeta, from: &Path) -> Result<SnapshotFile> {
        let data = self.data_path();
        if from != data {
            std::fs::rename(from, &data)?;
        }
        let tmp = self.dir.join("current.meta.tmp");
        std::fs::write(&tmp, postcard::to_allocvec(meta)?)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, self.meta_path())?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with("incoming-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(SnapshotFile { path: data })
    }

    pub fn current(&self) -> Result<Option<(SnapshotMeta, SnapshotFile)>> {
        let meta = match std::fs::read(self.meta_path()) {
            Ok(bytes) => postcard::from_bytes(&bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some((
            meta,
            SnapshotFile {
                path: self.data_path(),
            },
        )))
    }
}

/// Writes a file through `fill` and fsyncs it.
pub fn write_synced(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<()>,
) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}
