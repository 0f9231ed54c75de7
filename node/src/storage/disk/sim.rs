//! A simulated disk: an in-memory file system that keeps, per file, its durable
//! contents apart from what was written but not fsynced, and per directory its
//! durable entries apart from creates, renames and unlinks not yet made durable
//! by an fsync of that directory (as on ext4, assuming nothing more). A seeded
//! `FaultPlan` fails the Nth write or sync (EIO, ENOSPC), tears the Nth write
//! (a prefix lands, then EIO), or cuts the power at the Nth operation: from then
//! on every operation fails, and `durable_image` is the disk a restart would find.
//!
//! A failed file sync drops the changes it could not write (they stay visible
//! until the restart, as dirty pages marked clean do on Linux), so a later sync
//! "succeeds" without them: code that retries a failed fsync loses data here.
//! Crash images (`image`) can also be taken at planned operations while the
//! disk keeps running, so one run yields many power-loss points.

mod image;
mod room;

use super::entry::{DirEntry, Meta, OpenMode, Space};
use super::faults::{Counters, FaultPlan, Keep};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

#[derive(Clone, Debug)]
enum Change {
    Write { at: u64, data: Vec<u8> },
    SetLen(u64),
}

impl Change {
    fn apply(&self, bytes: &mut Vec<u8>) {
        match self {
            Change::Write { at, data } => {
                let at = *at as usize;
                if bytes.len() < at + data.len() {
                    bytes.resize(at + data.len(), 0);
                }
                bytes[at..at + data.len()].copy_from_slice(data);
            }
            Change::SetLen(len) => bytes.resize(*len as usize, 0),
        }
    }
}

#[derive(Clone, Debug)]
struct FileNode {
    live: Vec<u8>,
    durable: Vec<u8>,
    /// Changes since the last sync, in order.
    pending: Vec<Change>,
    modified: SystemTime,
}

#[derive(Clone, Debug, Default)]
struct DirNode {
    live: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
}

#[derive(Clone, Debug)]
enum Node {
    File(FileNode),
    Dir(DirNode),
}

const ROOT: u64 = 0;

#[derive(Clone, Copy)]
enum Op {
    Read,
    Write,
    Sync,
    Meta,
}

struct State {
    nodes: HashMap<u64, Node>,
    next: u64,
    plan: FaultPlan,
    count: Counters,
    dead: bool,
    capacity: u64,
    /// Capacity taken by something else (`room`).
    ballast: u64,
    /// The faults injected so far, described.
    injected: Vec<String>,
    /// Crash images to take, by operation number or by the operation's
    /// description (the Nth one containing a pattern), and those taken.
    capture_at: BTreeMap<u64, Keep>,
    capture_on: Vec<(String, u64, Keep)>,
    captured: Vec<Capture>,
}

/// A crash image taken while the disk ran: a power loss at operation `op`
/// (`what` it was) would have left `image`.
pub struct Capture {
    pub op: u64,
    pub what: String,
    pub keep: Keep,
    pub image: Arc<SimDisk>,
}

/// The simulated disk; shared by every handle to it (`Disk::Sim`).
pub struct SimDisk {
    state: Mutex<State>,
}

/// An open file of a `SimDisk`.
pub struct SimFile {
    disk: Arc<SimDisk>,
    ino: u64,
    path: PathBuf,
    pos: Mutex<u64>,
}

fn err(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: not found", path.display()),
    )
}

fn names(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

impl State {
    /// Counts an operation and injects what the plan says; `len` is the bytes a
    /// write carries, `verb` and `path` name the operation in descriptions and
    /// crash images. `Ok(Some(n))`: a torn write, land `n` bytes then fail. A
    /// crash image planned at this operation is taken first: the disk as a power
    /// loss right here would leave it.
    fn begin(&mut self, op: Op, verb: &str, len: usize, path: &Path) -> io::Result<Option<usize>> {
        let n = self.count.ops;
        self.count.ops += 1;
        let on = || format!("{verb} {}", path.display());
        if !self.dead {
            self.capture(n, &on);
        }
        if self.dead || self.plan.power_loss_at == Some(n) {
            if !self.dead {
                let what = format!("power loss at operation {n} ({})", on());
                self.injected.push(what);
            }
            self.dead = true;
            return Err(err(libc::EIO));
        }
        match op {
            Op::Write => {
                let w = self.count.writes;
                self.count.writes += 1;
                if let Some((at, errno)) = self.plan.fail_write.filter(|(at, _)| *at == w) {
                    let what = format!("write {at} failed: errno {errno} ({})", on());
                    self.injected.push(what);
                    return Err(err(errno));
                }
                if let Some((at, keep)) = self.plan.tear_write.filter(|(at, _)| *at == w) {
                    let keep = keep.min(len);
                    let what = format!("write {at} torn after {keep} of {len} bytes ({})", on());
                    self.injected.push(what);
                    return Ok(Some(keep));
                }
            }
            Op::Sync => {
                let s = self.count.syncs;
                self.count.syncs += 1;
                if let Some((at, errno)) = self.plan.fail_sync.filter(|(at, _)| *at == s) {
                    let what = format!("sync {at} failed: errno {errno} ({})", on());
                    self.injected.push(what);
                    return Err(err(errno));
                }
            }
            Op::Read | Op::Meta => {}
        }
        Ok(None)
    }

    fn dir(&self, ino: u64) -> Option<&DirNode> {
        match self.nodes.get(&ino) {
            Some(Node::Dir(d)) => Some(d),
            _ => None,
        }
    }

    fn dir_mut(&mut self, ino: u64) -> Option<&mut DirNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::Dir(d)) => Some(d),
            _ => None,
        }
    }

    fn file_mut(&mut self, ino: u64) -> io::Result<&mut FileNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::File(f)) => Ok(f),
            _ => Err(err(libc::EISDIR)),
        }
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let mut at = ROOT;
        for name in names(path) {
            at = *self
                .dir(at)
                .and_then(|d| d.live.get(&name))
                .ok_or_else(|| not_found(path))?;
        }
        Ok(at)
    }

    /// The directory holding `path`, and `path`'s last name.
    fn parent(&self, path: &Path) -> io::Result<(u64, String)> {
        let mut parts = names(path);
        let name = parts.pop().ok_or_else(|| err(libc::EINVAL))?;
        let parent: std::path::PathBuf = parts.iter().collect();
        let ino = self.lookup(&parent)?;
        self.dir(ino).ok_or_else(|| err(libc::ENOTDIR))?;
        Ok((ino, name))
    }

    fn add(&mut self, dir: u64, name: String, node: Node) -> u64 {
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(ino, node);
        if let Some(d) = self.dir_mut(dir) {
            d.live.insert(name, ino);
        }
        ino
    }

    fn used(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| match n {
                Node::File(f) => f.live.len() as u64,
                Node::Dir(_) => 0,
            })
            .sum()
    }
}

fn new_file() -> Node {
    Node::File(FileNode {
        live: Vec::new(),
        durable: Vec::new(),
        pending: Vec::new(),
        modified: SystemTime::now(),
    })
}

impl SimDisk {
    /// An empty disk of `capacity` bytes, with no faults planned.
    pub fn new(capacity: u64) -> Arc<SimDisk> {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::Dir(DirNode::default()));
        SimDisk::from_nodes(nodes, capacity)
    }

    fn from_nodes(nodes: HashMap<u64, Node>, capacity: u64) -> Arc<SimDisk> {
        let next = nodes.keys().max().map_or(1, |m| m + 1);
        Arc::new(SimDisk {
            state: Mutex::new(State {
                nodes,
                next,
                plan: FaultPlan::default(),
                count: Counters::default(),
                dead: false,
                capacity,
                ballast: 0,
                injected: Vec::new(),
                capture_at: BTreeMap::new(),
                capture_on: Vec::new(),
                captured: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the fault plan (counters keep counting from where they are).
    pub fn set_plan(&self, plan: FaultPlan) {
        self.lock().plan = plan;
    }

    pub fn counters(&self) -> Counters {
        self.lock().count
    }

    /// Whether the power is gone (every operation fails).
    pub fn is_dead(&self) -> bool {
        self.lock().dead
    }

    /// Cuts the power now.
    pub fn power_off(&self) {
        let mut st = self.lock();
        st.dead = true;
        st.injected.push("power off".into());
    }

    /// The faults injected so far.
    pub fn injected(&self) -> Vec<String> {
        self.lock().injected.clone()
    }

    /// The disk a restart finds after a power loss now: only what was made
    /// durable. With `seed`, also a seeded random part of what was not (each
    /// unsynced change of a file, in order, and each unsynced directory entry
    /// change, kept with probability ½), as real disks may persist some of it.
    pub fn durable_image(&self, seed: Option<u64>) -> Arc<SimDisk> {
        self.crash_image(seed.map_or(Keep::Durable, Keep::Changes))
    }

    /// The disk a restart finds after a power loss now, keeping `keep` of
    /// what was not made durable.
    pub fn crash_image(&self, keep: Keep) -> Arc<SimDisk> {
        let st = self.lock();
        SimDisk::from_nodes(image::image(&st, keep), st.capacity)
    }

    pub fn create_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin(Op::Write, "mkdir", 0, path)?;
        let (dir, name) = st.parent(path)?;
        if st.dir(dir).is_some_and(|d| d.live.contains_key(&name)) {
            return Err(err(libc::EEXIST));
        }
        st.add(dir, name, Node::Dir(DirNode::default()));
        Ok(())
    }

    pub fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin(Op::Write, "mkdir", 0, path)?;
        let mut at = ROOT;
        for name in names(path) {
            let found = st
                .dir(at)
                .ok_or_else(|| err(libc::ENOTDIR))?
                .live
                .get(&name)
                .copied();
            at = match found {
                Some(ino) => ino,
                None => st.add(at, name, Node::Dir(DirNode::default())),
            };
        }
        st.dir(at).map(drop).ok_or_else(|| err(libc::ENOTDIR))
    }

    pub fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut st = self.lock();
        st.begin(Op::Meta, "readdir", 0, path)?;
        let ino = st.lookup(path)?;
        let dir = st.dir(ino).ok_or_else(|| err(libc::ENOTDIR))?;
        Ok(dir
            .live
            .iter()
            .map(|(name, ino)| DirEntry {
                name: name.clone(),
                is_dir: matches!(st.nodes.get(ino), Some(Node::Dir(_))),
            })
            .collect())
    }

    pub fn metadata(&self, path: &Path) -> io::Result<Meta> {
        let mut st = self.lock();
        st.begin(Op::Meta, "stat", 0, path)?;
        let ino = st.lookup(path)?;
        Ok(match st.nodes.get(&ino) {
            Some(Node::File(f)) => Meta {
                len: f.live.len() as u64,
                modified: f.modified,
                is_dir: false,
            },
            _ => Meta {
                len: 0,
                modified: SystemTime::UNIX_EPOCH,
                is_dir: true,
            },
        })
    }

    pub fn set_modified(&self, path: &Path, when: SystemTime) -> io::Result<bool> {
        let mut st = self.lock();
        st.begin(Op::Meta, "touch", 0, path)?;
        let Ok(ino) = st.lookup(path) else {
            return Ok(false);
        };
        st.file_mut(ino)?.modified = when;
        Ok(true)
    }

    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.unlink(path, false)
    }

    pub fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.unlink(path, true)
    }

    fn unlink(&self, path: &Path, dir: bool) -> io::Result<()> {
        let mut st = self.lock();
        st.begin(Op::Write, "unlink", 0, path)?;
        let (parent, name) = st.parent(path)?;
        let ino = st.lookup(path)?;
        if matches!(st.nodes.get(&ino), Some(Node::Dir(_))) != dir {
            return Err(err(if dir { libc::ENOTDIR } else { libc::EISDIR }));
        }
        if let Some(d) = st.dir_mut(parent) {
            d.live.remove(&name);
        }
        Ok(())
    }

    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin(Op::Write, "rename", 0, from)?;
        let ino = st.lookup(from)?;
        let (src, src_name) = st.parent(from)?;
        let (dst, dst_name) = st.parent(to)?;
        if let Some(d) = st.dir_mut(src) {
            d.live.remove(&src_name);
        }
        if let Some(d) = st.dir_mut(dst) {
            d.live.insert(dst_name, ino);
        }
        Ok(())
    }

    /// Makes a directory's entries durable.
    pub fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.lock();
        st.begin(Op::Sync, "syncdir", 0, path)?;
        let ino = st.lookup(path)?;
        let dir = st.dir_mut(ino).ok_or_else(|| err(libc::ENOTDIR))?;
        dir.durable = dir.live.clone();
        Ok(())
    }

    pub fn space(&self) -> io::Result<Space> {
        let mut st = self.lock();
        st.begin(Op::Meta, "statfs", 0, Path::new("/"))?;
        Ok(Space {
            free: st.free(),
            total: st.capacity,
        })
    }

    pub fn open(self: &Arc<Self>, path: &Path, mode: OpenMode) -> io::Result<SimFile> {
        let mut st = self.lock();
        st.begin(
            if mode.create { Op::Write } else { Op::Read },
            "open",
            0,
            path,
        )?;
        let ino = match st.lookup(path) {
            Ok(_) if mode.create_new => return Err(err(libc::EEXIST)),
            Ok(ino) => {
                let file = st.file_mut(ino)?;
                if mode.truncate && !file.live.is_empty() {
                    file.live.clear();
                    file.pending.push(Change::SetLen(0));
                }
                ino
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && mode.create => {
                let (dir, name) = st.parent(path)?;
                st.add(dir, name, new_file())
            }
            Err(e) => return Err(e),
        };
        Ok(SimFile {
            disk: self.clone(),
            ino,
            path: path.to_path_buf(),
            pos: Mutex::new(0),
        })
    }
}

impl SimFile {
    /// The file's length (`is_empty` would be one more counted operation).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> io::Result<u64> {
        let mut st = self.disk.lock();
        st.begin(Op::Meta, "stat", 0, &self.path)?;
        Ok(st.file_mut(self.ino)?.live.len() as u64)
    }

    pub fn read_at(&self, at: u64, out: &mut [u8]) -> io::Result<()> {
        let mut st = self.disk.lock();
        st.begin(Op::Read, "read", 0, &self.path)?;
        let file = st.file_mut(self.ino)?;
        let at = at as usize;
        let src = file
            .live
            .get(at..at + out.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    /// Reads from the handle's position on; 0 at the end.
    pub fn read(&self, out: &mut [u8]) -> io::Result<usize> {
        let mut pos = self
            .pos
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut st = self.disk.lock();
        st.begin(Op::Read, "read", 0, &self.path)?;
        let file = st.file_mut(self.ino)?;
        let start = (*pos as usize).min(file.live.len());
        let n = out.len().min(file.live.len() - start);
        out[..n].copy_from_slice(&file.live[start..start + n]);
        *pos += n as u64;
        Ok(n)
    }

    pub fn write_at(&self, at: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.disk.lock();
        let torn = st.begin(Op::Write, "write", data.len(), &self.path)?;
        st.check_room(self.ino, at + data.len() as u64)?;
        let data = &data[..torn.unwrap_or(data.len())];
        let file = st.file_mut(self.ino)?;
        let change = Change::Write {
            at,
            data: data.to_vec(),
        };
        change.apply(&mut file.live);
        file.pending.push(change);
        file.modified = SystemTime::now();
        match torn {
            Some(_) => Err(err(libc::EIO)),
            None => Ok(()),
        }
    }

    /// Writes at the handle's position and moves it past the bytes.
    pub fn write(&self, data: &[u8]) -> io::Result<usize> {
        let mut pos = self
            .pos
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.write_at(*pos, data)?;
        *pos += data.len() as u64;
        Ok(data.len())
    }

    pub fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.disk.lock();
        st.begin(Op::Write, "truncate", 0, &self.path)?;
        st.check_room(self.ino, len)?;
        let file = st.file_mut(self.ino)?;
        let change = Change::SetLen(len);
        change.apply(&mut file.live);
        file.pending.push(change);
        Ok(())
    }

    /// Makes the file's contents durable (not its directory entry). A failure
    /// drops the changes it could not write: they never become durable.
    pub fn sync(&self) -> io::Result<()> {
        let mut st = self.disk.lock();
        let result = st.begin(Op::Sync, "fsync", 0, &self.path);
        if st.dead {
            return result.map(drop);
        }
        let file = st.file_mut(self.ino)?;
        let pending = std::mem::take(&mut file.pending);
        result?;
        for change in &pending {
            change.apply(&mut file.durable);
        }
        Ok(())
    }
}
