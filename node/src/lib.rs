//! Cairn storage node: content-addressed chunk files, the redb catalog of buckets,
//! objects, uploads, access keys and grants, the Raft groups that replicate them (openraft), the
//! internal RPC, chunk garbage collection, and the client interface the gateway
//! uses to reach all of it. Knows nothing of S3's wire protocol.
//!
//! The modules are layers; each imports only from its own layer or lower ones
//! (checked by `tests/layers.rs`), lowest first:
//!
//! | layer | holds |
//! |---|---|
//! | `ids`, `clock`, `error`, `records`, `versioning`, `lifecycle`, `access` | leaf types every layer shares |
//! | `cluster` | `cluster.toml`, the committed cluster map, placement |
//! | `tls` | PEM files, the plain-or-TLS listener, the cluster's mutual-TLS configurations |
//! | `storage` | chunk files, the redb catalog, group commit, garbage collection |
//! | `raft` | openraft's type config, the shared log, state machines, snapshots |
//! | `rpc` | the internal wire: messages, the client, Raft's network, leader routing |
//! | `node` | one node: its groups, request handling, moves, map following, the RPC server |
//! | `client` | `NodeClient`: how a gateway reaches buckets, objects and chunks |
//!
//! See `docs/ARCHITECTURE.md` for the whole picture.

pub mod access;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod node;
pub mod raft;
pub mod records;
pub mod rpc;
pub mod storage;
pub mod tls;
pub mod versioning;

pub use client::NodeClient;
pub use clock::now_ms;
pub use error::{Error, Result};
pub use ids::ChunkId;
pub use node::{Node, NodeOptions};
