//! CopyObject, and the copy-source lookup UploadPartCopy shares (any version of
//! the source). A copy of a whole object shares the source's chunks (nothing is
//! rewritten, only the record); in a versioned bucket it is a new version.

use super::error::OrS3;
use super::get::{copy_source_conditions, ReadConditions};
use super::meta::{check_key, etag, fill_checksums, object_meta_from, timestamp};
use super::object_lock::requested_lock;
use super::versions::find_version;
use crate::chunker::Pins;
use crate::state::{Gateway, MAX_PUT_SIZE};
use cairn_node::records::{ObjectRecord, WriteCondition};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

/// Reads the source object of a copy (the version it names, or the newest),
/// checking the `x-amz-copy-source-if-*` headers. Returns the source's version id.
pub async fn copy_source(
    gw: &Gateway,
    source: &CopySource,
    conditions: ReadConditions<'_>,
) -> S3Result<(ObjectRecord, Option<String>)> {
    let (bucket, key, version_id) = match source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => (bucket.to_string(), key.to_string(), version_id.as_deref()),
        _ => {
            return Err(s3_error!(
                NotImplemented,
                "only bucket/key copy sources are supported"
            ))
        }
    };
    let found = find_version(gw, &bucket, &key, version_id).await?;
    conditions.check(&found.record, true)?;
    Ok((found.record, found.version_id))
}

pub async fn copy_object(
    gw: &Gateway,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    // A copy's ACL is the request's (private by default), never the source's.
    let writer = crate::auth::requester(&req.extensions);
    let acl = super::acl::for_write(gw, &req.input.bucket, &req.headers, writer).await?;
    let input = req.input;
    check_key(&input.key)?;
    let (src, src_version) =
        copy_source(gw, &input.copy_source, copy_source_conditions!(input)).await?;
    let lock = requested_lock(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    if src.size > MAX_PUT_SIZE {
        return Err(s3_error!(
            InvalidRequest,
            "copy sources over 5 GiB need UploadPartCopy"
        ));
    }
    let replace_meta = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == "REPLACE");
    let replace_tags = input
        .tagging_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == "REPLACE");
    let same_object = matches!(&input.copy_source, CopySource::Bucket { bucket, key, version_id }
        if **bucket == *input.bucket && **key == *input.key && version_id.is_none());
    if same_object && !replace_meta {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata."
        ));
    }
    let mut meta = src.meta.clone();
    let new_meta = object_meta_from!(input);
    if replace_meta {
        meta.headers = new_meta.headers;
        meta.user = new_meta.user;
    }
    if replace_tags {
        meta.tags = new_meta.tags;
    }
    meta.set_acl(acl);
    // Keep the shared chunks from being collected (pinned) while the new record
    // commits.
    gw.node
        .retain_chunks(src.data.chunks().iter().map(|c| c.id).collect())
        .await
        .or_s3()?;
    let record = ObjectRecord {
        last_modified_ms: cairn_node::now_ms(),
        meta,
        ..src
    };
    let mut result = CopyObjectResult {
        e_tag: Some(etag(&record.etag)),
        last_modified: Some(timestamp(record.last_modified_ms)),
        checksum_type: record.checksums.kind.clone().map(Into::into),
        ..Default::default()
    };
    fill_checksums!(result, record.checksums);
    let pins = Pins::of(record.data.chunks());
    let committed = gw
        .node
        .put_object(
            input.bucket,
            input.key,
            record,
            WriteCondition::Always,
            lock,
        )
        .await;
    pins.release(gw);
    let version_id = committed.or_s3()?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(result),
        version_id,
        copy_source_version_id: src_version,
        ..Default::default()
    }))
}
