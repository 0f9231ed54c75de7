//! The set of referenced chunk ids, in bounded memory, for garbage collection: a Bloom
//! filter. It never forgets an id it was given (no false negatives), so a chunk it
//! does not contain is certainly unreferenced; an unreferenced chunk it wrongly claims
//! (a false positive) is only kept until a later pass, whose filter uses another salt.
//! Its size is fixed before the ids are added, so memory does not grow with the store.

use crate::ids::ChunkId;
use serde::{Deserialize, Serialize};

/// Probes per id.
const HASHES: u64 = 8;
/// The smallest filter, in 64-bit words.
const MIN_WORDS: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefFilter {
    words: Vec<u64>,
    salt: u64,
}

impl RefFilter {
    /// A filter of `bytes` (rounded down to a power of two, at least 512); probes are
    /// derived from the ids with `salt`. ~12 bits per id keep false positives near
    /// 0.3%; fewer only leave more garbage for later passes.
    pub fn with_bytes(bytes: usize, salt: u64) -> RefFilter {
        let words = (bytes / 8).max(MIN_WORDS);
        let words = 1usize << (usize::BITS - 1 - words.leading_zeros());
        RefFilter {
            words: vec![0; words],
            salt,
        }
    }

    /// The filter's size in bytes.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    pub fn insert(&mut self, id: &ChunkId) {
        if self.words.is_empty() {
            return;
        }
        let mask = self.words.len() as u64 * 64 - 1;
        for bit in probes(id, self.salt) {
            let bit = bit & mask;
            self.words[(bit >> 6) as usize] |= 1 << (bit & 63);
        }
    }

    /// False only if `id` was never inserted.
    pub fn may_contain(&self, id: &ChunkId) -> bool {
        // Not a power of two (a filter from the wire is not trusted): claim all.
        if !self.words.len().is_power_of_two() {
            return true;
        }
        let mask = self.words.len() as u64 * 64 - 1;
        probes(id, self.salt).all(|bit| {
            let bit = bit & mask;
            self.words[(bit >> 6) as usize] & (1 << (bit & 63)) != 0
        })
    }
}

/// `HASHES` bit positions for `id` by double hashing. Chunk ids are BLAKE3 hashes,
/// so their bytes are already uniform; the salt is mixed in so that each pass's
/// false positives are different ids.
fn probes(id: &ChunkId, salt: u64) -> impl Iterator<Item = u64> {
    let b = &id.0;
    let word = |i: usize| {
        u64::from_le_bytes([
            b[i],
            b[i + 1],
            b[i + 2],
            b[i + 3],
            b[i + 4],
            b[i + 5],
            b[i + 6],
            b[i + 7],
        ])
    };
    let h1 = mix(word(0) ^ salt);
    let h2 = mix(word(8) ^ salt.rotate_left(32)) | 1;
    (0..HASHES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)))
}

/// splitmix64's finaliser.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ChunkId {
        ChunkId::of(&n.to_le_bytes())
    }

    #[test]
    fn never_forgets_and_rarely_claims() {
        let mut filter = RefFilter::with_bytes(16 * 1024, 7);
        for n in 0..10_000 {
            filter.insert(&id(n));
        }
        assert!((0..10_000).all(|n| filter.may_contain(&id(n))));
        let false_positives = (10_000..110_000)
            .filter(|&n| filter.may_contain(&id(n)))
            .count();
        // 13 bits per id: ~0.2% expected.
        assert!(false_positives < 1_000, "{false_positives} of 100000");
    }

    #[test]
    fn size_is_capped_and_a_full_filter_still_never_forgets() {
        let mut filter = RefFilter::with_bytes(6000, 1);
        assert_eq!(filter.bytes(), 4096);
        for n in 0..20_000 {
            filter.insert(&id(n));
        }
        assert!((0..20_000).all(|n| filter.may_contain(&id(n))));
    }

    #[test]
    fn another_salt_gives_other_false_positives() {
        let fill = |salt| {
            let mut f = RefFilter::with_bytes(512, salt);
            for n in 0..400 {
                f.insert(&id(n));
            }
            f
        };
        let (a, b) = (fill(1), fill(2));
        let claimed = |f: &RefFilter| {
            (1_000..3_000)
                .filter(|&n| f.may_contain(&id(n)))
                .collect::<Vec<_>>()
        };
        let (ca, cb) = (claimed(&a), claimed(&b));
        assert!(!ca.is_empty(), "a tiny full filter claims some ids");
        let both = ca.iter().filter(|n| cb.contains(n)).count();
        assert!(
            both < ca.len(),
            "every false positive repeated under a new salt"
        );
    }
}
