//! Chunk garbage collection by mark and sweep: a chunk file is deleted only when no
//! object and no uploaded part refers to it and its file is older than the grace
//! period, which protects chunks of uploads still in flight (a write that reuses an
//! existing chunk refreshes its time).

use crate::error::Result;
use crate::storage::catalog::Catalog;
use crate::storage::chunk_store::ChunkStore;
use std::time::{Duration, SystemTime};

/// Extra age an unreferenced chunk must have beyond the grace period.
const MTIME_SLACK: Duration = Duration::from_secs(1);

/// One pass; returns how many chunk files were deleted.
pub fn collect(catalog: &Catalog, store: &ChunkStore, grace: Duration) -> Result<u64> {
    // File times come from the kernel's coarse clock, which lags `now` by up to a
    // few milliseconds: without the slack a chunk written just after this line could
    // look older than the cutoff.
    let cutoff = SystemTime::now() - grace - MTIME_SLACK;
    // List files first: a chunk written after this list is not a candidate at all.
    let files = store.list()?;
    let referenced = catalog.referenced_chunks()?;
    let candidates: Vec<_> = files
        .into_iter()
        .filter(|f| f.modified < cutoff && !referenced.contains(&f.id))
        .map(|f| f.id)
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let deleted = store.delete_if_older(&candidates, cutoff)?;
    tracing::info!(deleted, "chunk garbage collection");
    Ok(deleted)
}
