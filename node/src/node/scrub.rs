//! The scrubber: every node re-verifies every chunk file it holds in the
//! background, one full pass per `[scrub] interval`, paced by `[scrub]
//! bandwidth`. A pass walks the chunk store one top-level fan-out directory at a
//! time (a 1/256 slice in memory), re-hashing each file; then, on a node holding
//! the catalog, it walks the catalog's chunk references a page at a time and
//! looks for chunks of its placement groups that it should hold but has no file
//! for. A file that fails verification (here, or when a reader reports it:
//! `SuspectChunk`, or an in-process read) is moved aside (`chunks/quarantine/`)
//! and fetched again, verified, from the PG's other replicas; a missing file
//! likewise. What no replica can give back is counted and reported with the
//! objects that refer to it (`scrub_stats`), in the log, status and metrics.

use super::loops::every;
use super::scrub_stats::{self as stats, bump, COUNTERS};
use super::support::blocking;
use super::throttle::Throttle;
use super::{Node, RPC_TIMEOUT};
use crate::clock::now_ms;
use crate::cluster::config::ScrubSettings;
use crate::cluster::placement::pg_of;
use crate::error::{Error, Result};
use crate::ids::{pg_group, ChunkId, NodeId, PgId, CATALOG_GROUP};
use crate::rpc::messages::{Request, Response};
use crate::storage::catalog::{ChunkOwner, RefCursor};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Catalog rows read per page of the reference walk.
const REF_PAGE: usize = 256;
/// How often chunks reported corrupt by readers are checked.
const SUSPECT_PERIOD: Duration = Duration::from_millis(500);
/// A chunk found missing is looked for again after this long before it counts
/// (a replica that lags behind its group receives it meanwhile).
const MISSING_RECHECK: Duration = Duration::from_secs(2);
/// The file (in the data directory) keeping when the last pass finished.
const LAST_PASS_FILE: &str = "scrub-last-pass";

/// How a chunk came to need a repair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Corrupt,
    Missing,
}

impl Node {
    /// Starts the scrub: reported chunks are checked every `SUSPECT_PERIOD`, and
    /// (unless `[scrub] interval` is 0) a full pass runs every interval, the
    /// first one an interval after the last pass a previous run finished.
    pub(super) fn spawn_scrub(self: Arc<Self>) {
        let settings = self.cfg.scrub.clone();
        stats::configure(&settings);
        let node = self.clone();
        every(SUSPECT_PERIOD, true, move || {
            let node = node.clone();
            async move { node.check_suspects().await }
        });
        if settings.interval.is_zero() {
            return;
        }
        tokio::spawn(async move {
            let last = match self.last_pass_file() {
                Some(p) => blocking(move || Ok(read_last_pass(&p)))
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            if let Some(ms) = last {
                stats::set_last_pass(ms);
                let since = Duration::from_millis(u64::try_from(now_ms() - ms).unwrap_or(0));
                if let Some(wait) = settings.interval.checked_sub(since) {
                    tokio::time::sleep(wait).await;
                }
            }
            let mut pass = 0u64;
            loop {
                pass += 1;
                let started = Instant::now();
                let run = self.scrub_pass(pass, &settings);
                if let Err(error) = run.instrument(tracing::info_span!("scrub", pass)).await {
                    tracing::warn!(%error, "scrub pass failed; the next starts after the interval");
                }
                let next = started + settings.interval;
                tokio::time::sleep_until(next.into()).await;
            }
        });
    }

    /// One full pass: every chunk file verified, then the catalog's references.
    async fn scrub_pass(&self, pass: u64, settings: &ScrubSettings) -> Result<()> {
        let started = Instant::now();
        stats::pass_started(pass);
        tracing::info!("scrub pass started");
        let throttle = Throttle::default();
        let (before_chunks, before_bytes) = (
            COUNTERS
                .chunks_verified
                .load(std::sync::atomic::Ordering::Relaxed),
            COUNTERS
                .bytes_verified
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        for slice in 0..=255u8 {
            let stores = self.stores.clone();
            let files = blocking(move || stores.chunks.list_slice(slice)).await?;
            for file in files {
                throttle.take(file.len, settings.bandwidth).await;
                if !self.verify_file(file.id).await? {
                    self.repair(file.id, Found::Corrupt).await;
                }
            }
            // The reference walk counts as the last 1/257th.
            stats::progress(f64::from(slice) / 257.0);
        }
        self.check_references(pass).await?;
        let secs = started.elapsed().as_secs_f64();
        let now = now_ms();
        stats::pass_done(pass, now, secs);
        if let Some(path) = self.last_pass_file() {
            let _ = blocking(move || Ok(std::fs::write(path, now.to_string())?)).await;
        }
        let s = stats::status();
        tracing::info!(
            chunks = s.chunks_verified - before_chunks,
            bytes = s.bytes_verified - before_bytes,
            secs,
            corrupt_found = s.corrupt_found,
            missing_found = s.missing_found,
            repaired = s.repaired,
            unrepaired = s.unrepaired_now,
            "scrub pass finished"
        );
        Ok(())
    }

    /// Reads and hashes one chunk file; false if it fails (unreadable included).
    /// A file gone meanwhile (collected) counts as intact.
    async fn verify_file(&self, id: ChunkId) -> Result<bool> {
        let stores = self.stores.clone();
        blocking(move || match stores.chunks.read(&id) {
            Ok(data) => {
                bump(&COUNTERS.chunks_verified, 1);
                bump(&COUNTERS.bytes_verified, data.len() as u64);
                Ok(ChunkId::of(&data) == id)
            }
            Err(Error::ChunkMissing(_)) => Ok(true),
            Err(Error::Io(error)) => {
                tracing::warn!(chunk = %id, %error, "chunk file unreadable");
                Ok(false)
            }
            Err(e) => Err(e),
        })
        .await
    }

    /// Checks the chunks readers reported corrupt.
    async fn check_suspects(&self) {
        for id in stats::take_suspects() {
            match self.verify_file(id).await {
                Ok(true) => tracing::debug!(chunk = %id, "reported chunk is intact here"),
                Ok(false) => self.repair(id, Found::Corrupt).await,
                Err(error) => tracing::warn!(chunk = %id, %error, "reported chunk not checked"),
            }
        }
    }

    /// Moves a corrupt file aside, then fetches a good copy from a replica.
    async fn repair(&self, id: ChunkId, found: Found) {
        if found == Found::Corrupt {
            let stores = self.stores.clone();
            match blocking(move || stores.chunks.quarantine_if_corrupt(&id)).await {
                Ok(Some(aside)) => {
                    bump(&COUNTERS.corrupt_found, 1);
                    tracing::warn!(chunk = %id, moved_to = %aside.display(), "chunk failed verification; moved aside");
                }
                Ok(None) => return, // intact after all, or gone
                Err(error) => {
                    tracing::error!(chunk = %id, %error, "corrupt chunk could not be moved aside");
                    return;
                }
            }
        }
        match self.restore(id).await {
            Ok(from) => {
                stats::repaired(&id);
                tracing::info!(chunk = %id, from, ?found, "chunk repaired from a replica");
            }
            Err(error) => {
                if stats::unrepaired(id) {
                    tracing::error!(chunk = %id, ?found, %error, "chunk cannot be repaired: no replica has a good copy");
                }
            }
        }
    }

    /// Fetches `id` from the first other replica of its PG (then any node of the
    /// map) that has it intact, and stores it; the node it came from.
    async fn restore(&self, id: ChunkId) -> Result<NodeId> {
        let pg = pg_of(&id, self.cfg.placement_groups);
        let mut sources: Vec<NodeId> = self
            .raft_opt(pg_group(pg))
            .map(|r| {
                let m = r.metrics().borrow().clone();
                m.membership_config.membership().voter_ids().collect()
            })
            .unwrap_or_default();
        let map = self.map();
        for n in map.with_fallbacks(map.replicas(pg)) {
            if !sources.contains(&n) {
                sources.push(n);
            }
        }
        sources.retain(|n| *n != self.id);
        let mut last = Error::ChunkMissing(id);
        for node in sources {
            let data = match self
                .rpc
                .call(node, &Request::GetChunk { id }, RPC_TIMEOUT)
                .await
            {
                Ok(Response::Data(data)) => data,
                Ok(other) => {
                    last = Error::Remote(format!("unexpected {other:?}"));
                    continue;
                }
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let stores = self.stores.clone();
            let stored = blocking(move || {
                if ChunkId::of(&data) != id {
                    return Ok(false);
                }
                stores.chunks.put(&id, &data)?;
                stores.chunks.release(&[id]);
                Ok(true)
            })
            .await;
            match stored {
                Ok(true) => return Ok(node),
                Ok(false) => last = Error::ChunkCorrupt(id),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Walks the catalog's references (on a node holding the catalog) for chunks
    /// of the PGs this node is a settled voter of that have no file here, and
    /// lists the objects of chunks that stay unrepaired.
    async fn check_references(&self, pass: u64) -> Result<()> {
        if self.raft_opt(CATALOG_GROUP).is_none() {
            return Ok(());
        }
        let mine = self.settled_pgs();
        let pg_count = self.cfg.placement_groups;
        let mut cursor = RefCursor::default();
        loop {
            let stores = self.stores.clone();
            let mine2 = mine.clone();
            let (page, next) = blocking(move || {
                let (page, next) = stores.catalog.chunk_owner_page(&cursor, REF_PAGE)?;
                let lacking: Vec<(ChunkOwner, Vec<ChunkId>)> = page
                    .into_iter()
                    .filter_map(|owner| {
                        let ids: BTreeSet<ChunkId> = owner
                            .chunks
                            .iter()
                            .filter(|id| mine2.contains(&pg_of(id, pg_count)))
                            .filter(|id| !stores.chunks.contains(id))
                            .copied()
                            .collect();
                        (!ids.is_empty()).then(|| (owner, ids.into_iter().collect()))
                    })
                    .collect();
                Ok((lacking, next))
            })
            .await?;
            if !page.is_empty() {
                tokio::time::sleep(MISSING_RECHECK).await;
            }
            for (owner, ids) in page {
                for id in ids {
                    self.missing_chunk(pass, &owner, id).await;
                }
            }
            match next {
                Some(c) => cursor = c,
                None => return Ok(()),
            }
        }
    }

    /// A chunk `owner` refers to that this node lacked: repaired, or its object
    /// listed as affected.
    async fn missing_chunk(&self, pass: u64, owner: &ChunkOwner, id: ChunkId) {
        let stores = self.stores.clone();
        if blocking(move || Ok(stores.chunks.contains(&id)))
            .await
            .unwrap_or(false)
        {
            stats::present(&id);
            return;
        }
        if !stats::is_unrepaired(&id) {
            bump(&COUNTERS.missing_found, 1);
            tracing::warn!(chunk = %id, bucket = %owner.bucket, key = %owner.key, "referenced chunk has no file here");
        }
        self.repair(id, Found::Missing).await;
        if stats::is_unrepaired(&id) {
            let obj = (
                owner.bucket.clone(),
                owner.key.clone(),
                owner.version.clone(),
                id,
            );
            if stats::affected(pass, obj) {
                tracing::error!(
                    bucket = %owner.bucket,
                    key = %owner.key,
                    version = owner.version.as_deref().unwrap_or(""),
                    chunk = %id,
                    "object refers to a chunk no replica can give back: its data is damaged"
                );
            }
        }
    }

    /// The PGs whose running group has this node as a voter, with no membership
    /// change half done (a PG moving here is still pulling its chunks).
    fn settled_pgs(&self) -> BTreeSet<PgId> {
        (0..self.cfg.placement_groups)
            .filter(|pg| {
                self.raft_opt(pg_group(*pg)).is_some_and(|r| {
                    let m = r.metrics().borrow().clone();
                    let membership = m.membership_config.membership();
                    membership.get_joint_config().len() == 1
                        && membership.voter_ids().any(|v| v == self.id)
                })
            })
            .collect()
    }

    fn last_pass_file(&self) -> Option<PathBuf> {
        self.cfg
            .node(self.id)
            .map(|n| n.data_dir.join(LAST_PASS_FILE))
    }
}

fn read_last_pass(path: &std::path::Path) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
