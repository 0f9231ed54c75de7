//! Replication through openraft: one type configuration for every group on a node
//! (the catalog group and one group per placement group), the shared log store, the
//! two kinds of state machine, snapshots as files, and the stores a node opens once
//! and shares between its groups (the log among them, reopened from disk after a
//! storage failure: `log_db`). The network that carries Raft's messages is the
//! RPC layer's (`rpc::raft_network`): this layer knows nothing of the network, of
//! the node's other groups or of S3.

// openraft's `StorageError` is large by design; results carrying it are fine here.
#![allow(clippy::result_large_err)]

pub mod log_db;
pub mod log_store;
pub mod recent_chunks;
pub mod snapshot;
pub mod state_machine;
pub mod stores;
pub mod types;
pub mod wal;

pub use snapshot::SnapshotData;
pub use types::*;
