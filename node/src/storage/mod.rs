//! A node's local storage, below replication: the disk it all goes through
//! (`disk`: real, or simulated with faults), content-addressed chunk files
//! (`chunk_store`), the redb catalog (`catalog`), free space and its floor
//! (`disk_space`), group commit for a redb database (`group_commit`), length-prefixed frames for snapshot files
//! (`frames`) and chunk garbage collection (`gc`, over the bounded set of referenced
//! chunks in `ref_filter`). Knows nothing of Raft or the network.

pub mod catalog;
pub mod chunk_store;
pub mod disk;
pub mod disk_space;
pub mod frames;
pub mod gc;
pub mod group_commit;
pub mod ref_filter;

/// Largest filter of referenced chunk ids one garbage-collection pass builds, in bytes
/// (`ref_filter`): ~11 M chunk references at ~0.3% false positives; more references
/// only raise the share of garbage a pass leaves for the next one.
pub const GC_FILTER_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Page caches of a node's two redb databases, in bytes (`--catalog-cache`,
/// `--log-cache`). redb's default (1 GiB each) let a node's memory grow with the
/// size of its catalog; reads past the cache come from the kernel's page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbCaches {
    pub catalog: usize,
    pub log: usize,
}

impl Default for DbCaches {
    fn default() -> Self {
        DbCaches {
            catalog: 32 << 20,
            log: 32 << 20,
        }
    }
}
