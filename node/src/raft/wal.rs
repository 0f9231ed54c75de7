//! The write-ahead file that makes the shared Raft log durable without holding the
//! log database's write lock through an fsync. Every change to the log database is
//! committed to redb without fsync and appended here (in the same order, under one
//! lock); durability is one `fdatasync` of this file, group-committed, which runs
//! while new changes keep coming. A checkpoint (a syncing redb commit) empties it;
//! on open, whatever it holds is replayed into the database.
//!
//! Any failure of a write, a sync, the database commit or a checkpoint poisons the
//! file: every later append is refused (a failed fsync is never retried into
//! success). The way back is to drop the database without letting it write (see
//! `redb_backend::open_fenced`) and open both again, which replays what the file
//! holds: what a restart after a crash would do (`log_db`).

use crate::error::{Error, Result};
use crate::storage::disk::{Disk, File};
use crate::storage::frames::write_frame;
use crate::storage::group_commit::{poisoned, GroupCommit};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One change to the log database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Mutation {
    Insert {
        group: u64,
        index: u64,
        row: Vec<u8>,
    },
    /// Removes the group's rows `from..=to`.
    Remove { group: u64, from: u64, to: u64 },
    State {
        group: u64,
        name: String,
        value: Vec<u8>,
    },
    /// Removes every row and state value of the group (the node left it).
    DropGroup { group: u64 },
    /// Not a change: every byte of this file before `bytes` had been fsynced when
    /// this frame was written. Replay skips it; `open` uses it to tell a hole in
    /// acknowledged records (refused) from a tail that was never synced, whose
    /// pages a power loss may have kept in any order (dropped).
    Synced { bytes: u64 },
}

struct Current {
    file: Arc<File>,
    path: PathBuf,
    generation: u64,
    bytes: u64,
    /// Bytes of this file known fsynced.
    synced: u64,
    /// The `synced` value last written in a `Mutation::Synced` frame.
    marked: u64,
}

pub struct Wal {
    disk: Disk,
    dir: PathBuf,
    current: Mutex<Current>,
    sync: GroupCommit,
}

/// A frame: 8 bytes of BLAKE3 over the record, then the record (postcard).
fn encode(m: &Mutation) -> Result<Vec<u8>> {
    let body = postcard::to_allocvec(m)?;
    let mut frame = blake3::hash(&body).as_bytes()[..8].to_vec();
    frame.extend_from_slice(&body);
    Ok(frame)
}

fn decode(frame: &[u8]) -> Option<Mutation> {
    let (sum, body) = frame.split_at_checked(8)?;
    if blake3::hash(body).as_bytes()[..8] != *sum {
        return None;
    }
    postcard::from_bytes(body).ok()
}

/// The intact changes at the start of `bytes`, and where the first bad frame
/// starts (`None`: the input ended cleanly).
fn parse(bytes: &[u8]) -> (Vec<Mutation>, Option<usize>) {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match frame_at(bytes, at) {
            Some((m, next)) => {
                out.push(m);
                at = next;
            }
            None => return (out, Some(at)),
        }
    }
    (out, None)
}

/// The change framed at `at` and the offset after it, if the frame is whole and
/// its checksum matches.
fn frame_at(bytes: &[u8], at: usize) -> Option<(Mutation, usize)> {
    let len_bytes: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let frame = bytes.get(at + 4..(at + 4).checked_add(len)?)?;
    Some((decode(frame)?, at + 4 + len))
}

/// The highest `Mutation::Synced` mark in any intact frame of `bytes`, found
/// anywhere (a mark is written only after its sync returned, so wherever it
/// landed, the bytes before it were durable).
fn synced_mark(bytes: &[u8]) -> u64 {
    (0..bytes.len())
        .filter_map(|at| match frame_at(bytes, at) {
            Some((Mutation::Synced { bytes }, _)) => Some(bytes),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn wal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{generation:016}.wal"))
}

fn generations(disk: &Disk, dir: &Path) -> Result<Vec<u64>> {
    let mut out: Vec<u64> = disk
        .read_dir(dir)?
        .into_iter()
        .filter_map(|e| e.name.strip_suffix(".wal")?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

impl Wal {
    /// Opens the directory; returns the file and every intact change it holds, to
    /// be replayed. A bad record past the last synced byte ends the replay (it and
    /// everything after it were never acknowledged: a torn write, or unsynced
    /// pages a power loss kept out of order), but a bad record inside the synced
    /// part, or with intact records in a later file, means acknowledged changes
    /// would be dropped: that refuses to open.
    /// Files older than generation `first` were checkpointed (the database says
    /// so): a crash before their removal was synced may have left them, and
    /// replaying them over newer changes would undo those; they are removed.
    pub fn open(disk: &Disk, dir: &Path, first: u64) -> Result<(Wal, Vec<Mutation>)> {
        disk.create_dir_all_synced(dir)?;
        let mut replay = Vec::new();
        let (stale, gens): (Vec<u64>, Vec<u64>) = generations(disk, dir)?
            .into_iter()
            .partition(|g| *g < first);
        for g in stale {
            let _ = disk.remove_file(&wal_path(dir, g));
        }
        for (n, g) in gens.iter().enumerate() {
            let path = wal_path(dir, *g);
            let bytes = disk.read(&path)?;
            let (changes, bad_at) = parse(&bytes);
            replay.extend(
                changes
                    .into_iter()
                    .filter(|m| !matches!(m, Mutation::Synced { .. })),
            );
            if let Some(at) = bad_at {
                let synced = synced_mark(&bytes);
                let later_intact = gens[n + 1..].iter().any(|later| {
                    disk.read(&wal_path(dir, *later))
                        .map(|b| !parse(&b).0.is_empty())
                        .unwrap_or(true)
                });
                if synced > at as u64 || later_intact {
                    return Err(Error::Io(std::io::Error::other(format!(
                        "{}: bad record at byte {at}, though bytes up to {synced} were \
                         fsynced (or a later file holds records); refusing to replay a \
                         log with a hole",
                        path.display()
                    ))));
                }
                tracing::warn!(path = %path.display(), at, synced, "write-ahead log ends in a torn or unsynced tail; ignored");
                break;
            }
        }
        let generation = gens.last().map_or(first.max(1), |g| g + 1);
        let path = wal_path(dir, generation);
        let file = disk.create(&path)?;
        disk.sync_dir(dir)?;
        let wal = Wal {
            disk: disk.clone(),
            dir: dir.to_path_buf(),
            current: Mutex::new(Current {
                file: Arc::new(file),
                path,
                generation,
                bytes: 0,
                synced: 0,
                marked: 0,
            }),
            sync: GroupCommit::default(),
        };
        Ok((wal, replay))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Current>> {
        self.current
            .lock()
            .map_err(|_| Error::Task("wal lock poisoned".into()))
    }

    /// Runs `commit` (the non-syncing database commit of `changes`) and appends
    /// `changes`, both under the lock so the file's order is the database's.
    /// Returns the sequence number to wait on and the file's size.
    pub fn append(
        &self,
        changes: &[Mutation],
        commit: impl FnOnce() -> Result<()>,
    ) -> Result<(u64, u64)> {
        let mut buf = Vec::new();
        for m in changes {
            write_frame(&mut buf, &encode(m)?)?;
        }
        let mut cur = self.lock()?;
        if let Some(failure) = self.sync.failure() {
            return Err(poisoned(&failure));
        }
        if let Err(e) = commit() {
            // The database may have latched the error (redb refuses every later
            // write then): the file must not take changes the database lacks.
            tracing::error!(error = %e, "raft log database commit failed: refusing writes until the log is reopened");
            self.sync.fail(e.to_string());
            return Err(e);
        }
        // Once per sync: a mark of what is durable, ahead of the new records.
        let mark = if cur.synced > cur.marked {
            let mut mark = Vec::new();
            write_frame(&mut mark, &encode(&Mutation::Synced { bytes: cur.synced })?)?;
            mark
        } else {
            Vec::new()
        };
        let written = (&*cur.file)
            .write_all(&mark)
            .and_then(|()| (&*cur.file).write_all(&buf));
        if let Err(e) = written {
            // The database already holds the change, the file maybe part of it:
            // cut the file back and refuse every later write (a restart replays
            // the file into a fresh database).
            let truncated = cur.file.set_len(cur.bytes);
            tracing::error!(error = %e, truncated = truncated.is_ok(), "write-ahead log write failed: refusing writes until the log is reopened");
            self.sync.fail(e.to_string());
            return Err(e.into());
        }
        cur.marked = cur.marked.max(if mark.is_empty() { 0 } else { cur.synced });
        cur.bytes += (mark.len() + buf.len()) as u64;
        let seq = self.sync.committed();
        Ok((seq, cur.bytes))
    }

    /// The write or sync failure that made this file refuse writes, if any.
    pub fn failure(&self) -> Option<String> {
        self.sync.failure()
    }

    /// Refuses every later append (a write elsewhere in the log failed).
    pub fn fail(&self, reason: String) {
        self.sync.fail(reason);
    }

    /// Returns once change `seq` is on disk (one fdatasync shared by all waiters).
    pub fn wait_durable(&self, seq: u64) -> Result<()> {
        self.sync.wait_durable(seq, || {
            let (file, generation, bytes) = {
                let cur = self.lock()?;
                (cur.file.clone(), cur.generation, cur.bytes)
            };
            file.sync_data()?;
            let mut cur = self.lock()?;
            if cur.generation == generation {
                cur.synced = cur.synced.max(bytes);
            }
            Ok(())
        })
    }

    /// Whether change `seq` is on disk already (no waiting).
    pub fn is_durable(&self, seq: u64) -> bool {
        self.sync.is_durable(seq)
    }

    /// Empties the file: syncs it, starts a new one, runs `durable_commit` with the
    /// new file's generation (a syncing database commit, which covers every change
    /// in the old files and records that generation as the first to replay), then
    /// deletes the old ones. A failure poisons the file.
    pub fn checkpoint(&self, durable_commit: impl FnOnce(u64) -> Result<()>) -> Result<()> {
        if let Some(failure) = self.sync.failure() {
            return Err(poisoned(&failure));
        }
        self.try_checkpoint(durable_commit).inspect_err(|e| {
            tracing::error!(error = %e, "raft log checkpoint failed: refusing writes until the log is reopened");
            self.sync.fail(e.to_string());
        })
    }

    fn try_checkpoint(&self, durable_commit: impl FnOnce(u64) -> Result<()>) -> Result<()> {
        let (old, first) = {
            let mut cur = self.lock()?;
            cur.file.sync_data()?;
            let generation = cur.generation + 1;
            let path = wal_path(&self.dir, generation);
            let file = self.disk.create(&path)?;
            self.disk.sync_dir(&self.dir)?;
            let old = cur.path.clone();
            *cur = Current {
                file: Arc::new(file),
                path,
                generation,
                bytes: 0,
                synced: 0,
                marked: 0,
            };
            (old, generation)
        };
        durable_commit(first)?;
        for g in generations(&self.disk, &self.dir)? {
            let path = wal_path(&self.dir, g);
            if path <= old {
                self.disk.remove_file(&path)?;
            }
        }
        self.disk.sync_dir(&self.dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

    fn insert(index: u64) -> Mutation {
        Mutation::Insert {
            group: 1,
            index,
            row: vec![index as u8; 10],
        }
    }

    fn indexes(changes: &[Mutation]) -> Vec<u64> {
        changes
            .iter()
            .filter_map(|m| match m {
                Mutation::Insert { index, .. } => Some(*index),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn replays_appended_changes_and_stops_at_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, replay) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
            assert!(replay.is_empty());
            let (seq, _) = wal.append(&[insert(1), insert(2)], || Ok(())).unwrap();
            wal.wait_durable(seq).unwrap();
            wal.append(&[insert(3)], || Ok(())).unwrap();
        }
        // A crash in the middle of a write leaves a partial frame at the end.
        let newest = generations(&Disk::Real, dir.path()).unwrap().pop().unwrap();
        let mut f = std::fs::File::options()
            .append(true)
            .open(wal_path(dir.path(), newest))
            .unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(f);
        let (_, replay) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
        assert_eq!(indexes(&replay), vec![1, 2, 3]);
    }

    #[test]
    fn checkpoint_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
        wal.append(&[insert(1)], || Ok(())).unwrap();
        let mut committed = false;
        wal.checkpoint(|_| {
            committed = true;
            Ok(())
        })
        .unwrap();
        assert!(committed);
        wal.append(&[insert(2)], || Ok(())).unwrap();
        drop(wal);
        let (_, replay) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
        assert_eq!(indexes(&replay), vec![2]);
    }

    #[test]
    fn a_bad_record_with_intact_ones_after_it_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
            for i in 1..=3 {
                let (seq, _) = wal.append(&[insert(i)], || Ok(())).unwrap();
                wal.wait_durable(seq).unwrap();
            }
        }
        let newest = generations(&Disk::Real, dir.path()).unwrap().pop().unwrap();
        let path = wal_path(dir.path(), newest);
        let mut bytes = fs::read(&path).unwrap();
        // Damage the frame after the first record (the mark that record 1 was
        // synced, ahead of record 2): a later mark says record 2 was synced too.
        let (_, second) = frame_at(&bytes, 0).unwrap();
        bytes[second + 6] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let err = Wal::open(&Disk::Real, dir.path(), 0)
            .err()
            .expect("a hole must refuse to open");
        assert!(err.to_string().contains("were fsynced"), "{err}");
    }

    #[test]
    fn a_hole_in_the_unsynced_tail_drops_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
            let (seq, _) = wal.append(&[insert(1)], || Ok(())).unwrap();
            wal.wait_durable(seq).unwrap();
            wal.append(&[insert(2)], || Ok(())).unwrap();
            wal.append(&[insert(3)], || Ok(())).unwrap();
        }
        let newest = generations(&Disk::Real, dir.path()).unwrap().pop().unwrap();
        let path = wal_path(dir.path(), newest);
        let mut bytes = fs::read(&path).unwrap();
        // Record 2 never reached the disk, record 3 did (pages written back out
        // of order before the power went): nothing acknowledged is lost.
        let (_, mark) = frame_at(&bytes, 0).unwrap();
        let (_, second) = frame_at(&bytes, mark).unwrap();
        bytes[second + 6] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let (_, replay) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
        assert_eq!(indexes(&replay), vec![1]);
    }

    #[test]
    fn a_failed_write_refuses_every_later_append() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
        let (seq, _) = wal.append(&[insert(1)], || Ok(())).unwrap();
        wal.wait_durable(seq).unwrap();
        // Swap in a handle that cannot write (EBADF), as a disk error would.
        let good = {
            let mut cur = wal.lock().unwrap();
            let ro = File::Real(std::fs::File::open(&cur.path).unwrap());
            std::mem::replace(&mut cur.file, Arc::new(ro))
        };
        assert!(wal.append(&[insert(2)], || Ok(())).is_err());
        wal.lock().unwrap().file = good;
        let mut committed = false;
        let again = wal.append(&[insert(3)], || {
            committed = true;
            Ok(())
        });
        assert!(again.is_err(), "appends continued after a failed write");
        assert!(
            !committed,
            "the database took a change after the log failed"
        );
        drop(wal);
        // The file holds exactly what was written before the failure.
        let (_, replay) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
        assert_eq!(indexes(&replay), vec![1]);
    }

    #[test]
    fn a_corrupt_record_ends_the_replay() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
            wal.append(&[insert(1)], || Ok(())).unwrap();
        }
        let newest = generations(&Disk::Real, dir.path()).unwrap().pop().unwrap();
        let path = wal_path(dir.path(), newest);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let (_, replay) = Wal::open(&Disk::Real, dir.path(), 0).unwrap();
        assert!(replay.is_empty());
    }
}
