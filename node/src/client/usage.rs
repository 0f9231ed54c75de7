//! `NodeClient::capacity`: the cluster's usable capacity and usage as its nodes
//! report them — each node's room is its configured capacity or its file system,
//! whichever is smaller, and every byte stored takes `replication` bytes of it;
//! and `NodeClient::bucket_usage`, what each bucket holds as clients count it.

use super::{unexpected_reply, NodeClient};
use crate::error::Result;
use crate::rpc::messages::{Request, Response};
use crate::storage::catalog::{BucketUsage, CatalogQuery, CatalogReply};
use std::collections::BTreeMap;
use std::time::Duration;

/// Usable bytes of the whole cluster (what objects can still take, after
/// replication).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub total: u64,
    pub used: u64,
    pub available: u64,
    /// Bytes of chunk files on all nodes, replicas included.
    pub physical: u64,
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
            physical: raw.used,
        })
    }

    /// Keys, versions, delete markers and logical bytes of every bucket.
    pub async fn bucket_usage(&self) -> Result<BTreeMap<String, BucketUsage>> {
        match self.catalog_read(CatalogQuery::Usage).await? {
            CatalogReply::Usage(u) => Ok(u),
            other => Err(unexpected_reply(other)),
        }
    }
}
