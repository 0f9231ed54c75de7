//! The cluster's description: `cluster.toml` as parsed and validated (`config`),
//! the committed map every node follows (`map`), where placement groups live
//! (`placement`) and how evenly (`balance`), and the node entries both share (`members`). Pure data and
//! functions: no I/O beyond reading the file, no Raft.

pub mod balance;
pub mod config;
pub mod map;
pub mod members;
pub mod placement;
#[cfg(test)]
mod placement_sim;
