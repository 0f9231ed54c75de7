//! Following the committed cluster map: each node reads it (from its own catalog
//! when it holds one, else from the catalog leader), adopts a newer epoch, and
//! starts the Raft groups the map places on it. The catalog leader commits the
//! cluster file's map as epoch 1 when the cluster is created. Placement groups are
//! initialized only from the epoch-1 map: later, nodes join groups as learners.

use crate::cluster::map::ClusterMap;
use crate::error::{Error, Result};
use crate::ids::{GroupId, CATALOG_GROUP};
use crate::node::{Node, RPC_TIMEOUT};
use crate::raft::{Command, Reply};
use crate::rpc::messages::{Request, Response};
use crate::storage::catalog::{CatalogCommand, CatalogQuery, CatalogReply};
use openraft::ServerState;
use std::sync::Arc;
use std::time::Duration;

impl Node {
    /// One round: learn the newest map, commit the first one if this node leads a
    /// catalog that has none, start the groups the map places here.
    pub(crate) async fn map_tick(self: &Arc<Self>) -> Result<()> {
        match self.read_committed_map().await? {
            Some(map) if map.epoch > self.map().epoch => self.adopt_map(map).await?,
            Some(_) => {}
            None if self.leads(CATALOG_GROUP) => {
                let mut map = self.cfg.map();
                map.epoch = 1;
                map.applied_at_ms = crate::now_ms();
                let cmd = CatalogCommand::SetClusterMap(Box::new(map));
                match self.write_catalog(cmd).await {
                    Ok(()) | Err(Error::StaleMap { .. }) => {}
                    Err(e) => return Err(e),
                }
                tracing::info!("first cluster map committed (epoch 1)");
            }
            None => {}
        }
        self.reconcile(&self.map()).await
    }

    /// Makes `map` this node's map (if it fits this node's stores), once the groups
    /// it places here run (so a node reporting the epoch is ready for them).
    pub(crate) async fn adopt_map(&self, map: ClusterMap) -> Result<()> {
        if map.placement_groups != self.cfg.placement_groups {
            tracing::error!(
                committed = map.placement_groups,
                file = self.cfg.placement_groups,
                "the committed map's placement group count differs from this node's file; ignoring it"
            );
            return Ok(());
        }
        self.rpc
            .add_addrs(map.nodes.iter().map(|n| (n.id, n.address.as_str())));
        self.reconcile(&map).await?;
        tracing::info!(
            epoch = map.epoch,
            nodes = map.nodes.len(),
            "cluster map adopted"
        );
        if let Ok(mut m) = self.map.write() {
            *m = Arc::new(map);
        }
        Ok(())
    }

    /// Starts every group the map places here; from the epoch-1 map, initializes
    /// those whose preferred member this node is.
    pub(crate) async fn reconcile(&self, map: &ClusterMap) -> Result<()> {
        if map.epoch == 0 {
            return Ok(());
        }
        for (group, members) in map.groups() {
            if !members.contains(&self.id) {
                continue;
            }
            self.ensure_group(group).await?;
            if map.epoch == 1 && members.first() == Some(&self.id) {
                self.initialize(group, &members).await?;
            }
        }
        Ok(())
    }

    pub(crate) fn leads(&self, group: GroupId) -> bool {
        self.raft_opt(group)
            .is_some_and(|r| r.metrics().borrow().state == ServerState::Leader)
    }

    /// The committed map: from the local catalog when this node leads the catalog
    /// group, otherwise from the catalog leader (a node cut off from the catalog —
    /// removed while it was down — must not trust its stale copy), falling back to
    /// the local copy when no leader answers.
    async fn read_committed_map(&self) -> Result<Option<ClusterMap>> {
        let local = || async {
            let stores = self.stores.clone();
            crate::node::blocking(move || stores.catalog.cluster_map()).await
        };
        if self.leads(CATALOG_GROUP) {
            return local().await;
        }
        match self.fetch_committed_map(Duration::from_secs(3)).await {
            Ok(map) => Ok(map),
            Err(e) if self.raft_opt(CATALOG_GROUP).is_some() => {
                tracing::debug!(error = %e, "catalog leader unreachable; using the local map");
                local().await
            }
            Err(e) => Err(e),
        }
    }

    /// Asks the catalog leader for the committed map (trying for `window`).
    pub(crate) async fn fetch_committed_map(&self, window: Duration) -> Result<Option<ClusterMap>> {
        let map = self.map();
        let mut candidates = map.catalog_voters();
        for n in self.cfg.nodes.iter().chain(&map.nodes) {
            if n.id != self.id && !candidates.contains(&n.id) {
                candidates.push(n.id);
            }
        }
        candidates.retain(|n| *n != self.id);
        let rpc = &self.rpc;
        let req = Request::CatalogRead(CatalogQuery::ClusterMap);
        let resp = self
            .router
            .to_leader(CATALOG_GROUP, &candidates, window, |n| {
                rpc.call(n, &req, RPC_TIMEOUT.min(window))
            })
            .await?;
        match resp {
            Response::Catalog(CatalogReply::ClusterMap(m)) => Ok(m.map(|m| *m)),
            other => Err(Error::Remote(format!("unexpected {other:?}"))),
        }
    }

    async fn write_catalog(&self, cmd: CatalogCommand) -> Result<()> {
        match self
            .write(CATALOG_GROUP, Command::Catalog(Box::new(cmd)))
            .await?
        {
            Reply::Catalog(r) => (*r).map(drop).map_err(Error::from),
            other => Err(Error::Remote(format!("unexpected reply {other:?}"))),
        }
    }
}
