//! Where the chunk store's counters come from at start-up, so opening a store never
//! walks its chunk files: a clean stop saves the counters (`<chunks>/usage`, written
//! synced and renamed into place), and the next open reads them and deletes the file
//! before anything changes, so a file that exists is exact. After a crash (no file, or
//! one that fails its hash) the counters are rebuilt by `count_files`, which the node
//! runs on a thread of its own after start-up: one fan-out directory (one counter slot)
//! at a time under the store's exclusive lock, so a write racing the count is counted
//! once. Until it finishes, the totals are low by what is not counted yet.

use super::{read_dirs, sync_dir, ChunkStore, Usage};
use crate::error::Result;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The saved counters' file name, in the chunk store's root.
const SAVED: &str = "usage";

impl ChunkStore {
    fn saved_path(&self) -> PathBuf {
        self.root.join(SAVED)
    }

    /// At open: takes the counters a clean stop saved, if there is such a file, and
    /// deletes it (synced) so a crash from now on cannot leave stale counts behind.
    /// True when the counters are exact.
    pub(super) fn load_saved_usage(&self) -> Result<bool> {
        let path = self.saved_path();
        let data = match self.disk.read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let saved = Usage::decode(&data);
        self.disk.remove_file(&path)?;
        sync_dir(&self.disk, &self.root)?;
        match saved {
            Some(saved) => {
                self.usage.replace_with(&saved);
                Ok(true)
            }
            None => {
                tracing::warn!(path = %path.display(), "saved chunk counters unreadable: recounting");
                Ok(false)
            }
        }
    }

    /// True once the counters are exact (read at open, or recounted).
    pub fn counted(&self) -> bool {
        self.counted.load(Ordering::Acquire)
    }

    /// Saves the counters for the next open (call it when the node stops). Any change
    /// after this deletes the file again. Does nothing while a recount is unfinished.
    pub fn save_usage(&self) -> Result<()> {
        let _exclusive = self.gc_lock.write().map_err(|_| super::poisoned())?;
        if !self.counted() {
            return Ok(());
        }
        let path = self.saved_path();
        let tmp = self.tmp.join(SAVED);
        let _ = self.disk.remove_file(&tmp);
        self.disk
            .write_new_synced(&tmp, &self.usage.encode(), &self.spare)?;
        self.disk.rename(&tmp, &path)?;
        sync_dir(&self.disk, &self.root)?;
        self.saved.store(true, Ordering::Release);
        Ok(())
    }

    /// Called (under the store's lock, shared or exclusive) before a change to the
    /// chunk files: a saved file would no longer be exact, so it goes first (synced);
    /// racing writers wait until it is gone. A failure fails the change.
    pub(super) fn forget_saved_usage(&self) -> Result<()> {
        if !self.saved.load(Ordering::Acquire) {
            return Ok(());
        }
        let _one = self
            .forgetting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.saved.load(Ordering::Acquire) {
            match self.disk.remove_file(&self.saved_path()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            sync_dir(&self.disk, &self.root)?;
            self.saved.store(false, Ordering::Release);
        }
        Ok(())
    }

    /// Recounts every slot from its directory (no-op when the counters are exact).
    /// Blocking: run it off the async runtime.
    pub fn count_files(&self) -> Result<()> {
        if self.counted() {
            return Ok(());
        }
        let started = Instant::now();
        for l1 in read_dirs(&self.disk, &self.root)? {
            for l2 in read_dirs(&self.disk, &l1)? {
                let Some(slot) = slot_of_dirs(&l1, &l2) else {
                    continue;
                };
                let _exclusive = self.gc_lock.write().map_err(|_| super::poisoned())?;
                let (mut files, mut bytes) = (0, 0);
                self.for_each_file_in(&l2, |file| {
                    files += 1;
                    bytes += file.len;
                    Ok(())
                })?;
                self.usage.set(slot, files, bytes);
            }
        }
        self.counted.store(true, Ordering::Release);
        let (files, bytes) = self.usage.totals();
        tracing::info!(
            files,
            bytes,
            secs = started.elapsed().as_secs_f64(),
            "chunk files counted"
        );
        Ok(())
    }
}

/// The counter slot of fan-out directory `l1/l2` (`ab/cd` → 0xabcd).
fn slot_of_dirs(l1: &std::path::Path, l2: &std::path::Path) -> Option<u16> {
    let name = |p: &std::path::Path| p.file_name()?.to_str().map(str::to_owned);
    u16::from_str_radix(&format!("{}{}", name(l1)?, name(l2)?), 16).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::ChunkId;
    use crate::storage::disk::Disk;

    fn chunk(n: u32) -> (ChunkId, Vec<u8>) {
        let data = format!("chunk number {n}")
            .repeat(n as usize + 1)
            .into_bytes();
        (ChunkId::of(&data), data)
    }

    #[test]
    fn a_clean_stop_saves_the_counters_and_the_next_open_reads_them_without_a_walk() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        store.count_files().unwrap();
        for n in 0..3 {
            let (id, data) = chunk(n);
            store.put(&id, &data).unwrap();
        }
        let saved = store.totals();
        assert_eq!(saved.0, 3);
        store.save_usage().unwrap();
        // A file removed behind the store's back: a walk would count two.
        std::fs::remove_file(store.path_of(&chunk(0).0)).unwrap();
        drop(store);
        let reopened = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        assert!(reopened.counted());
        assert_eq!(
            reopened.totals(),
            saved,
            "read from the saved file, not walked"
        );
        assert!(
            !dir.path().join(SAVED).exists(),
            "the open deletes the saved file"
        );
        reopened.count_files().unwrap();
        assert_eq!(reopened.totals(), saved, "counted already: no recount");
        // The open deleted the file: a crash now leaves nothing to trust.
        drop(reopened);
        let after_crash = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        assert!(!after_crash.counted());
        after_crash.count_files().unwrap();
        assert_eq!(after_crash.totals().0, 2);
    }

    #[test]
    fn a_change_after_saving_deletes_the_saved_counters() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        store.count_files().unwrap();
        store.save_usage().unwrap();
        assert!(dir.path().join(SAVED).exists());
        let (id, data) = chunk(1);
        store.put(&id, &data).unwrap();
        assert!(!dir.path().join(SAVED).exists());
        drop(store);
        let reopened = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        assert!(!reopened.counted(), "no saved counters: a recount is due");
        assert_eq!(reopened.totals(), (0, 0));
        reopened.count_files().unwrap();
        assert_eq!(reopened.totals(), (1, data.len() as u64));
    }

    #[test]
    fn a_recount_counts_writes_made_before_it_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
            for n in 0..20 {
                let (id, data) = chunk(n);
                store.put(&id, &data).unwrap();
            }
        } // a crash: nothing saved
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        assert!(!store.counted());
        // Writes between the open and the recount are counted by both: once in all.
        let mut want = (20, (0..20).map(|n| chunk(n).1.len() as u64).sum::<u64>());
        for n in 20..25 {
            let (id, data) = chunk(n);
            store.put(&id, &data).unwrap();
            want = (want.0 + 1, want.1 + data.len() as u64);
        }
        store.count_files().unwrap();
        assert!(store.counted());
        assert_eq!(store.totals(), want);
        // A torn saved file is not trusted.
        store.save_usage().unwrap();
        drop(store);
        let saved = std::fs::read(dir.path().join(SAVED)).unwrap();
        std::fs::write(dir.path().join(SAVED), &saved[..saved.len() / 2]).unwrap();
        let store = ChunkStore::open(&Disk::Real, dir.path()).unwrap();
        assert!(!store.counted());
        store.count_files().unwrap();
        assert_eq!(store.totals(), want);
    }
}
