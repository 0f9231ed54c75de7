//! What the chunk store holds, counted as files come and go: chunk files and bytes per
//! 16-bit id prefix (65,536 slots, 1 MiB, whatever the store's size), so status and
//! metrics read counters instead of walking every chunk file. Placement groups are
//! leading bits of the id (at most 16), so a PG's usage is a sum of whole slots. A slot
//! is also one fan-out directory (`ab/cd`), so a slot can be recounted on its own.

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

/// The encoded form starts with this (and a version); a BLAKE3 hash of the rest ends it.
const MAGIC: &[u8; 8] = b"cairnuse";
const VERSION: u8 = 1;
const HASH: usize = 32;
const ROW: usize = 2 + 8 + 8;

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

    /// Sets slot `slot`'s counts (a recount of its directory).
    pub fn set(&self, slot: u16, files: u64, bytes: u64) {
        let slot = &self.slots[usize::from(slot)];
        slot.files.store(files, Ordering::Relaxed);
        slot.bytes.store(bytes, Ordering::Relaxed);
    }

    /// The counts as bytes: magic, version, `(slot, files, bytes)` of each slot that
    /// holds any, then a hash of all that.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        for (i, s) in self.slots.iter().enumerate() {
            let (files, bytes) = (
                s.files.load(Ordering::Relaxed),
                s.bytes.load(Ordering::Relaxed),
            );
            if files == 0 && bytes == 0 {
                continue;
            }
            out.extend_from_slice(&(i as u16).to_be_bytes());
            out.extend_from_slice(&files.to_be_bytes());
            out.extend_from_slice(&bytes.to_be_bytes());
        }
        let hash = blake3::hash(&out);
        out.extend_from_slice(hash.as_bytes());
        out
    }

    /// Counts from `encode`'s bytes; `None` if they are not that (torn, another
    /// version, flipped bits).
    pub fn decode(data: &[u8]) -> Option<Usage> {
        let (body, hash) = data.split_at_checked(data.len().checked_sub(HASH)?)?;
        let head = MAGIC.len() + 1;
        if blake3::hash(body).as_bytes() != hash
            || body.get(..MAGIC.len())? != MAGIC
            || body.get(MAGIC.len()) != Some(&VERSION)
            || !(body.len() - head).is_multiple_of(ROW)
        {
            return None;
        }
        let usage = Usage::default();
        for row in body[head..].chunks_exact(ROW) {
            let slot = u16::from_be_bytes(row[0..2].try_into().ok()?);
            let files = u64::from_be_bytes(row[2..10].try_into().ok()?);
            let bytes = u64::from_be_bytes(row[10..18].try_into().ok()?);
            usage.set(slot, files, bytes);
        }
        Some(usage)
    }

    /// Takes `other`'s counts as its own.
    pub fn replace_with(&self, other: &Usage) {
        for (mine, theirs) in self.slots.iter().zip(other.slots.iter()) {
            mine.files
                .store(theirs.files.load(Ordering::Relaxed), Ordering::Relaxed);
            mine.bytes
                .store(theirs.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        }
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
    #![allow(clippy::unwrap_used)]
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
        usage.set(0x0001, 5, 500);
        assert_eq!(usage.totals(), (7, 620));
    }

    #[test]
    fn encoded_counts_decode_to_the_same_and_damage_is_refused() {
        let usage = Usage::default();
        usage.set(0, 1, 10);
        usage.set(0xabcd, 7, 7 << 20);
        usage.set(0xffff, 2, 3);
        let bytes = usage.encode();
        let back = Usage::decode(&bytes).unwrap();
        assert_eq!(back.totals(), usage.totals());
        assert_eq!(
            back.bytes_by_leading_bits(16),
            usage.bytes_by_leading_bits(16)
        );
        assert_eq!(
            Usage::decode(&Usage::default().encode()).unwrap().totals(),
            (0, 0)
        );
        // Torn, flipped, empty, or of another version: not counts.
        assert!(Usage::decode(&bytes[..bytes.len() - 1]).is_none());
        for i in [0, 8, 9, 12, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(Usage::decode(&bad).is_none(), "byte {i} flipped");
        }
        assert!(Usage::decode(&[]).is_none());
        let mut other_version = bytes[..bytes.len() - HASH].to_vec();
        other_version[8] = 2;
        let hash = blake3::hash(&other_version);
        other_version.extend_from_slice(hash.as_bytes());
        assert!(Usage::decode(&other_version).is_none());
    }
}
