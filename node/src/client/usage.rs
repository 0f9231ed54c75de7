//! `NodeClient::capacity`: the cluster's usable capacity and usage as its nodes
//! report them — each node's room is its configured capacity or its file system,
//! whichever is smaller, and every byte stored takes `replication` bytes of it.

use super::NodeClient;
use crate::error::Result;
use crate::rpc::messages::{Request, Response};
use std::time::Duration;

/// Usable bytes of the whole cluster (what objects can still take, after
/// replication).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub total: u64,
    pub used: u64,
    pub available: u64,
}

const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

impl NodeClient {
    /// Asks every node of the map for its status; a node that does not answer
    /// counts with its configured capacity and nothing available.
    pub async fn capacity(&self) -> Result<Capacity> {
        let view = self.view();
        let replication = view.map.replication.max(1) as u64;
        let mut raw = Capacity::default();
        for node in &view.map.nodes {
            let answer = self
                .inner
                .transport
                .call(node.id, Request::Status, STATUS_TIMEOUT)
                .await;
            let (total, used, free) = match answer {
                Ok(Response::Status(s)) if s.disk_total > 0 => {
                    (s.capacity.min(s.disk_total), s.used, s.disk_free)
                }
                Ok(Response::Status(s)) => (s.capacity, s.used, s.capacity),
                _ => (node.capacity, 0, 0),
            };
            raw.total = raw.total.saturating_add(total);
            raw.used = raw.used.saturating_add(used);
            raw.available = raw
                .available
                .saturating_add(total.saturating_sub(used).min(free));
        }
        Ok(Capacity {
            total: raw.total / replication,
            used: raw.used / replication,
            available: raw.available / replication,
        })
    }
}
