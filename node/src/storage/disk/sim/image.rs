//! Crash images of a `SimDisk`: the disk a restart finds after a power loss,
//! built from the durable contents plus, if asked, a seeded part of what was
//! not fsynced yet — whole changes in order (`Keep::Changes`) or single dirty
//! 4 KiB pages, each at its latest contents or lost (`Keep::Pages`, as a page
//! cache writes pages back in any order).

use super::{Capture, DirNode, FileNode, Node, SimDisk, State, ROOT};
use crate::storage::disk::faults::{Keep, PAGE};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::{BTreeSet, HashMap};

fn file_image(f: &FileNode, keep: Keep, rng: Option<&mut StdRng>) -> Vec<u8> {
    let mut bytes = f.durable.clone();
    let Some(rng) = rng else {
        return bytes;
    };
    match keep {
        Keep::Durable => {}
        Keep::Changes(_) => {
            for change in &f.pending {
                if rng.gen_bool(0.5) {
                    change.apply(&mut bytes);
                }
            }
        }
        Keep::Pages(_) => {
            if f.pending.is_empty() {
                return bytes;
            }
            let len = if rng.gen_bool(0.5) {
                f.live.len()
            } else {
                f.durable.len()
            };
            bytes.resize(len, 0);
            // Pages the unsynced changes touched (a length change dirties the
            // pages from the shorter length on).
            let mut dirty = BTreeSet::new();
            for change in &f.pending {
                match change {
                    super::Change::Write { at, data } if !data.is_empty() => {
                        let (a, b) = (*at as usize, *at as usize + data.len() - 1);
                        dirty.extend(a / PAGE..=b / PAGE);
                    }
                    super::Change::Write { .. } => {}
                    super::Change::SetLen(l) => {
                        let from = (*l as usize).min(f.durable.len()) / PAGE;
                        dirty.extend(from..=len.max(f.live.len()) / PAGE);
                    }
                }
            }
            for page in dirty {
                let start = page * PAGE;
                if start >= len || !rng.gen_bool(0.5) {
                    continue;
                }
                let end = (start + PAGE).min(len);
                for (i, b) in bytes[start..end].iter_mut().enumerate() {
                    // Past the latest length the page holds zeros (truncated).
                    *b = f.live.get(start + i).copied().unwrap_or(0);
                }
            }
        }
    }
    bytes
}

impl State {
    /// Takes the crash images planned at operation `n` (`what` describes it).
    pub(super) fn capture(&mut self, n: u64, what: &dyn Fn() -> String) {
        let mut keeps: Vec<Keep> = self.capture_at.remove(&n).into_iter().collect();
        if !self.capture_on.is_empty() {
            let desc = what();
            self.capture_on.retain_mut(|(pattern, skip, keep)| {
                if !desc.contains(pattern.as_str()) {
                    return true;
                }
                if *skip > 0 {
                    *skip -= 1;
                    return true;
                }
                keeps.push(*keep);
                false
            });
        }
        for keep in keeps {
            let nodes = image(self, keep);
            self.captured.push(Capture {
                op: n,
                what: what(),
                keep,
                image: SimDisk::from_nodes(nodes, self.capacity),
            });
        }
    }
}

impl SimDisk {
    /// Plans crash images: when operation `op` is about to run (counted as
    /// `counters().ops`), the disk a power loss there would leave is kept.
    pub fn capture_at(&self, ops: impl IntoIterator<Item = (u64, Keep)>) {
        self.lock().capture_at.extend(ops);
    }

    /// Plans a crash image at the operation after the next `skip` ones whose
    /// description (`"<verb> <path>"`, e.g. `"unlink /data/chunks/ab/cd/.."`)
    /// contains `pattern`.
    pub fn capture_on(&self, pattern: &str, skip: u64, keep: Keep) {
        self.lock()
            .capture_on
            .push((pattern.to_string(), skip, keep));
    }

    /// Moves every file's modification time `by` into the past, as if that
    /// much time had gone by (so garbage collection finds old chunks).
    pub fn age(&self, by: std::time::Duration) {
        for node in self.lock().nodes.values_mut() {
            if let Node::File(f) = node {
                f.modified = f.modified.checked_sub(by).unwrap_or(f.modified);
            }
        }
    }

    /// The crash images taken so far (each once); planned ones not reached
    /// are dropped.
    pub fn take_captures(&self) -> Vec<Capture> {
        let mut st = self.lock();
        st.capture_at.clear();
        st.capture_on.clear();
        std::mem::take(&mut st.captured)
    }
}

/// The nodes of a crash image of `st`: what is reachable through durable (or
/// kept) directory entries, with durable (or kept) file contents.
pub(super) fn image(st: &State, keep: Keep) -> HashMap<u64, Node> {
    let mut rng = match keep {
        Keep::Durable => None,
        Keep::Changes(seed) | Keep::Pages(seed) => Some(StdRng::seed_from_u64(seed)),
    };
    let mut out = HashMap::new();
    let mut todo = vec![ROOT];
    let mut seen = BTreeSet::new();
    while let Some(ino) = todo.pop() {
        if !seen.insert(ino) {
            continue;
        }
        let node = match st.nodes.get(&ino) {
            Some(Node::File(f)) => {
                let bytes = file_image(f, keep, rng.as_mut());
                Node::File(FileNode {
                    live: bytes.clone(),
                    durable: bytes,
                    pending: Vec::new(),
                    modified: f.modified,
                })
            }
            Some(Node::Dir(d)) => {
                let mut entries = d.durable.clone();
                if let Some(rng) = rng.as_mut() {
                    let all: BTreeSet<&String> = d.live.keys().chain(d.durable.keys()).collect();
                    for name in all {
                        let (live, durable) = (d.live.get(name), d.durable.get(name));
                        if live != durable && rng.gen_bool(0.5) {
                            match live {
                                Some(i) => entries.insert(name.clone(), *i),
                                None => entries.remove(name),
                            };
                        }
                    }
                }
                todo.extend(entries.values().copied());
                Node::Dir(DirNode {
                    live: entries.clone(),
                    durable: entries,
                })
            }
            None => continue,
        };
        out.insert(ino, node);
    }
    out
}
