//! The lifecycle worker: every `lifecycle_interval`, the catalog leader (and only
//! it) walks the buckets that have lifecycle rules and applies them through
//! catalog commands: `DeleteVersions` (at the worker's `now`, never bypassing
//! governance, so the catalog refuses every locked version; those count as
//! skipped) and `AbortUpload`. The walk is paged: a pass reads at most
//! `ROWS_PER_PASS` rows, a page at a time, and the next pass resumes where it
//! stopped. Stages per bucket: current objects (Expiration Days/Date), then
//! version rows (noncurrent versions, lone delete markers); after the last
//! bucket, the uploads in progress (AbortIncompleteMultipartUpload). The clock
//! is `now_ms() + lifecycle_clock_offset` so tests can move time forward.

use super::support::*;
use super::Node;
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::ids::CATALOG_GROUP;
use crate::lifecycle::LifecycleConfig;
use crate::rpc::messages::{Request, Response};
use crate::storage::catalog::{CatalogCommand, CatalogReply, CatalogRequest};
use crate::versioning::{DeleteOutcome, DeleteTarget};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Rows read per catalog page.
const PAGE: usize = 256;
/// Rows read per pass at most; the next pass resumes after them.
pub const ROWS_PER_PASS: usize = 10_000;

/// The worker's counters (process-wide: a process runs at most one node).
pub struct LifecycleStats {
    started: AtomicBool,
    passes: AtomicU64,
    rows: AtomicU64,
    expired: AtomicU64,
    noncurrent_expired: AtomicU64,
    markers_removed: AtomicU64,
    uploads_aborted: AtomicU64,
    skipped_locked: AtomicU64,
    errors: AtomicU64,
}

pub static STATS: LifecycleStats = LifecycleStats {
    started: AtomicBool::new(false),
    passes: AtomicU64::new(0),
    rows: AtomicU64::new(0),
    expired: AtomicU64::new(0),
    noncurrent_expired: AtomicU64::new(0),
    markers_removed: AtomicU64::new(0),
    uploads_aborted: AtomicU64::new(0),
    skipped_locked: AtomicU64::new(0),
    errors: AtomicU64::new(0),
};

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The worker's counters in Prometheus text ("" where no worker runs).
pub fn render_lifecycle_metrics() -> String {
    let s = &STATS;
    if !s.started.load(Ordering::Relaxed) {
        return String::new();
    }
    let mut out = String::new();
    for (name, help, v) in [
        (
            "passes",
            "lifecycle passes run as catalog leader",
            &s.passes,
        ),
        ("rows_scanned", "catalog rows the passes read", &s.rows),
        ("expired", "current versions expired", &s.expired),
        (
            "noncurrent_expired",
            "noncurrent versions deleted",
            &s.noncurrent_expired,
        ),
        (
            "delete_markers_removed",
            "expired delete markers removed",
            &s.markers_removed,
        ),
        (
            "uploads_aborted",
            "incomplete multipart uploads aborted",
            &s.uploads_aborted,
        ),
        (
            "skipped_locked",
            "versions left because of a retention or legal hold",
            &s.skipped_locked,
        ),
        ("errors", "passes that failed", &s.errors),
    ] {
        let _ = writeln!(out, "# HELP cairn_lifecycle_{name}_total {help}");
        let _ = writeln!(out, "# TYPE cairn_lifecycle_{name}_total counter");
        let _ = writeln!(
            out,
            "cairn_lifecycle_{name}_total {}",
            v.load(Ordering::Relaxed)
        );
    }
    out
}

/// Where the walk stands.
#[derive(Clone, Debug, Default)]
pub(super) enum Stage {
    #[default]
    Start,
    Current {
        bucket: String,
        after: Option<String>,
    },
    Versions {
        bucket: String,
        after: Option<(String, u64)>,
        /// Rows of `after`'s key already seen (its newest is the current version).
        key_rows: u64,
    },
    Uploads {
        after: Option<String>,
    },
}

impl Node {
    /// One pass, if this node leads the catalog group. Marks the worker as running.
    pub(super) async fn lifecycle_pass(&self, stage: &mut Stage, offset_ms: i64) -> Result<()> {
        STATS.started.store(true, Ordering::Relaxed);
        let Some(raft) = self.raft_opt(CATALOG_GROUP) else {
            return Ok(());
        };
        if raft.metrics().borrow().current_leader != Some(self.id) {
            *stage = Stage::Start;
            return Ok(());
        }
        // Read what every acknowledged write left.
        raft.ensure_linearizable().await.map_err(read_error)?;
        let now = now_ms().saturating_add(offset_ms);
        let mut budget = ROWS_PER_PASS;
        while budget > 0 {
            match self
                .lifecycle_step(std::mem::take(stage), now, &mut budget)
                .await
            {
                Ok(Some(next)) => *stage = next,
                Ok(None) => break,
                Err(e) => {
                    *stage = Stage::Start;
                    return Err(e);
                }
            }
        }
        bump(&STATS.passes, 1);
        Ok(())
    }

    /// Handles one page of `stage`; returns the next stage, `None` at the end of
    /// the walk.
    async fn lifecycle_step(
        &self,
        stage: Stage,
        now: i64,
        budget: &mut usize,
    ) -> Result<Option<Stage>> {
        let catalog = || self.stores.clone();
        let limit = PAGE.min(*budget);
        match stage {
            Stage::Start => self.next_bucket(None).await.map(Some),
            Stage::Current { bucket, after } => {
                let Some(cfg) = self.rules_of(&bucket).await? else {
                    return self.next_bucket(Some(bucket)).await.map(Some);
                };
                let (b, a) = (bucket.clone(), after.clone());
                let stores = catalog();
                let page =
                    blocking(move || stores.catalog.current_page(&b, a.as_deref(), limit)).await?;
                spend(budget, page.len());
                let targets: Vec<DeleteTarget> = page
                    .iter()
                    .filter(|c| {
                        cfg.expires_current(&c.key, c.size, &c.tags, c.last_modified_ms, now)
                    })
                    .map(|c| DeleteTarget {
                        key: c.key.clone(),
                        version_id: None,
                    })
                    .collect();
                for out in self.lifecycle_delete(&bucket, targets, now).await? {
                    if out.error.is_none() {
                        bump(&STATS.expired, 1);
                    }
                }
                Ok(Some(match page.last() {
                    Some(last) if page.len() == limit => Stage::Current {
                        bucket,
                        after: Some(last.key.clone()),
                    },
                    _ => Stage::Versions {
                        bucket,
                        after: None,
                        key_rows: 0,
                    },
                }))
            }
            Stage::Versions {
                bucket,
                after,
                mut key_rows,
            } => {
                let Some(cfg) = self.rules_of(&bucket).await? else {
                    return self.next_bucket(Some(bucket)).await.map(Some);
                };
                let (b, a) = (bucket.clone(), after.clone());
                let stores = catalog();
                let page = blocking(move || {
                    let a = a.as_ref().map(|(k, s)| (k.as_str(), *s));
                    stores.catalog.version_page(&b, a, limit)
                })
                .await?;
                spend(budget, page.len());
                let mut prev_key = after.as_ref().map(|(k, _)| k.clone());
                let mut targets = Vec::new();
                for c in &page {
                    if prev_key.as_deref() == Some(c.key.as_str()) {
                        key_rows += 1;
                    } else {
                        key_rows = 1;
                        prev_key = Some(c.key.clone());
                    }
                    let expired = match c.newer_ms {
                        None => c.size.is_none() && !c.has_older && cfg.removes_lone_marker(&c.key),
                        Some(since) => {
                            let newer_noncurrent = key_rows.saturating_sub(2);
                            cfg.expires_noncurrent(
                                &c.key,
                                c.size,
                                &c.tags,
                                since,
                                newer_noncurrent,
                                now,
                            )
                        }
                    };
                    if expired {
                        targets.push(DeleteTarget {
                            key: c.key.clone(),
                            version_id: Some(c.version_id.clone()),
                        });
                    }
                }
                let current: HashMap<(&str, &str), bool> = page
                    .iter()
                    .map(|c| {
                        (
                            (c.key.as_str(), c.version_id.as_str()),
                            c.newer_ms.is_none(),
                        )
                    })
                    .collect();
                for out in self.lifecycle_delete(&bucket, targets, now).await? {
                    let lone = out
                        .version_id
                        .as_deref()
                        .and_then(|v| current.get(&(out.key.as_str(), v)).copied())
                        .unwrap_or(false);
                    match (&out.error, lone) {
                        (Some(_), _) => {}
                        (None, true) => bump(&STATS.markers_removed, 1),
                        (None, false) => bump(&STATS.noncurrent_expired, 1),
                    }
                }
                Ok(Some(match page.last() {
                    Some(last) if page.len() == limit => Stage::Versions {
                        bucket,
                        after: Some((last.key.clone(), last.slot)),
                        key_rows,
                    },
                    _ => self.next_bucket(Some(bucket)).await?,
                }))
            }
            Stage::Uploads { after } => {
                let stores = catalog();
                let a = after.clone();
                let page =
                    blocking(move || stores.catalog.upload_page(a.as_deref(), limit)).await?;
                spend(budget, page.len());
                let mut rules: HashMap<String, Option<LifecycleConfig>> = HashMap::new();
                for (id, up) in &page {
                    if !rules.contains_key(&up.bucket) {
                        let cfg = self.rules_of(&up.bucket).await?;
                        rules.insert(up.bucket.clone(), cfg);
                    }
                    let Some(Some(cfg)) = rules.get(&up.bucket) else {
                        continue;
                    };
                    if !cfg.aborts_upload(&up.key, up.initiated_ms, now) {
                        continue;
                    }
                    let cmd = CatalogCommand::AbortUpload {
                        upload_id: id.clone(),
                    };
                    match self.lifecycle_write(cmd).await {
                        Ok(_) => {
                            tracing::info!(bucket = %up.bucket, key = %up.key, upload = %id, "lifecycle aborted upload");
                            bump(&STATS.uploads_aborted, 1);
                        }
                        Err(Error::NoSuchUpload) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(match page.last() {
                    Some((last, _)) if page.len() == limit => Some(Stage::Uploads {
                        after: Some(last.clone()),
                    }),
                    _ => None,
                })
            }
        }
    }

    /// The first stage of the bucket with rules after `after`, or the uploads.
    async fn next_bucket(&self, after: Option<String>) -> Result<Stage> {
        let stores = self.stores.clone();
        let next = blocking(move || stores.catalog.lifecycle_buckets(after.as_deref(), 1)).await?;
        Ok(match next.into_iter().next() {
            Some((bucket, _)) => Stage::Current {
                bucket,
                after: None,
            },
            None => Stage::Uploads { after: None },
        })
    }

    /// The bucket's lifecycle rules; `None` without rules or without the bucket.
    async fn rules_of(&self, bucket: &str) -> Result<Option<LifecycleConfig>> {
        let stores = self.stores.clone();
        let b = bucket.to_string();
        match blocking(move || stores.catalog.bucket_config(&b)).await {
            Ok(cfg) => Ok(cfg.lifecycle.filter(|l| l.enabled().next().is_some())),
            Err(Error::NoSuchBucket) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes `targets` at `now` through the catalog; locked versions count as
    /// skipped.
    async fn lifecycle_delete(
        &self,
        bucket: &str,
        targets: Vec<DeleteTarget>,
        now: i64,
    ) -> Result<Vec<DeleteOutcome>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let cmd = CatalogCommand::DeleteVersions {
            bucket: bucket.to_string(),
            targets,
            now_ms: now,
            bypass_governance: false,
        };
        let outcomes = match self.lifecycle_write(cmd).await {
            Ok(CatalogReply::Deleted(d)) => d,
            Ok(other) => return Err(Error::Remote(format!("unexpected {other:?}"))),
            Err(Error::NoSuchBucket) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        for out in &outcomes {
            match &out.error {
                Some((code, msg)) if code == "AccessDenied" => {
                    tracing::debug!(bucket, key = %out.key, version = ?out.version_id, %msg, "lifecycle skipped a locked version");
                    bump(&STATS.skipped_locked, 1);
                }
                Some((code, msg)) => {
                    tracing::warn!(bucket, key = %out.key, %code, %msg, "lifecycle delete refused");
                }
                None => {
                    tracing::info!(bucket, key = %out.key, version = ?out.version_id, marker = out.delete_marker, "lifecycle deleted")
                }
            }
        }
        Ok(outcomes)
    }

    async fn lifecycle_write(&self, cmd: CatalogCommand) -> Result<CatalogReply> {
        let req = CatalogRequest {
            id: rand::random(),
            cmd,
        };
        match self.handle(Request::CatalogWrite(Box::new(req))).await? {
            Response::Catalog(reply) => Ok(reply),
            other => Err(Error::Remote(format!("unexpected {other:?}"))),
        }
    }
}

/// Counts a failed pass.
pub(super) fn lifecycle_failed() {
    bump(&STATS.errors, 1);
}

fn spend(budget: &mut usize, rows: usize) {
    bump(&STATS.rows, rows as u64);
    *budget = budget.saturating_sub(rows.max(1));
}
