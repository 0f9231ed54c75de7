//! Internal RPC between nodes and from gateways: HTTP with the cluster secret in a
//! header, over mutual TLS when the cluster file has `[tls]`. `messages` are the shared request/response types, `client` sends them
//! (one pooled connection set per process, shared by every Raft group),
//! `raft_network` carries openraft's messages over it and `routing` finds a group's
//! leader. The server that receives requests is the node's (`node::rpc_server`).
//! It moves messages; it knows nothing of how a node serves them.

pub mod client;
pub mod messages;
pub mod raft_network;
pub mod routing;

/// The header carrying the cluster secret on every internal request.
pub const SECRET_HEADER: &str = "x-cairn-secret";

/// How a node's refusal of an internal request without a client certificate
/// (on a mutual-TLS listener) begins.
pub const NO_CERT_REFUSAL: &[u8] = b"no client certificate";

/// Encodes a message in one allocation sized for the chunk bytes it carries (the
/// growing vector of `postcard::to_allocvec` copies a chunk several times).
pub fn encode<T: serde::Serialize>(value: &T, chunk_bytes: usize) -> postcard::Result<Vec<u8>> {
    postcard::to_io(value, Vec::with_capacity(chunk_bytes + 1024))
}
