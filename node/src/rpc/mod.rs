//! Internal RPC between nodes and from gateways: HTTP with the cluster secret in a
//! header. `messages` are the shared request/response types, `client` sends them
//! (one pooled connection set per process, shared by every Raft group), `server`
//! receives them and hands them to a node.

pub mod client;
pub mod messages;
pub mod server;

/// The header carrying the cluster secret on every internal request.
pub const SECRET_HEADER: &str = "x-cairn-secret";
