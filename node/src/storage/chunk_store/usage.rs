//! What the chunk store holds, counted as files come and go: chunk files and bytes per
//! 16-bit id prefix (65,536 slots, 1 MiB, whatever the store's size), so status and
//! metrics read counters instead of walking every chunk file. Placement groups are
//! leading bits of the id (at most 16), so a PG's usage is a sum of whole slots.

use crate::ids::ChunkId;
use std::sync::atomic::{AtomicU64, Ordering};

const SLOTS: usize = 1 << 16;

#[derive(Default)]
struct Slot {
    files: AtomicU64,
    bytes: AtomicU64,
}

pub struct Usage {
    slots: Box<[Slot]>,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        }
    }
}

fn slot_of(id: &ChunkId) -> usize {
    usize::from(u16::from_be_bytes([id.0[0], id.0[1]]))
}

impl Usage {
    pub fn add(&self, id: &ChunkId, len: u64) {
        let slot = &self.slots[slot_of(id)];
        slot.files.fetch_add(1, Ordering::Relaxed);
        slot.bytes.fetch_add(len, Ordering::Relaxed);
    }

    pub fn remove(&self, id: &ChunkId, len: u64) {
        let slot = &self.slots[slot_of(id)];
        // Saturating: a file counted twice by racing writers must not wrap.
        let _ = slot
            .files
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
        let _ = slot
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(len))
            });
    }

    /// (files, bytes) in the whole store.
    pub fn totals(&self) -> (u64, u64) {
        self.slots.iter().fold((0, 0), |(f, b), s| {
            (
                f + s.files.load(Ordering::Relaxed),
                b + s.bytes.load(Ordering::Relaxed),
            )
        })
    }

    /// Bytes per group of ids that share their leading `bits` bits (≤ 16), for the
    /// groups that hold any: `(leading bits as a number, bytes)`.
    pub fn bytes_by_leading_bits(&self, bits: u32) -> Vec<(u32, u64)> {
        let bits = bits.min(16);
        let mut out: Vec<(u32, u64)> = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            let bytes = s.bytes.load(Ordering::Relaxed);
            if bytes == 0 && s.files.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let group = (i as u32) >> (16 - bits);
            match out.last_mut() {
                Some((g, b)) if *g == group => *b += bytes,
                _ => out.push((group, bytes)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_adds_and_removes_and_group_by_leading_bits() {
        let usage = Usage::default();
        let id = |a: u8, b: u8| {
            let mut raw = [0u8; 32];
            raw[0] = a;
            raw[1] = b;
            ChunkId(raw)
        };
        usage.add(&id(0x00, 0x01), 10);
        usage.add(&id(0x7f, 0xff), 20);
        usage.add(&id(0x80, 0x00), 40);
        usage.add(&id(0xff, 0x00), 80);
        assert_eq!(usage.totals(), (4, 150));
        assert_eq!(usage.bytes_by_leading_bits(1), vec![(0, 30), (1, 120)]);
        assert_eq!(usage.bytes_by_leading_bits(0), vec![(0, 150)]);
        usage.remove(&id(0x7f, 0xff), 20);
        usage.remove(&id(0x7f, 0xff), 20);
        assert_eq!(usage.totals(), (3, 130));
        assert_eq!(
            usage.bytes_by_leading_bits(16),
            vec![(0x0001, 10), (0x8000, 40), (0xff00, 80)]
        );
    }
}
