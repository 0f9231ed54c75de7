//! The Cairn gateway: the S3 front end (protocol, auth, chunking, reading, checksums)
//! and the HTTP server, the start-ups of `cairn server`, `cairn gateway` and
//! `cairn node`, and the operator commands. The `cairn` binary
//! (`main.rs`) is a thin command-line layer over this library.

pub mod access_cache;
pub mod access_log;
pub mod admin;
pub mod admin_api;
pub mod admin_cli;
pub mod auth;
pub mod bench;
pub mod body_hashing;
pub mod checksum;
pub mod chunker;
pub mod cli_args;
pub mod console;
pub mod cors;
pub mod crc_combine;
pub mod drain;
pub mod healthcheck;
pub mod keys;
pub mod limits;
pub mod log_format;
pub mod metrics;
pub mod node_process;
pub mod op_metrics;
pub mod permissions;
pub mod policy;
pub mod precheck;
pub mod reader;
pub mod request;
pub mod s3;
pub mod sealing;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod tls;
pub mod usage;
pub mod vhost;
pub mod wire;
