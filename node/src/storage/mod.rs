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
