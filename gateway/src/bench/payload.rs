//! Object payloads: one random pool made once, every body a zero-copy view of it.
//!
//! Object `i` is the pool from offset `off(i)` (objects get disjoint regions while
//! `objects × size` fits in [`POOL_BUDGET`], pseudo-random 8-byte-aligned offsets
//! beyond that), with the first 8 bytes of each MiB of the object replaced by the
//! object's index stamp. Every object's content is therefore distinct and
//! incompressible, so neither deduplication nor compression can shortcut a write.
//! Bodies are streams of `Bytes` slices of the pool and of a stamp table: no
//! per-request allocation or copy.

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Largest pool made to give each object a disjoint region (unless one object alone
/// is larger).
pub const POOL_BUDGET: u64 = 256 << 20;
/// A stamp starts every `STAMP_EVERY` bytes of an object.
pub const STAMP_EVERY: u64 = 1 << 20;
const STAMP_LEN: u64 = 8;

/// The payload source of a run: `objects` objects of `size` bytes each.
pub struct Payload {
    pool: Bytes,
    stamps: Bytes,
    size: u64,
    objects: u64,
    /// How far an object's start may move in the pool.
    span: u64,
    disjoint: bool,
}

impl Payload {
    /// Generates the pool (fast non-cryptographic RNG seeded with `seed`).
    pub fn new(size: u64, objects: u64, seed: u64) -> Self {
        let objects = objects.max(1);
        let (pool_len, span, disjoint) = match objects.checked_mul(size) {
            Some(total) if total <= POOL_BUDGET.max(size) => (total, 0, true),
            _ => {
                let span = POOL_BUDGET.saturating_sub(size).max(STAMP_EVERY);
                (size + span, span, false)
            }
        };
        let mut rng = WyRand(seed);
        let mut pool = vec![0u8; usize::try_from(pool_len).unwrap_or(usize::MAX)];
        let mut words = pool.chunks_exact_mut(8);
        for w in &mut words {
            w.copy_from_slice(&rng.next().to_le_bytes());
        }
        let rest = words.into_remainder();
        let last = rng.next().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);

        let mut stamps = Vec::with_capacity(usize::try_from(objects * STAMP_LEN).unwrap_or(0));
        for i in 0..objects {
            // The index, with the seed mixed in so runs with the same keys differ.
            stamps.extend_from_slice(&(i ^ seed.rotate_left(32)).to_le_bytes());
        }
        Payload {
            pool: Bytes::from(pool),
            stamps: Bytes::from(stamps),
            size,
            objects,
            span,
            disjoint,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn offset(&self, obj: u64) -> u64 {
        let obj = obj % self.objects;
        if self.disjoint {
            obj * self.size
        } else {
            (mix(obj) % (self.span / 8 + 1)) * 8
        }
    }

    /// The whole of object `obj`.
    pub fn body(&self, obj: u64) -> ObjectBody {
        self.range(obj, 0, self.size)
    }

    /// Bytes `start..end` of object `obj` (for a part of a multipart upload).
    pub fn range(&self, obj: u64, start: u64, end: u64) -> ObjectBody {
        let off = to_usize(self.offset(obj));
        let s = to_usize((obj % self.objects) * STAMP_LEN);
        ObjectBody {
            object: self.pool.slice(off..off + to_usize(self.size)),
            stamp: self.stamps.slice(s..s + to_usize(STAMP_LEN)),
            pos: start.min(self.size),
            end: end.min(self.size),
        }
    }

    /// Byte `pos` of object `obj` (for checks).
    pub fn byte_at(&self, obj: u64, pos: u64) -> u8 {
        let seg = pos % STAMP_EVERY;
        if seg < STAMP_LEN {
            let s = to_usize((obj % self.objects) * STAMP_LEN + seg);
            self.stamps[s]
        } else {
            self.pool[to_usize(self.offset(obj) + pos)]
        }
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// splitmix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// wyrand: a fast 64-bit generator, plenty for incompressible filler.
pub struct WyRand(pub u64);

impl WyRand {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform-ish in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A request body over (part of) one object: yields the stamp and the pool slices in
/// turn, each frame a `Bytes` view (no copy).
pub struct ObjectBody {
    object: Bytes,
    stamp: Bytes,
    pos: u64,
    end: u64,
}

impl ObjectBody {
    pub fn len(&self) -> u64 {
        self.end - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    fn next_frame(&mut self) -> Option<Bytes> {
        if self.pos >= self.end {
            return None;
        }
        let seg = self.pos % STAMP_EVERY;
        let frame = if seg < STAMP_LEN {
            let n = (STAMP_LEN - seg).min(self.end - self.pos);
            self.stamp.slice(to_usize(seg)..to_usize(seg + n))
        } else {
            let n = (STAMP_EVERY - seg).min(self.end - self.pos);
            self.object
                .slice(to_usize(self.pos)..to_usize(self.pos + n))
        };
        self.pos += frame.len() as u64;
        Some(frame)
    }
}

impl http_body::Body for ObjectBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().next_frame().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end - self.pos)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn collect(mut b: ObjectBody) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(f) = b.next_frame() {
            assert!(!f.is_empty());
            out.extend_from_slice(&f);
        }
        out
    }

    #[test]
    fn bodies_are_distinct_and_consistent() {
        let size = 3 * STAMP_EVERY + 100;
        let p = Payload::new(size, 4, 7);
        let a = collect(p.body(0));
        let b = collect(p.body(1));
        assert_eq!(a.len() as u64, size);
        assert_ne!(a, b);
        for pos in [
            0,
            5,
            8,
            9,
            STAMP_EVERY,
            STAMP_EVERY + 7,
            STAMP_EVERY + 8,
            size - 1,
        ] {
            assert_eq!(a[pos as usize], p.byte_at(0, pos));
            assert_eq!(b[pos as usize], p.byte_at(1, pos));
        }
        // Every MiB starts with the object's stamp.
        assert_eq!(a[..8], a[STAMP_EVERY as usize..STAMP_EVERY as usize + 8]);
        // Ranges put together give the whole object.
        let mut parts = collect(p.range(2, 0, STAMP_EVERY + 3));
        parts.extend(collect(p.range(2, STAMP_EVERY + 3, size)));
        assert_eq!(parts, collect(p.body(2)));
    }

    #[test]
    fn small_and_overlapping_pools() {
        let p = Payload::new(4, 3, 1);
        assert_eq!(collect(p.body(0)).len(), 4);
        assert_ne!(collect(p.body(0)), collect(p.body(1)));
        // Many objects past the budget share one pool at different offsets.
        let p = Payload::new(1 << 20, 1000, 1);
        assert_ne!(collect(p.body(3)), collect(p.body(4)));
        assert_eq!(collect(p.body(999)).len(), 1 << 20);
        let p = Payload::new(0, 1, 1);
        assert!(collect(p.body(0)).is_empty());
    }
}
