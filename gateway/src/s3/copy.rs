//! CopyObject, and the copy-source lookup UploadPartCopy shares. A copy of a whole
//! object shares the source's chunks (nothing is rewritten, only the record).

use super::error::OrS3;
use super::get::{copy_source_conditions, ReadConditions};
use super::meta::{check_key, etag, fill_checksums, object_meta_from, timestamp};
use crate::chunker::Pins;
use crate::state::{Gateway, MAX_PUT_SIZE};
use cairn_node::records::{ObjectRecord, WriteCondition};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

/// Reads the source object of a copy, checking the `x-amz-copy-source-if-*` headers.
pub async fn copy_source(
    gw: &Gateway,
    source: &CopySource,
    conditions: ReadConditions<'_>,
) -> S3Result<ObjectRecord> {
    let (bucket, key) = match source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => {
            if version_id.as_deref().is_some_and(|v| v != "null") {
                return Err(s3_error!(NoSuchVersion));
            }
            (bucket.to_string(), key.to_string())
        }
        _ => {
            return Err(s3_error!(
                NotImplemented,
                "only bucket/key copy sources are supported"
            ))
        }
    };
    let rec = gw.node.get_object(bucket, key).await.or_s3()?;
    conditions.check(&rec, true)?;
    Ok(rec)
}

pub async fn copy_object(
    gw: &Gateway,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    check_key(&input.key)?;
    let src = copy_source(gw, &input.copy_source, copy_source_conditions!(input)).await?;
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
    let same_object = matches!(&input.copy_source, CopySource::Bucket { bucket, key, .. }
        if **bucket == *input.bucket && **key == *input.key);
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
        .put_object(input.bucket, input.key, record, WriteCondition::Always)
        .await;
    pins.release(gw);
    committed.or_s3()?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(result),
        ..Default::default()
    }))
}
