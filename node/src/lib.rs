//! Cairn storage node: content-addressed chunk files, the redb catalog of buckets,
//! objects, uploads and keys, the Raft groups that replicate them (openraft), the
//! internal RPC, chunk garbage collection, and the client interface the gateway
//! uses to reach all of it. Knows nothing of S3's wire protocol.

pub mod catalog;
pub mod catalog_writes;
pub mod chunk_id;
pub mod chunk_store;
pub mod client;
pub mod cluster_config;
pub mod cluster_map;
pub mod error;
pub mod frames;
pub mod gc;
pub mod group_commit;
pub mod map_watch;
pub mod metrics;
pub mod moves;
pub mod node;
pub mod placement;
pub mod raft;
pub mod records;
pub mod routing;
pub mod rpc;
pub mod stores;
pub mod throttle;

pub use chunk_id::ChunkId;
pub use client::NodeClient;
pub use error::{Error, Result};
pub use node::{Node, NodeOptions};

/// Milliseconds since the Unix epoch, the timestamp unit of every record.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
