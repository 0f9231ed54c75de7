//! The background rounds of a node: following the committed map, starting moves,
//! leaving groups, restarting groups stopped by a storage failure (`revive`),
//! refreshing peers' usage, applying lifecycle rules (`lifecycle`), scrubbing
//! (`scrub`) and collecting garbage.

use super::lifecycle::{lifecycle_failed, Stage};
use super::support::*;
use super::RPC_TIMEOUT;
use super::{Node, NodeOptions};
use crate::error::{Error, Result};
use crate::ids::CATALOG_GROUP;
use crate::rpc::messages::{Request, Response};
use crate::storage::gc;
use crate::storage::ref_filter::RefFilter;
use crate::storage::GC_FILTER_MAX_BYTES;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

impl Node {
    /// The background loops: following the committed map (every second), starting
    /// moves (every 250 ms), leaving groups (every second), restarting groups
    /// stopped by a storage failure (every second), refreshing peers' usage
    /// (every 5 s), collecting garbage (`gc_interval`).
    pub(super) fn spawn_loops(self: Arc<Self>, opts: NodeOptions) {
        self.clone().spawn_scrub();
        let node = self.clone();
        every(Duration::from_secs(1), false, move || {
            let node = node.clone();
            async move {
                if let Err(error) = node.map_tick().await {
                    tracing::debug!(%error, "cluster map check failed");
                }
            }
        });
        let node = self.clone();
        every(Duration::from_millis(250), false, move || {
            node.move_tick();
            std::future::ready(())
        });
        let node = self.clone();
        every(Duration::from_secs(1), false, move || {
            let node = node.clone();
            async move { node.leave_tick().await }
        });
        let node = self.clone();
        every(Duration::from_secs(1), true, move || {
            let node = node.clone();
            async move { node.revive_failed_groups().await }
        });
        let node = self.clone();
        every(Duration::from_secs(5), false, move || {
            let node = node.clone();
            async move { node.refresh_usage().await }
        });
        let node = self.clone();
        let stage = Arc::new(tokio::sync::Mutex::new(Stage::default()));
        let offset = opts.lifecycle_clock_offset_ms;
        every(
            opts.lifecycle_interval.max(Duration::from_millis(100)),
            true,
            move || {
                let node = node.clone();
                let stage = stage.clone();
                async move {
                    let mut stage = stage.lock().await;
                    let pass = node.lifecycle_pass(&mut stage, offset);
                    if let Err(error) = pass.instrument(tracing::info_span!("lifecycle")).await {
                        lifecycle_failed();
                        tracing::warn!(%error, "lifecycle pass failed");
                    }
                }
            },
        );
        every(
            opts.gc_interval.max(Duration::from_millis(100)),
            true,
            move || {
                let node = self.clone();
                async move {
                    if let Err(error) = node.collect_garbage(opts.gc_grace).await {
                        tracing::warn!(%error, "garbage collection pass skipped");
                    }
                }
            },
        );
    }

    /// One collection pass over this node's chunk files, marked from the local catalog
    /// replica or, on a node without one, from a filter a catalog voter builds.
    async fn collect_garbage(&self, grace: Duration) -> Result<u64> {
        let cutoff = gc::cutoff(grace);
        let salt = rand::random();
        let referenced = if self.raft_opt(CATALOG_GROUP).is_some() {
            self.reference_filter(GC_FILTER_MAX_BYTES, salt).await?
        } else {
            self.remote_reference_filter(salt).await?
        };
        let stores = self.stores.clone();
        blocking(move || gc::sweep(&stores.chunks, &referenced, cutoff)).await
    }

    /// The chunks the catalog refers to, read from the local replica once it has
    /// applied the leader's read index (so nothing committed before now is missed).
    pub(super) async fn reference_filter(&self, bytes: usize, salt: u64) -> Result<RefFilter> {
        let index = match self.handle(Request::CatalogReadIndex).await {
            Ok(Response::ReadIndex(i)) => i,
            Err(Error::NotLeader {
                leader: Some(l), ..
            }) => {
                match self
                    .rpc
                    .call(l, &Request::CatalogReadIndex, RPC_TIMEOUT)
                    .await?
                {
                    Response::ReadIndex(i) => i,
                    other => return Err(Error::Remote(format!("unexpected {other:?}"))),
                }
            }
            Ok(other) => return Err(Error::Remote(format!("unexpected {other:?}"))),
            Err(e) => return Err(e),
        };
        self.raft(CATALOG_GROUP)?
            .wait(Some(RPC_TIMEOUT))
            .applied_index_at_least(Some(index), "gc barrier")
            .await
            .map_err(unavailable)?;
        let stores = self.stores.clone();
        let bytes = bytes.min(GC_FILTER_MAX_BYTES);
        blocking(move || stores.catalog.reference_filter(bytes, salt)).await
    }

    /// `reference_filter` from the first catalog voter that answers.
    async fn remote_reference_filter(&self, salt: u64) -> Result<RefFilter> {
        let req = Request::ReferenceFilter {
            bytes: GC_FILTER_MAX_BYTES as u64,
            salt,
        };
        let mut last = Error::Unavailable("no catalog voter in the map".into());
        for voter in self.map().catalog_voters() {
            match self.rpc.call(voter, &req, FILTER_TIMEOUT).await {
                Ok(Response::References(filter)) => return Ok(filter),
                Ok(other) => last = Error::Remote(format!("unexpected {other:?}")),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// How long a catalog voter may take to read every reference into a filter.
const FILTER_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `round` every `period` for ever: the first at once, or after one period
/// when `delay_first`.
pub(super) fn every<F, Fut>(period: Duration, delay_first: bool, mut round: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        if delay_first {
            tick.tick().await;
        }
        loop {
            tick.tick().await;
            round().await;
        }
    });
}
