//! openraft's type configuration for every group on a node, the log entry's
//! `Command` and its `Reply`, the aliases the other files use, the Raft
//! configuration built from `[raft]` tuning, and the mapping of errors to
//! openraft's `StorageError`.

use super::snapshot::SnapshotData;
use crate::cluster::config::RaftTuning;
use crate::error::WireError;
use crate::ids::{ChunkId, GroupId, NodeId, CATALOG_GROUP};
use crate::storage::catalog::{CatalogCommand, CatalogReply, CatalogRequest};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Chunk bytes carried by log entries.
pub fn entry_bytes(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| match &e.payload {
            openraft::EntryPayload::Normal(Command::PutChunk { data, .. }) => data.len() as u64,
            _ => 0,
        })
        .sum()
}

/// A log entry's command.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Command {
    Catalog(Box<CatalogCommand>),
    /// A chunk joins its placement group. The log store keeps `data` in the chunk
    /// store, not in the log rows.
    PutChunk {
        id: ChunkId,
        #[serde(deserialize_with = "crate::storage::chunk_store::deserialize_aligned")]
        data: Bytes,
    },
    /// Catalog commands written at once (see `catalog_writes`), applied in order,
    /// each with its own reply.
    CatalogBatch(Vec<CatalogCommand>),
    /// Catalog writes with their request ids, applied in order, each with its own
    /// reply (`Reply::CatalogBatch`); a request applied before answers its first
    /// outcome (`storage::catalog` `requests`).
    CatalogRequests(Vec<CatalogRequest>),
}

/// What applying an entry returned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    None,
    Catalog(Box<Result<CatalogReply, WireError>>),
    Chunk,
    /// The chunk of a `PutChunk` entry is not here (see the state machine).
    ChunkLost,
    CatalogBatch(Vec<Result<CatalogReply, WireError>>),
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Command,
        R = Reply,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = SnapshotData,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub type StorageError = openraft::StorageError<NodeId>;

/// The openraft configuration of a group. Placement groups heartbeat half as often
/// as the catalog and carry fewer (large) entries per message.
pub fn config(
    cluster: &str,
    group: GroupId,
    tuning: &RaftTuning,
) -> Result<Arc<openraft::Config>, crate::Error> {
    let slow = if group == CATALOG_GROUP { 1 } else { 2 };
    let cfg = openraft::Config {
        cluster_name: format!("{cluster}/{group}"),
        heartbeat_interval: tuning.heartbeat_ms * slow,
        election_timeout_min: tuning.election_min_ms * slow,
        election_timeout_max: tuning.election_max_ms * slow,
        max_payload_entries: if group == CATALOG_GROUP { 300 } else { 8 },
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(tuning.snapshot_logs),
        max_in_snapshot_log_to_keep: tuning.keep_logs,
        purge_batch_size: 256,
        install_snapshot_timeout: 3_600_000,
        ..Default::default()
    };
    cfg.validate()
        .map(Arc::new)
        .map_err(|e| crate::Error::Config(e.to_string()))
}

/// A storage failure in openraft's terms.
pub fn storage_error(e: impl std::fmt::Display) -> StorageError {
    let io = std::io::Error::other(e.to_string());
    openraft::StorageError::from_io_error(
        openraft::ErrorSubject::Store,
        openraft::ErrorVerb::Write,
        io,
    )
}
