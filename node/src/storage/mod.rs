//! A node's local storage, below replication: the disk it all goes through
//! (`disk`: real, or simulated with faults), content-addressed chunk files
//! (`chunk_store`), the redb catalog (`catalog`), free space and its floor
//! (`disk_space`), group commit for a redb database (`group_commit`), length-prefixed frames for snapshot files
//! (`frames`) and chunk garbage collection (`gc`). Knows nothing of Raft or the
//! network.

pub mod catalog;
pub mod chunk_store;
pub mod disk;
pub mod disk_space;
pub mod frames;
pub mod gc;
pub mod group_commit;

/// Page cache of each redb database (the catalog and the Raft log), in bytes.
/// redb's default (1 GiB each) let a node's memory grow with the size of its
/// catalog; reads past the cache come from the kernel's page cache.
pub const DB_CACHE_BYTES: usize = 32 * 1024 * 1024;
