//! CRC combination: the CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `len(B)`, for
//! the reflected CRCs S3 uses as full-object checksums (CRC32, CRC32C, CRC64NVME;
//! each with all-ones init and final xor). This is how a multipart upload's
//! full-object checksum follows from its parts' checksums without reading the
//! data again. Polynomials are in reflected form, as zlib writes them.

/// A reflected CRC of `WIDTH` ≤ 64 bits with the polynomial `poly`.
#[derive(Clone, Copy, Debug)]
pub struct Crc {
    poly: u64,
    width: u32,
}

pub const CRC32: Crc = Crc {
    poly: 0xEDB8_8320,
    width: 32,
};
pub const CRC32C: Crc = Crc {
    poly: 0x82F6_3B78,
    width: 32,
};
pub const CRC64NVME: Crc = Crc {
    poly: 0x9A6C_9329_AC4B_C9B5,
    width: 64,
};

impl Crc {
    /// The polynomial 1 (x^0): the top bit in the reflected form.
    fn one(self) -> u64 {
        1 << (self.width - 1)
    }

    /// `a(x) · b(x) mod p(x)`.
    fn mul(self, a: u64, mut b: u64) -> u64 {
        let mut m = self.one();
        let mut product = 0;
        while m != 0 {
            if a & m != 0 {
                product ^= b;
            }
            m >>= 1;
            b = if b & 1 != 0 {
                (b >> 1) ^ self.poly
            } else {
                b >> 1
            };
        }
        product
    }

    /// `x^(8·len) mod p(x)`: the effect of appending `len` zero bytes.
    fn shift(self, mut len: u64) -> u64 {
        let mut result = self.one();
        // x^8, then squared for each further bit of `len`.
        let mut square = self.one() >> 8;
        while len != 0 {
            if len & 1 != 0 {
                result = self.mul(square, result);
            }
            square = self.mul(square, square);
            len >>= 1;
        }
        result
    }

    /// The CRC of `A ‖ B` given `crc(A)`, `crc(B)` and the length of `B`.
    pub fn combine(self, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
        self.mul(self.shift(len_b), crc_a) ^ crc_b
    }

    /// Combines `(crc, len)` of consecutive pieces into the CRC of them all.
    pub fn combine_all(self, pieces: impl IntoIterator<Item = (u64, u64)>) -> Option<u64> {
        let mut iter = pieces.into_iter();
        let (mut crc, _) = iter.next()?;
        for (next, len) in iter {
            crc = self.combine(crc, next, len);
        }
        Some(crc)
    }

    /// The digest's bytes (big-endian, as S3 encodes checksums) as a number.
    pub fn from_bytes(self, raw: &[u8]) -> Option<u64> {
        let n = (self.width / 8) as usize;
        (raw.len() == n).then(|| raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    pub fn to_bytes(self, crc: u64) -> Vec<u8> {
        let n = (self.width / 8) as usize;
        crc.to_be_bytes()[8 - n..].to_vec()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use s3s::checksum::ChecksumHasher;
    use s3s::crypto::{Crc32, Crc32c, Crc64Nvme};

    /// The raw CRCs of `data` as s3s computes them.
    fn crcs(data: &[u8]) -> [u64; 3] {
        use base64::Engine;
        let mut h = ChecksumHasher {
            crc32: Some(Crc32::default()),
            crc32c: Some(Crc32c::default()),
            crc64nvme: Some(Crc64Nvme::default()),
            ..Default::default()
        };
        h.update(data);
        let sum = h.finalize();
        let raw = |v: Option<String>, crc: Crc| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.unwrap())
                .unwrap();
            crc.from_bytes(&bytes).unwrap()
        };
        [
            raw(sum.checksum_crc32, CRC32),
            raw(sum.checksum_crc32c, CRC32C),
            raw(sum.checksum_crc64nvme, CRC64NVME),
        ]
    }

    #[test]
    fn combined_equals_whole() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = crcs(&data);
        for cuts in [
            vec![0usize, 1, 300_000],
            vec![0, 5, 65_536, 100_001, 300_000],
            vec![0, 150_000, 150_000, 300_000],
        ] {
            let pieces: Vec<(&[u8], [u64; 3])> = cuts
                .windows(2)
                .map(|w| (&data[w[0]..w[1]], crcs(&data[w[0]..w[1]])))
                .collect();
            for (i, crc) in [CRC32, CRC32C, CRC64NVME].into_iter().enumerate() {
                let combined = crc
                    .combine_all(pieces.iter().map(|(d, c)| (c[i], d.len() as u64)))
                    .unwrap();
                assert_eq!(combined, whole[i], "{crc:?} over cuts {cuts:?}");
            }
        }
    }

    #[test]
    fn bytes_round_trip() {
        assert_eq!(CRC32.to_bytes(0x0102_0304), vec![1, 2, 3, 4]);
        assert_eq!(CRC32.from_bytes(&[1, 2, 3, 4]), Some(0x0102_0304));
        assert_eq!(CRC64NVME.from_bytes(&[1, 2, 3, 4]), None);
        assert_eq!(CRC64NVME.to_bytes(5).len(), 8);
    }
}
