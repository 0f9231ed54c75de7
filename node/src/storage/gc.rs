//! Chunk garbage collection by mark and sweep: a chunk file is deleted only when no
//! object and no uploaded part refers to it and its file is older than the grace
//! period, which protects chunks of uploads still in flight (a write that reuses an
//! existing chunk refreshes its time, and pins it until its record commits). The mark
//! is a Bloom filter (`ref_filter`), so a pass's memory does not grow with the store;
//! a node without a catalog replica sweeps with a filter a catalog voter built.

use crate::error::Result;
use crate::storage::catalog::Catalog;
use crate::storage::chunk_store::ChunkStore;
use crate::storage::ref_filter::RefFilter;
use crate::storage::GC_FILTER_MAX_BYTES;
use std::time::{Duration, SystemTime};

/// Extra age an unreferenced chunk must have beyond the grace period.
const MTIME_SLACK: Duration = Duration::from_secs(1);

/// Chunks handed to `delete_if_older` at a time.
const BATCH: usize = 1024;

/// The newest file time a chunk may have to be collected by a pass starting now.
/// File times come from the kernel's coarse clock, which lags `now` by up to a few
/// milliseconds: without the slack a chunk written just after this could look
/// older than the cutoff.
pub fn cutoff(grace: Duration) -> SystemTime {
    SystemTime::now() - grace - MTIME_SLACK
}

/// One pass over a local catalog; returns how many chunk files were deleted.
pub fn collect(catalog: &Catalog, store: &ChunkStore, grace: Duration) -> Result<u64> {
    let cutoff = cutoff(grace);
    let referenced = catalog.reference_filter(GC_FILTER_MAX_BYTES, rand::random())?;
    sweep(store, &referenced, cutoff)
}

/// Deletes every chunk file older than `cutoff` that `referenced` does not contain
/// (read after `cutoff` was taken, from a catalog that applied at least the
/// leader's read index). A chunk that became referenced after the filter was read
/// was written or touched after `cutoff`, or is pinned, and `delete_if_older`
/// re-checks both under the store's lock. Memory is bounded: the filter's size, and
/// chunk files walked one fan-out directory at a time and deleted in batches.
pub fn sweep(store: &ChunkStore, referenced: &RefFilter, cutoff: SystemTime) -> Result<u64> {
    let mut deleted = 0;
    let mut batch = Vec::with_capacity(BATCH);
    store.for_each_file(|f| {
        if f.modified < cutoff && !referenced.may_contain(&f.id) {
            batch.push(f.id);
            if batch.len() == BATCH {
                deleted += store.delete_if_older(&batch, cutoff)?;
                batch.clear();
            }
        }
        Ok(())
    })?;
    deleted += store.delete_if_older(&batch, cutoff)?;
    if deleted > 0 {
        tracing::info!(
            deleted,
            filter_bytes = referenced.bytes(),
            "chunk garbage collection"
        );
    }
    Ok(deleted)
}
