//! PutObject: stream the body into chunks while hashing it, verify Content-MD5 and
//! any additional checksum (header or aws-chunked trailer), then commit the object
//! record under the request's write condition (a new version in a versioned
//! bucket, with the lock the request or the bucket's default retention asks for).
//! Nothing is visible before the commit; a failed request leaves only unreferenced
//! chunks for the collector.

use super::error::OrS3;
use super::meta::{check_key, expected_digests, fill_checksums, object_meta_from, write_condition};
use super::object_lock::{has_integrity, integrity_required, requested_lock};
use crate::checksum::BodyHasher;
use crate::chunker::{check_framing, store_body, Pins};
use crate::state::{Gateway, MAX_PUT_SIZE};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

pub async fn put_object(
    gw: &Gateway,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let S3Request {
        mut input,
        headers,
        trailing_headers,
        extensions,
        ..
    } = req;
    check_key(&input.key)?;
    if input.content_length.unwrap_or(0) as u64 > MAX_PUT_SIZE {
        return Err(s3_error!(EntityTooLarge));
    }
    let cond = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let mut meta = object_meta_from!(input);
    let writer = crate::auth::requester(&extensions);
    meta.set_acl(super::acl::for_write(gw, &input.bucket, &headers, writer).await?);
    let lock = requested_lock(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    // S3 wants an integrity check on every locked write: one asking for a lock, or
    // one into a bucket with a default retention.
    let checked = has_integrity(&headers);
    if lock.is_some() && !checked {
        return Err(integrity_required());
    }
    // Fail fast, before storing chunks, when the bucket is missing (bodies small
    // enough to be inline store nothing before the commit, which checks it anyway).
    if !checked {
        let cfg = gw.node.bucket_config(input.bucket.clone()).await.or_s3()?;
        if cfg.object_lock && cfg.default_retention.is_some() {
            return Err(integrity_required());
        }
    } else if input
        .content_length
        .is_none_or(|n| n as u64 > gw.cfg.inline_max as u64)
    {
        gw.node.get_bucket(input.bucket.clone()).await.or_s3()?;
    }

    let expected = expected_digests!(input, headers);
    let hasher = BodyHasher::new(&expected);
    let unframed = crate::precheck::UnframedBody::take(&extensions).map(StreamingBlob::from);
    let body = unframed.or_else(|| input.body.take()).unwrap_or_else(|| {
        StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
    });
    let stored = store_body(gw, body, hasher, MAX_PUT_SIZE, true).await?;
    let trailers = trailing_headers.and_then(|t| t.take());
    check_framing(&headers, stored.size, trailers.as_ref())?;
    let record = stored.into_record(&expected, trailers.as_ref(), meta)?;
    let mut out = PutObjectOutput {
        e_tag: Some(super::meta::etag(&record.etag)),
        ..Default::default()
    };
    fill_checksums!(out, record.checksums);
    out.checksum_type = record.checksums.kind.clone().map(Into::into);
    let pins = Pins::of(record.data.chunks());
    let committed = gw
        .node
        .put_object(input.bucket, input.key, record, cond, lock)
        .await;
    pins.release(gw);
    out.version_id = committed.or_s3()?;
    Ok(S3Response::new(out))
}
