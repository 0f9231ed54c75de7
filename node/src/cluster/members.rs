//! The parts of a cluster description that the file and the committed map share:
//! a node's entry (`NodeEntry`) and the limits of data moves (`MoveLimits`).

use crate::ids::NodeId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[moves]` table: how hard a node pulls data when placement groups move to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoveLimits {
    /// Placement-group moves a leader runs at once.
    pub concurrency: u32,
    /// Bytes per second a node fetches for moves (0: unlimited).
    pub bandwidth: u64,
}

impl Default for MoveLimits {
    fn default() -> Self {
        MoveLimits {
            concurrency: 2,
            bandwidth: 100 << 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// >= 1, unique.
    pub id: NodeId,
    /// "host:port" internal RPC address, unique.
    pub address: String,
    /// Absolute when loaded from a file (relative paths resolve against its directory).
    pub data_dir: PathBuf,
    /// Bytes, > 0.
    pub capacity: u64,
    pub zone: Option<String>,
    /// > 0, default 1.0.
    pub weight: f64,
    /// Being emptied; placement avoids it.
    pub drain: bool,
}
