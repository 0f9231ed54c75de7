//! The Cairn gateway: the S3 front end (protocol, auth, chunking, reading, checksums)
//! and the HTTP server, plus the embedded single-node start-up. The `cairn` binary
//! (`main.rs`) is a thin command-line layer over this library.

pub mod auth;
pub mod bench;
pub mod checksum;
pub mod chunker;
pub mod drain;
pub mod policy;
pub mod reader;
pub mod s3;
pub mod server;
pub mod state;
pub mod vhost;
