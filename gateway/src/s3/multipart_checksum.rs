//! The additional checksum of a multipart upload: which algorithm and type
//! (`COMPOSITE`: a checksum of the parts' checksums, `-N`; `FULL_OBJECT`: the CRC of
//! the whole object, combined from the parts' CRCs) CreateMultipartUpload may name,
//! and the checksum the completed object gets, checked against what
//! CompleteMultipartUpload says it should be.

use crate::crc_combine::{self, Crc};
use base64::Engine;
use cairn_node::records::{Checksums, PartRecord, UploadRecord};
use s3s::checksum::ChecksumHasher;
use s3s::dto::{ChecksumAlgorithm, ChecksumType, CompleteMultipartUploadInput};
use s3s::{s3_error, S3Result};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The `UploadRecord::checksum_algorithm` value for a CreateMultipartUpload's
/// `x-amz-checksum-algorithm` and `x-amz-checksum-type`, refusing the pairs S3
/// refuses. The type defaults to COMPOSITE, and to FULL_OBJECT for CRC64NVME.
pub fn upload_checksum(
    algorithm: Option<&ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> S3Result<Option<String>> {
    let Some(algorithm) = algorithm else {
        if kind.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            ));
        }
        return Ok(None);
    };
    let algorithm = algorithm.as_str().to_ascii_uppercase();
    if !["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"].contains(&algorithm.as_str()) {
        return Err(s3_error!(
            InvalidRequest,
            "Checksum algorithm {algorithm} is not supported."
        ));
    }
    let kind = match kind.map(|k| k.as_str().to_ascii_uppercase()) {
        Some(k) => k,
        None if algorithm == "CRC64NVME" => ChecksumType::FULL_OBJECT.to_string(),
        None => ChecksumType::COMPOSITE.to_string(),
    };
    let allowed = match kind.as_str() {
        ChecksumType::COMPOSITE => algorithm != "CRC64NVME",
        ChecksumType::FULL_OBJECT => crc_of(&algorithm).is_some(),
        _ => {
            return Err(s3_error!(
                InvalidRequest,
                "Value for x-amz-checksum-type header is invalid."
            ))
        }
    };
    if !allowed {
        return Err(s3_error!(
            InvalidRequest,
            "The {kind} checksum type cannot be used with the {} checksum algorithm.",
            algorithm.to_ascii_lowercase()
        ));
    }
    Ok(Some(UploadRecord::checksum_spec(&algorithm, &kind)))
}

/// The CRC behind a full-object checksum algorithm.
fn crc_of(algorithm: &str) -> Option<Crc> {
    match algorithm {
        "CRC32" => Some(crc_combine::CRC32),
        "CRC32C" => Some(crc_combine::CRC32C),
        "CRC64NVME" => Some(crc_combine::CRC64NVME),
        _ => None,
    }
}

/// A checksum field of a record, by algorithm name.
fn field<'c>(c: &'c mut Checksums, algorithm: &str) -> Option<&'c mut Option<String>> {
    match algorithm {
        "CRC32" => Some(&mut c.crc32),
        "CRC32C" => Some(&mut c.crc32c),
        "CRC64NVME" => Some(&mut c.crc64nvme),
        "SHA1" => Some(&mut c.sha1),
        "SHA256" => Some(&mut c.sha256),
        _ => None,
    }
}

/// A part's value of `algorithm`, base64 as stored.
fn part_value<'p>(part: &'p PartRecord, algorithm: &str) -> Option<&'p str> {
    let c = &part.checksums;
    match algorithm {
        "CRC32" => c.crc32.as_deref(),
        "CRC32C" => c.crc32c.as_deref(),
        "CRC64NVME" => c.crc64nvme.as_deref(),
        "SHA1" => c.sha1.as_deref(),
        "SHA256" => c.sha256.as_deref(),
        _ => None,
    }
}

/// The composite checksum `base64(H(raw part checksums))-N`, when every part has one.
fn composite(algorithm: &str, parts: &[&PartRecord]) -> Option<String> {
    let mut hasher = ChecksumHasher::default();
    match algorithm {
        "CRC32" => hasher.crc32 = Some(Default::default()),
        "CRC32C" => hasher.crc32c = Some(Default::default()),
        "SHA1" => hasher.sha1 = Some(Default::default()),
        "SHA256" => hasher.sha256 = Some(Default::default()),
        _ => return None,
    }
    for p in parts {
        hasher.update(&B64.decode(part_value(p, algorithm)?).ok()?);
    }
    let sum = hasher.finalize();
    let value = [
        sum.checksum_crc32,
        sum.checksum_crc32c,
        sum.checksum_sha1,
        sum.checksum_sha256,
    ]
    .into_iter()
    .flatten()
    .next()?;
    Some(format!("{value}-{}", parts.len()))
}

/// The full-object CRC of the parts in order, when every part has its CRC.
fn full_object(algorithm: &str, parts: &[&PartRecord]) -> Option<String> {
    let crc = crc_of(algorithm)?;
    let mut pieces = Vec::with_capacity(parts.len());
    for p in parts {
        let raw = B64.decode(part_value(p, algorithm)?).ok()?;
        pieces.push((crc.from_bytes(&raw)?, p.size));
    }
    Some(B64.encode(crc.to_bytes(crc.combine_all(pieces)?)))
}

/// The checksum of the object completed from `parts`, by the upload's algorithm
/// and type; none when the upload named none (or a part lacks its value).
pub fn object_checksums(upload: &UploadRecord, parts: &[&PartRecord]) -> Checksums {
    let mut out = Checksums::default();
    let Some((algorithm, kind)) = upload.checksum() else {
        return out;
    };
    let value = if kind == ChecksumType::FULL_OBJECT {
        full_object(algorithm, parts)
    } else {
        composite(algorithm, parts)
    };
    if let (Some(value), Some(slot)) = (value, field(&mut out, algorithm)) {
        *slot = Some(value);
        out.kind = Some(kind.to_string());
    }
    out
}

/// Checks what CompleteMultipartUpload asserts about the object: its checksum type,
/// its full-object checksum, its size (`x-amz-mp-object-size`).
pub fn check_complete(
    input: &CompleteMultipartUploadInput,
    upload: &UploadRecord,
    computed: &Checksums,
    size: u64,
) -> S3Result<()> {
    let kind = upload.checksum().map(|(_, k)| k);
    if let Some(asked) = &input.checksum_type {
        if kind != Some(asked.as_str()) {
            return Err(s3_error!(
                InvalidRequest,
                "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
                kind.unwrap_or("null")
            ));
        }
    }
    if let Some(n) = input.mpu_object_size {
        if u64::try_from(n).ok() != Some(size) {
            return Err(s3_error!(
                InvalidRequest,
                "The provided 'x-amz-mp-object-size' header value {n} does not match what was computed: {size}"
            ));
        }
    }
    let given = [
        ("CRC32", &input.checksum_crc32, &computed.crc32),
        ("CRC32C", &input.checksum_crc32c, &computed.crc32c),
        ("CRC64NVME", &input.checksum_crc64nvme, &computed.crc64nvme),
        ("SHA1", &input.checksum_sha1, &computed.sha1),
        ("SHA256", &input.checksum_sha256, &computed.sha256),
    ];
    for (name, given, computed) in given {
        let Some(given) = given else { continue };
        // A composite value may be sent with or without its `-N`.
        let matches = computed.as_deref().is_some_and(|c| {
            c == given.trim() || c.split_once('-').is_some_and(|(v, _)| v == given.trim())
        });
        if !matches {
            return Err(s3_error!(
                BadDigest,
                "The {name} you specified did not match the calculated checksum."
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn alg(s: &'static str) -> ChecksumAlgorithm {
        ChecksumAlgorithm::from_static(s)
    }

    #[test]
    fn upload_checksum_pairs() {
        let full = ChecksumType::from_static(ChecksumType::FULL_OBJECT);
        let comp = ChecksumType::from_static(ChecksumType::COMPOSITE);
        let ok = |a, t: Option<&ChecksumType>| upload_checksum(Some(&alg(a)), t).unwrap();
        assert_eq!(ok("CRC32", None).as_deref(), Some("CRC32/COMPOSITE"));
        assert_eq!(
            ok("CRC64NVME", None).as_deref(),
            Some("CRC64NVME/FULL_OBJECT")
        );
        assert_eq!(
            ok("CRC32C", Some(&full)).as_deref(),
            Some("CRC32C/FULL_OBJECT")
        );
        assert_eq!(ok("SHA1", Some(&comp)).as_deref(), Some("SHA1/COMPOSITE"));
        assert!(upload_checksum(Some(&alg("SHA256")), Some(&full)).is_err());
        assert!(upload_checksum(Some(&alg("CRC64NVME")), Some(&comp)).is_err());
        assert!(upload_checksum(None, Some(&full)).is_err());
        assert!(upload_checksum(Some(&alg("MD5")), None).is_err());
        assert_eq!(upload_checksum(None, None).unwrap(), None);
    }
}
