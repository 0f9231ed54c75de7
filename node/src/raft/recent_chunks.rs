//! Chunks appended lately, kept in memory up to a byte budget, oldest dropped first:
//! replicating a `PutChunk` entry to followers and applying it happen right after
//! its append, and without this each of them read the chunk back from its file and
//! hashed it again.

use crate::ids::ChunkId;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

pub struct RecentChunks {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    order: VecDeque<ChunkId>,
    chunks: HashMap<ChunkId, Bytes>,
    bytes: usize,
}

impl RecentChunks {
    pub fn new(budget: usize) -> Self {
        RecentChunks {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Remembers a chunk (whose bytes the caller knows to match `id`).
    pub fn insert(&self, id: ChunkId, data: Bytes) {
        if data.len() > self.budget {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.chunks.contains_key(&id) {
            return;
        }
        inner.bytes += data.len();
        inner.chunks.insert(id, data);
        inner.order.push_back(id);
        while inner.bytes > self.budget {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(d) = inner.chunks.remove(&old) {
                inner.bytes -= d.len();
            }
        }
    }

    pub fn get(&self, id: &ChunkId) -> Option<Bytes> {
        self.inner.lock().ok()?.chunks.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keeps_the_newest_within_budget() {
        let cache = RecentChunks::new(10);
        let chunk = |b: u8| (ChunkId::of(&[b; 4]), Bytes::from(vec![b; 4]));
        let (a, da) = chunk(1);
        let (b, db) = chunk(2);
        let (c, dc) = chunk(3);
        cache.insert(a, da.clone());
        cache.insert(b, db.clone());
        assert_eq!(cache.get(&a), Some(da));
        cache.insert(c, dc.clone());
        assert_eq!(cache.get(&a), None, "oldest dropped past the budget");
        assert_eq!(cache.get(&b), Some(db));
        assert_eq!(cache.get(&c), Some(dc));
        cache.insert(ChunkId::of(b"big"), Bytes::from(vec![0; 11]));
        assert!(cache.get(&c).is_some(), "an oversized chunk is not kept");
    }
}
