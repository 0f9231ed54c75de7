//! GetObject and HeadObject: any version, conditional requests, ranges, part
//! numbers, response header overrides, and streaming the bytes out of their chunks.

use super::error::{invalid_part_number, OrS3};
use super::meta::{etag_matches, fill_object_output, millis};
use super::versions::{fill_version_output, find_version};
use crate::reader::object_stream;
use crate::state::{Gateway, MAX_PART_NUMBER};
use cairn_node::records::ObjectRecord;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};
use std::ops::Range as ByteRange;

/// The `If-*` headers of a read (or of a copy's source).
pub struct ReadConditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

impl ReadConditions<'_> {
    /// Checks the conditions against the object. A failed `If-None-Match` or
    /// `If-Modified-Since` is 304 Not Modified on a read, 412 on a copy's source.
    pub fn check(&self, rec: &ObjectRecord, for_copy: bool) -> S3Result<()> {
        let modified_s = rec.last_modified_ms / 1000;
        let secs = |t: &Timestamp| millis(t) / 1000;
        if let Some(m) = self.if_match {
            if !etag_matches(m, &rec.etag) {
                return Err(s3_error!(PreconditionFailed));
            }
        } else if let Some(t) = self.if_unmodified_since {
            if modified_s > secs(t) {
                return Err(s3_error!(PreconditionFailed));
            }
        }
        let not_modified = match (self.if_none_match, self.if_modified_since) {
            (Some(m), _) => etag_matches(m, &rec.etag),
            (None, Some(t)) => modified_s <= secs(t),
            (None, None) => false,
        };
        if not_modified {
            return Err(if for_copy {
                s3_error!(PreconditionFailed)
            } else {
                s3_error!(NotModified)
            });
        }
        Ok(())
    }
}

/// The `If-*` conditions of a GetObject/HeadObject input.
macro_rules! read_conditions {
    ($input:expr) => {
        $crate::s3::get::ReadConditions {
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
        }
    };
}

/// The `x-amz-copy-source-if-*` conditions of a CopyObject/UploadPartCopy input.
macro_rules! copy_source_conditions {
    ($input:expr) => {
        $crate::s3::get::ReadConditions {
            if_match: $input.copy_source_if_match.as_ref(),
            if_none_match: $input.copy_source_if_none_match.as_ref(),
            if_modified_since: $input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $input.copy_source_if_unmodified_since.as_ref(),
        }
    };
}
pub(crate) use copy_source_conditions;

/// The byte range a read asks for, by `Range` or by `partNumber` (the bytes of
/// that part of a multipart object; part 1 of any other object is all of it).
fn requested_range(
    rec: &ObjectRecord,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<Option<ByteRange<u64>>> {
    match (range, part_number) {
        (Some(_), Some(_)) => Err(s3_error!(InvalidRequest, "Range and partNumber together")),
        (Some(r), None) => Ok(Some(r.check(rec.size)?)),
        (None, Some(n)) => {
            if !(1..=MAX_PART_NUMBER).contains(&n) {
                return Err(s3_error!(
                    InvalidArgument,
                    "Part number must be an integer between 1 and 10000, inclusive"
                ));
            }
            let sizes: &[u64] = if rec.part_sizes.is_empty() {
                std::slice::from_ref(&rec.size)
            } else {
                &rec.part_sizes
            };
            let idx = (n - 1) as usize;
            if idx >= sizes.len() {
                return Err(invalid_part_number());
            }
            let start: u64 = sizes[..idx].iter().sum();
            Ok(Some(start..start + sizes[idx]))
        }
        (None, None) => Ok(None),
    }
}

/// The `Content-Range` of a ranged read; none for an empty read of an empty
/// object (`partNumber=1` of a 0-byte object is a plain 200).
fn content_range(r: &ByteRange<u64>, size: u64) -> Option<String> {
    if size == 0 {
        return None;
    }
    if r.is_empty() {
        return Some(format!("bytes */{size}"));
    }
    Some(format!("bytes {}-{}/{}", r.start, r.end - 1, size))
}

macro_rules! apply_response_overrides {
    ($out:expr, $input:expr) => {{
        let i = &$input;
        if let Some(v) = &i.response_content_type {
            $out.content_type = Some(v.clone());
        }
        if let Some(v) = &i.response_content_encoding {
            $out.content_encoding = Some(v.clone());
        }
        if let Some(v) = &i.response_content_disposition {
            $out.content_disposition = Some(v.clone());
        }
        if let Some(v) = &i.response_content_language {
            $out.content_language = Some(v.clone());
        }
        if let Some(v) = &i.response_cache_control {
            $out.cache_control = Some(v.clone());
        }
        if let Some(v) = &i.response_expires {
            $out.expires = Some(v.clone());
        }
    }};
}

pub async fn get_object(
    gw: &Gateway,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    if let Some(out) = super::veeam::get(gw, &input.bucket, &input.key).await? {
        return Ok(S3Response::new(out));
    }
    let found = find_version(gw, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    let rec = &found.record;
    read_conditions!(input).check(rec, false)?;
    let range = requested_range(rec, input.range.as_ref(), input.part_number)?;

    let mut out = GetObjectOutput::default();
    let with_checksums = input.checksum_mode.is_some() && range.is_none();
    fill_object_output!(out, rec, with_checksums);
    apply_response_overrides!(out, input);
    fill_version_output!(out, found);
    out.tag_count = i32::try_from(rec.meta.tags.len()).ok().filter(|n| *n > 0);
    let bytes = match range {
        Some(r) => {
            out.content_range = content_range(&r, rec.size);
            r
        }
        None => 0..rec.size,
    };
    out.content_length = i64::try_from(bytes.end - bytes.start).ok();
    let stream = object_stream(gw, found.record.data, bytes)
        .first_piece()
        .await
        .or_s3()?;
    out.body = Some(StreamingBlob::wrap(stream));
    Ok(S3Response::new(out))
}

pub async fn head_object(
    gw: &Gateway,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    if let Some(out) = super::veeam::head(gw, &input.bucket, &input.key).await? {
        return Ok(S3Response::new(out));
    }
    let found = find_version(gw, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    let rec = &found.record;
    read_conditions!(input).check(rec, false)?;
    let range = requested_range(rec, input.range.as_ref(), input.part_number)?;
    let mut out = HeadObjectOutput::default();
    let with_checksums = input.checksum_mode.is_some() && range.is_none();
    fill_object_output!(out, rec, with_checksums);
    apply_response_overrides!(out, input);
    fill_version_output!(out, found);
    let len = match &range {
        Some(r) => {
            out.content_range = content_range(r, rec.size);
            r.end - r.start
        }
        None => rec.size,
    };
    out.content_length = i64::try_from(len).ok();
    // The server answers a HEAD with Content-Range 206 (s3s leaves HEAD at 200).
    Ok(S3Response::new(out))
}
