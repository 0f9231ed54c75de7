//! The internal RPC vocabulary: requests a node serves, their responses, the header
//! of a streamed snapshot, and the status a node reports.

use crate::ids::ChunkId;
use crate::ids::PgId;
use crate::ids::{GroupId, NodeId};
use crate::raft::{SnapshotMeta, TypeConfig, Vote};
use crate::records::ChunkRef;
use crate::storage::catalog::{CatalogQuery, CatalogReply, CatalogRequest};
use crate::storage::ref_filter::RefFilter;
use bytes::Bytes;
use openraft::error::RaftError;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Commit a catalog change (catalog leader only), under the request id its
    /// writer uses for every try.
    CatalogWrite(Box<CatalogRequest>),
    /// A linearizable catalog read (catalog leader only).
    CatalogRead(CatalogQuery),
    /// The log index a follower must have applied to read its local catalog
    /// linearizably (catalog leader only).
    CatalogReadIndex,
    /// Commit a chunk in its placement group (PG leader only).
    PutChunk {
        pg: PgId,
        id: ChunkId,
        #[serde(deserialize_with = "crate::storage::chunk_store::deserialize_aligned")]
        data: Bytes,
    },
    /// Read a chunk held here, verified.
    GetChunk {
        id: ChunkId,
    },
    /// Refresh chunks' times and pins so collection spares them while a write
    /// that refers to them runs; answered with the ones not held here.
    TouchChunks {
        ids: Vec<ChunkId>,
    },
    /// Drop the pins of chunks whose record committed (or whose write failed).
    ReleaseChunks {
        ids: Vec<ChunkId>,
    },
    AppendEntries {
        group: GroupId,
        rpc: AppendEntriesRequest<TypeConfig>,
    },
    Vote {
        group: GroupId,
        rpc: VoteRequest<NodeId>,
    },
    Status,
    /// Bytes of chunk files held here.
    Usage,
    /// The epoch of the newest cluster map this node has adopted.
    Epoch,
    /// The group's membership as its leader has it (leader only).
    GroupMembers {
        group: GroupId,
    },
    /// A reader found this node's copy of the chunk corrupt: verify it here and,
    /// if it is bad, move it aside and fetch a good copy (answered at once).
    SuspectChunk {
        id: ChunkId,
    },
    /// The chunk ids the catalog refers to, as a Bloom filter of at most `bytes`
    /// probed with `salt`, read linearizably (a catalog voter only): garbage
    /// collection on a node without a catalog replica.
    ReferenceFilter {
        bytes: u64,
        salt: u64,
    },
}

impl Request {
    /// Chunk bytes the request carries.
    pub fn chunk_bytes(&self) -> usize {
        match self {
            Request::PutChunk { data, .. } => data.len(),
            Request::AppendEntries { rpc, .. } => crate::raft::entry_bytes(&rpc.entries) as usize,
            _ => 0,
        }
    }

    /// Whether the chunk bytes a request carries match its id (checked when a
    /// request arrives over the network; in-process callers hashed them already).
    pub fn chunk_intact(&self) -> bool {
        match self {
            Request::PutChunk { id, data, .. } => ChunkId::of(data) == *id,
            _ => true,
        }
    }
}

impl Response {
    /// Chunk bytes the response carries.
    pub fn chunk_bytes(&self) -> usize {
        match self {
            Response::Data(data) => data.len(),
            _ => 0,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    Done,
    Catalog(CatalogReply),
    ReadIndex(u64),
    Chunk(ChunkRef),
    Data(Bytes),
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    Status(NodeStatus),
    Usage(u64),
    Epoch(u64),
    /// The chunks of a `TouchChunks` not held here.
    Missing(Vec<ChunkId>),
    Members {
        voters: Vec<NodeId>,
        learners: Vec<NodeId>,
        /// A membership change is half done.
        joint: bool,
    },
    References(RefFilter),
}

/// Precedes the bytes of a snapshot file on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub group: GroupId,
    pub vote: Vote,
    pub meta: SnapshotMeta,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NodeStatus {
    pub id: NodeId,
    /// Epoch of the newest cluster map this node knows.
    pub epoch: u64,
    pub capacity: u64,
    /// Bytes of chunk files held.
    pub used: u64,
    pub chunks: u64,
    /// Bytes held per placement group (only those with chunks here).
    pub pg_bytes: Vec<(PgId, u64)>,
    /// Size of the shared Raft log file.
    pub log_file_bytes: u64,
    pub groups: Vec<GroupStatus>,
    /// Membership changes this node leads.
    pub moves: Vec<MoveStatus>,
    /// Size and free bytes of the file system holding the data directory.
    pub disk_total: u64,
    pub disk_free: u64,
    /// The background scrub of this node's chunks.
    pub scrub: ScrubStatus,
}

/// Where a node's scrub stands, and what it found since the process started.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScrubStatus {
    /// False when `[scrub] interval` is 0.
    pub enabled: bool,
    pub interval_secs: u64,
    /// Bytes per second (0: no limit).
    pub bandwidth: u64,
    /// Full passes finished.
    pub passes: u64,
    /// When the last full pass finished (ms since the epoch; 0: none yet).
    pub last_pass_ms: i64,
    /// How long it took.
    pub last_pass_secs: f64,
    /// Whether a pass is running, and how far it is (0 to 1).
    pub running: bool,
    pub progress: f64,
    pub chunks_verified: u64,
    pub bytes_verified: u64,
    /// Chunk files that failed verification (scrub or a read), moved aside.
    pub corrupt_found: u64,
    /// Chunks the catalog refers to that this node should hold but had no file for.
    pub missing_found: u64,
    /// Corrupt or missing chunks fetched again from a healthy replica.
    pub repaired: u64,
    /// Chunks no replica could give back (counted once each).
    pub unrepairable: u64,
    /// Chunks still unrepaired now.
    pub unrepaired_now: u64,
    /// Objects that refer to an unrepaired chunk (at most 100 listed).
    pub affected: Vec<AffectedObject>,
}

/// An object (or uploaded part) that lost a chunk on every replica the scrub
/// could reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedObject {
    pub bucket: String,
    pub key: String,
    /// Its version id (versioned buckets), or `upload:<id>/<part>`.
    pub version: Option<String>,
    /// The chunk's id, hex.
    pub chunk: String,
}

/// A membership change of one group, as the leader running it reports it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MoveStatus {
    pub group: GroupId,
    /// The voters the change is heading to.
    pub target: Vec<NodeId>,
    pub running: bool,
    /// Failed attempts so far (reset on success).
    pub failures: u32,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupStatus {
    pub group: GroupId,
    pub leader: Option<NodeId>,
    pub term: u64,
    pub state: String,
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    /// A membership change is half done.
    pub joint: bool,
    pub last_log_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    /// Entries held in the log (after purging).
    pub log_entries: u64,
    /// On the leader: each follower's lag in entries.
    pub lag: Vec<(NodeId, u64)>,
}
