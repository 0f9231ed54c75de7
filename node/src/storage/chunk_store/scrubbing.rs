//! Walking the chunk store a slice at a time (one top-level fan-out directory, for
//! the scrubber `node/scrub.rs`; one placement group's directories, for its
//! snapshot) and moving a chunk file that fails verification aside
//! (`quarantine/`). A child of `chunk_store`, so it shares its lock and usage
//! counter.

use super::{poisoned, read_dirs, sync_dir, ChunkFile, ChunkStore};
use crate::cluster::placement::pg_of;
use crate::error::{Error, Result};
use crate::ids::ChunkId;
use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

impl ChunkStore {
    /// The chunk files under one top-level fan-out directory (`ab/`, every
    /// `ab/cd/`): a 1/256 slice of the store, so a walk over the store holds one
    /// slice at a time.
    pub fn list_slice(&self, first_byte: u8) -> Result<Vec<ChunkFile>> {
        let l1 = self.root.join(format!("{first_byte:02x}"));
        let mut out = Vec::new();
        let l2s = match read_dirs(&self.disk, &l1) {
            Ok(dirs) => dirs,
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for l2 in l2s {
            let listed = self.for_each_file_in(&l2, |file| {
                out.push(file);
                Ok(())
            });
            match listed {
                Ok(()) => {}
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Calls `visit` with every chunk file of placement group `pg` of `pg_count` (a
    /// PG is the id's leading bits: `cluster::placement::pg_of`), walking only the
    /// PG's fan-out directories.
    pub fn for_each_file_of_pg(
        &self,
        pg: u32,
        pg_count: u32,
        mut visit: impl FnMut(ChunkFile) -> Result<()>,
    ) -> Result<()> {
        let bits = pg_count.max(1).ilog2();
        // The 16-bit directory prefixes the PG spans (finer PGs share one).
        let (first, last) = if bits <= 16 {
            let width = 1u32 << (16 - bits);
            (pg * width, pg * width + width - 1)
        } else {
            (pg >> (bits - 16), pg >> (bits - 16))
        };
        for slot in first..=last.min(0xffff) {
            let dir = self
                .root
                .join(format!("{:02x}", slot >> 8))
                .join(format!("{:02x}", slot & 0xff));
            let walked = self.for_each_file_in(&dir, |file| {
                if pg_of(&file.id, pg_count) == pg {
                    visit(file)?;
                }
                Ok(())
            });
            match walked {
                Ok(()) => {}
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Moves a chunk file that fails verification aside, to
    /// `quarantine/<hex>.<ms>` under the store (checked again under the store's
    /// exclusive lock): a later `put` of the id writes a good copy. Returns the
    /// quarantined path, or `None` if the file is intact or gone.
    pub fn quarantine_if_corrupt(&self, id: &ChunkId) -> Result<Option<PathBuf>> {
        let _exclusive = self.gc_lock.write().map_err(|_| poisoned())?;
        let path = self.path_of(id);
        let data = match self.disk.read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if ChunkId::of(&data) == *id {
            return Ok(None);
        }
        let dir = self.root.join("quarantine");
        self.disk.create_dir_all(&dir)?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let aside = dir.join(format!("{}.{stamp}", id.to_hex()));
        self.forget_saved_usage()?;
        self.disk.rename(&path, &aside)?;
        if let Some(parent) = path.parent() {
            sync_dir(&self.disk, parent)?;
        }
        self.usage.remove(id, data.len() as u64);
        Ok(Some(aside))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slices_list_and_corrupt_files_go_to_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&crate::storage::disk::Disk::Real, dir.path()).unwrap();
        let mut ids = Vec::new();
        for n in 0..40u32 {
            let data = format!("chunk {n}").into_bytes();
            let id = ChunkId::of(&data);
            store.put(&id, &data).unwrap();
            ids.push(id);
        }
        let mut seen: Vec<ChunkId> = (0..=255u8)
            .flat_map(|b| store.list_slice(b).unwrap())
            .map(|f| f.id)
            .collect();
        seen.sort_by_key(|i| i.0);
        ids.sort_by_key(|i| i.0);
        assert_eq!(seen, ids);
        let id = ids[3];
        assert_eq!(store.quarantine_if_corrupt(&id).unwrap(), None);
        let before = store.used();
        let mut bad = std::fs::read(store.path_of(&id)).unwrap();
        bad[0] ^= 0xff;
        std::fs::write(store.path_of(&id), &bad).unwrap();
        let aside = store.quarantine_if_corrupt(&id).unwrap().unwrap();
        assert!(!store.contains(&id));
        assert_eq!(std::fs::read(aside).unwrap(), bad);
        assert_eq!(store.used(), before - bad.len() as u64);
        // The quarantine directory is not a fan-out directory.
        assert_eq!(store.list().unwrap().len(), 39);
        assert_eq!(store.quarantine_if_corrupt(&id).unwrap(), None);
    }
}
