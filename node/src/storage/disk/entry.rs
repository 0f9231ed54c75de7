//! The plain values a `Disk` answers with, shared by the real and the simulated
//! disk: a directory entry, a file's metadata, a file system's space, how a file
//! is opened.

use std::time::SystemTime;

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
}

/// What `Disk::metadata` tells of a file or directory.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub len: u64,
    pub modified: SystemTime,
    pub is_dir: bool,
}

/// Free and total bytes of a file system, as `statvfs` reports them to
/// unprivileged writers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    pub free: u64,
    pub total: u64,
}

/// How a file is opened.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenMode {
    pub create: bool,
    pub create_new: bool,
    pub truncate: bool,
}
