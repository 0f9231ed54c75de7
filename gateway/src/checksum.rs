//! Body digests: the MD5 behind the ETag and `Content-MD5`, and the S3 additional
//! checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) a client asks for in headers
//! or aws-chunked trailers. Computed while the body streams, verified at its end.

use base64::Engine;
use cairn_node::records::Checksums;
use http::HeaderMap;
use md5::{Digest, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::{Checksum, ChecksumAlgorithm};
use s3s::{s3_error, S3Result};

const NAMES: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// What the client said the body's digests are.
#[derive(Default, Debug, Clone)]
pub struct Expected {
    /// Base64 `Content-MD5`.
    pub content_md5: Option<String>,
    /// Values given in headers.
    pub checksum: Checksum,
    /// Algorithms to compute even without a value (named by the SDK, or announced
    /// for a trailer).
    pub algorithms: Vec<String>,
}

impl Expected {
    /// Reads the announced algorithms from `x-amz-sdk-checksum-algorithm` and
    /// `x-amz-trailer` as well as the given explicit algorithm.
    pub fn from_request(
        headers: &HeaderMap,
        algorithm: Option<&ChecksumAlgorithm>,
        content_md5: Option<String>,
        checksum: Checksum,
    ) -> Self {
        let mut algorithms = Vec::new();
        if let Some(a) = algorithm {
            algorithms.push(a.as_str().to_ascii_lowercase());
        }
        for name in ["x-amz-sdk-checksum-algorithm", "x-amz-trailer"] {
            if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                for part in v.split(',') {
                    let part = part.trim().to_ascii_lowercase();
                    algorithms.push(part.trim_start_matches("x-amz-checksum-").to_string());
                }
            }
        }
        algorithms.retain(|a| NAMES.contains(&a.as_str()));
        Expected {
            content_md5,
            checksum,
            algorithms,
        }
    }
}

/// Hashes a body as it streams.
pub struct BodyHasher {
    md5: Md5,
    sums: ChecksumHasher,
}

/// The digests of a whole body.
#[derive(Debug, Clone)]
pub struct Digests {
    pub md5: [u8; 16],
    pub checksums: Checksums,
}

impl BodyHasher {
    pub fn new(expected: &Expected) -> Self {
        let wants = |name: &str, given: &Option<String>| {
            given.is_some() || expected.algorithms.iter().any(|a| a == name)
        };
        let c = &expected.checksum;
        let sums = ChecksumHasher {
            crc32: wants("crc32", &c.checksum_crc32).then(Crc32::default),
            crc32c: wants("crc32c", &c.checksum_crc32c).then(Crc32c::default),
            crc64nvme: wants("crc64nvme", &c.checksum_crc64nvme).then(Crc64Nvme::default),
            sha1: wants("sha1", &c.checksum_sha1).then(Sha1::default),
            sha256: wants("sha256", &c.checksum_sha256).then(Sha256::default),
        };
        BodyHasher {
            md5: Md5::new(),
            sums,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.sums.update(data);
    }

    /// Finishes hashing and checks every value the client gave, in headers or in
    /// the trailers that followed the body.
    pub fn verify(self, expected: &Expected, trailers: Option<&HeaderMap>) -> S3Result<Digests> {
        let md5: [u8; 16] = self.md5.finalize().into();
        if let Some(given) = &expected.content_md5 {
            let given = base64::engine::general_purpose::STANDARD
                .decode(given.trim())
                .map_err(|_| s3_error!(InvalidDigest))?;
            if given != md5 {
                return Err(s3_error!(BadDigest, "Content-MD5 does not match the body"));
            }
        }
        let got = self.sums.finalize();
        let trailer = |name: &str| {
            trailers
                .and_then(|t| t.get(format!("x-amz-checksum-{name}")))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let c = &expected.checksum;
        let pairs = [
            ("crc32", &c.checksum_crc32, &got.checksum_crc32),
            ("crc32c", &c.checksum_crc32c, &got.checksum_crc32c),
            ("crc64nvme", &c.checksum_crc64nvme, &got.checksum_crc64nvme),
            ("sha1", &c.checksum_sha1, &got.checksum_sha1),
            ("sha256", &c.checksum_sha256, &got.checksum_sha256),
        ];
        for (name, given, computed) in pairs {
            let given = given.clone().or_else(|| trailer(name));
            if let (Some(given), Some(computed)) = (given, computed) {
                if given.trim() != computed {
                    return Err(s3_error!(
                        BadDigest,
                        "The {} you specified did not match the calculated checksum.",
                        name.to_ascii_uppercase()
                    ));
                }
            }
        }
        let any = got.checksum_crc32.is_some()
            || got.checksum_crc32c.is_some()
            || got.checksum_crc64nvme.is_some()
            || got.checksum_sha1.is_some()
            || got.checksum_sha256.is_some();
        Ok(Digests {
            md5,
            checksums: Checksums {
                crc32: got.checksum_crc32,
                crc32c: got.checksum_crc32c,
                crc64nvme: got.checksum_crc64nvme,
                sha1: got.checksum_sha1,
                sha256: got.checksum_sha256,
                kind: any.then(|| "FULL_OBJECT".to_string()),
            },
        })
    }
}
