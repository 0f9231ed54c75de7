//! GetObjectAttributes: the attributes a client names in `x-amz-object-attributes`
//! (ETag, Checksum, ObjectParts, StorageClass, ObjectSize) from the object record,
//! with the parts of a multipart object paged by max-parts / part-number-marker.
//! Parts are listed by number and size; per-part checksums are not kept.

use super::meta::{etag, timestamp};
use crate::state::{Gateway, MAX_PART_NUMBER};
use cairn_node::records::ObjectRecord;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

const MAX_PARTS: i32 = 1000;

pub async fn get_object_attributes(
    gw: &Gateway,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let input = req.input;
    let mut wants = [false; 5];
    // One header line may name several attributes, comma-separated (the SDKs send
    // them so); s3s gives one item per line.
    let names = input
        .object_attributes
        .iter()
        .flat_map(|a| a.as_str().split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty());
    for name in names {
        let i = match name {
            "ETag" => 0,
            "Checksum" => 1,
            "ObjectParts" => 2,
            "StorageClass" => 3,
            "ObjectSize" => 4,
            other => {
                return Err(s3_error!(
                    InvalidArgument,
                    "Invalid attribute name specified: {other}"
                ))
            }
        };
        wants[i] = true;
    }
    if !wants.contains(&true) {
        return Err(s3_error!(
            InvalidArgument,
            "x-amz-object-attributes must name at least one attribute"
        ));
    }
    let max_parts = match input.max_parts {
        None => MAX_PARTS,
        Some(n) if n < 0 => {
            return Err(s3_error!(InvalidArgument, "max-parts must not be negative"))
        }
        Some(n) => n.min(MAX_PARTS),
    };
    let marker = match input.part_number_marker {
        None => 0,
        Some(n) if (0..=MAX_PART_NUMBER).contains(&n) => n,
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "part-number-marker must be an integer between 0 and 10000"
            ))
        }
    };
    let found =
        super::versions::find_version(gw, &input.bucket, &input.key, input.version_id.as_deref())
            .await?;
    let rec = found.record;
    let [want_etag, want_checksum, want_parts, want_class, want_size] = wants;
    Ok(S3Response::new(GetObjectAttributesOutput {
        e_tag: want_etag.then(|| etag(&rec.etag)),
        checksum: want_checksum.then(|| checksum(&rec)).flatten(),
        object_parts: want_parts
            .then(|| object_parts(&rec, max_parts, marker))
            .flatten(),
        storage_class: want_class.then(|| StorageClass::from_static(StorageClass::STANDARD)),
        object_size: want_size.then(|| i64::try_from(rec.size).ok()).flatten(),
        version_id: found.version_id,
        last_modified: Some(timestamp(rec.last_modified_ms)),
        ..Default::default()
    }))
}

/// The object's checksum and its type, when it has one.
fn checksum(rec: &ObjectRecord) -> Option<Checksum> {
    let c = &rec.checksums;
    let out = Checksum {
        checksum_crc32: c.crc32.clone(),
        checksum_crc32c: c.crc32c.clone(),
        checksum_crc64nvme: c.crc64nvme.clone(),
        checksum_sha1: c.sha1.clone(),
        checksum_sha256: c.sha256.clone(),
        checksum_type: c.kind.clone().map(Into::into),
    };
    (out != Checksum::default()).then_some(out)
}

/// The parts after `marker`, at most `max`, of an object from a multipart upload.
fn object_parts(rec: &ObjectRecord, max: i32, marker: i32) -> Option<GetObjectAttributesParts> {
    if rec.part_sizes.is_empty() {
        return None;
    }
    let total = i32::try_from(rec.part_sizes.len()).ok()?;
    let after: Vec<(i32, u64)> = (1..)
        .zip(rec.part_sizes.iter().copied())
        .filter(|(n, _)| *n > marker)
        .collect();
    let truncated = after.len() > max as usize;
    let parts: Vec<ObjectPart> = after
        .into_iter()
        .take(max as usize)
        .map(|(n, size)| ObjectPart {
            part_number: Some(n),
            size: i64::try_from(size).ok(),
            ..Default::default()
        })
        .collect();
    let next = parts
        .last()
        .and_then(|p| p.part_number)
        .filter(|_| truncated);
    Some(GetObjectAttributesParts {
        is_truncated: Some(truncated),
        max_parts: Some(max),
        next_part_number_marker: next,
        part_number_marker: Some(marker),
        parts: Some(parts),
        total_parts_count: Some(total),
    })
}
