//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
//! Parts are stored as chunks like any body; completing an upload writes one object
//! record listing the parts' chunks in order, and drops the upload, in one commit.
//! The object's additional checksum (composite or full-object) is made in
//! `multipart_checksum`.

use super::copy::copy_source;
use super::error::OrS3;
use super::get::copy_source_conditions;
use super::meta::{
    check_key, etag, expected_digests, fill_checksums, object_meta_from, timestamp, write_condition,
};
use super::multipart_checksum::{check_complete, object_checksums, upload_checksum};
use crate::checksum::{BodyHasher, Expected};
use crate::chunker::{check_framing, store_body, Pins};
use crate::reader::object_stream;
use crate::state::{Gateway, MAX_OBJECT_SIZE, MAX_PART_NUMBER, MAX_PUT_SIZE, MIN_PART_SIZE};
use cairn_node::records::{ObjectData, ObjectRecord, PartRecord, UploadRecord};
use cairn_node::storage::catalog::UploadListQuery;
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

fn part_number(n: i32) -> S3Result<u32> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(n as u32)
    } else {
        Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000"
        ))
    }
}

/// The upload's checksum algorithm and type, as S3 names them in responses.
fn checksum_of(upload: &UploadRecord) -> (Option<ChecksumAlgorithm>, Option<ChecksumType>) {
    match upload.checksum() {
        Some((algorithm, kind)) => (
            Some(algorithm.to_string().into()),
            Some(kind.to_string().into()),
        ),
        None => (None, None),
    }
}

/// What to hash a part's body for: what the request names, and always the
/// upload's algorithm (so that the object's checksum can be made at completion).
fn with_upload_algorithm(mut expected: Expected, upload: &UploadRecord) -> Expected {
    if let Some((algorithm, _)) = upload.checksum() {
        expected.algorithms.push(algorithm.to_ascii_lowercase());
    }
    expected
}

/// The upload, checked to belong to `bucket/key`.
async fn upload_of(
    gw: &Gateway,
    upload_id: &str,
    bucket: &str,
    key: &str,
) -> S3Result<UploadRecord> {
    let upload = gw.node.get_upload(upload_id.to_string()).await.or_s3()?;
    if upload.bucket != bucket || upload.key != key {
        return Err(s3_error!(NoSuchUpload));
    }
    Ok(upload)
}

pub async fn create_multipart_upload(
    gw: &Gateway,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let writer = crate::auth::requester(&req.extensions);
    let acl = super::acl::for_write(gw, &req.input.bucket, &req.headers, writer).await?;
    let input = req.input;
    check_key(&input.key)?;
    let mut meta = object_meta_from!(input);
    meta.set_acl(acl);
    let checksum = upload_checksum(
        input.checksum_algorithm.as_ref(),
        input.checksum_type.as_ref(),
    )?;
    let record = UploadRecord {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ms: cairn_node::now_ms(),
        meta,
        checksum_algorithm: checksum,
    };
    let (checksum_algorithm, checksum_type) = checksum_of(&record);
    let lock = super::object_lock::requested_lock(
        input.object_lock_mode.as_ref(),
        input.object_lock_retain_until_date.as_ref(),
        input.object_lock_legal_hold_status.as_ref(),
    )?;
    let upload_id = gw.node.create_upload(record, lock).await.or_s3()?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        checksum_type,
        checksum_algorithm,
        ..Default::default()
    }))
}

pub async fn upload_part(
    gw: &Gateway,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let S3Request {
        mut input,
        headers,
        trailing_headers,
        extensions,
        ..
    } = req;
    let number = part_number(input.part_number)?;
    if input.content_length.unwrap_or(0) as u64 > MAX_PUT_SIZE {
        return Err(s3_error!(EntityTooLarge));
    }
    let upload = upload_of(gw, &input.upload_id, &input.bucket, &input.key).await?;
    let expected = with_upload_algorithm(expected_digests!(input, headers), &upload);
    let hasher = BodyHasher::new(&expected);
    let unframed = crate::precheck::UnframedBody::take(&extensions).map(StreamingBlob::from);
    let body = unframed
        .or_else(|| input.body.take())
        .ok_or_else(|| s3_error!(IncompleteBody, "a part needs a body"))?;
    let stored = store_body(gw, body, hasher, MAX_PUT_SIZE, false).await?;
    let trailers = trailing_headers.and_then(|t| t.take());
    check_framing(&headers, stored.size, trailers.as_ref())?;
    let digests = stored.hasher.verify(&expected, trailers.as_ref())?;
    let part = PartRecord {
        etag: hex::encode(digests.md5),
        size: stored.size,
        last_modified_ms: cairn_node::now_ms(),
        checksums: digests.checksums,
        chunks: stored.data.chunks().to_vec(),
    };
    let mut out = UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        ..Default::default()
    };
    fill_checksums!(out, part.checksums);
    let pins = Pins::of(&part.chunks);
    let committed = gw.node.put_part(input.upload_id, number, part).await;
    pins.release(gw);
    committed.or_s3()?;
    Ok(S3Response::new(out))
}

pub async fn upload_part_copy(
    gw: &Gateway,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = req.input;
    let number = part_number(input.part_number)?;
    let upload = upload_of(gw, &input.upload_id, &input.bucket, &input.key).await?;
    let (src, _) = copy_source(gw, &input.copy_source, copy_source_conditions!(input)).await?;
    let range = match &input.copy_source_range {
        Some(r) => {
            let parsed = Range::parse(r)
                .map_err(|_| s3_error!(InvalidArgument, "bad x-amz-copy-source-range"))?;
            match parsed {
                Range::Int {
                    first,
                    last: Some(last),
                } if last < src.size && first <= last => first..last + 1,
                _ => return Err(s3_error!(InvalidRange)),
            }
        }
        None => 0..src.size,
    };
    if range.end - range.start > MAX_PUT_SIZE {
        return Err(s3_error!(EntityTooLarge));
    }
    let expected = with_upload_algorithm(Expected::default(), &upload);
    let hasher = BodyHasher::new(&expected);
    let stream = object_stream(gw, src.data, range);
    let stored = store_body(gw, stream, hasher, MAX_PUT_SIZE, false).await?;
    let digests = stored.hasher.verify(&expected, None)?;
    let part = PartRecord {
        etag: hex::encode(digests.md5),
        size: stored.size,
        last_modified_ms: cairn_node::now_ms(),
        checksums: digests.checksums,
        chunks: stored.data.chunks().to_vec(),
    };
    let result = CopyPartResult {
        e_tag: Some(etag(&part.etag)),
        last_modified: Some(timestamp(part.last_modified_ms)),
        ..Default::default()
    };
    let pins = Pins::of(&part.chunks);
    let committed = gw.node.put_part(input.upload_id, number, part).await;
    pins.release(gw);
    committed.or_s3()?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(result),
        ..Default::default()
    }))
}

pub async fn complete_multipart_upload(
    gw: &Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let mut input = req.input;
    let cond = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let upload = upload_of(gw, &input.upload_id, &input.bucket, &input.key).await?;
    let requested = input
        .multipart_upload
        .take()
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if requested.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "You must specify at least one part"
        ));
    }
    let stored = gw.node.list_parts(input.upload_id.clone()).await.or_s3()?;
    let mut chosen: Vec<&PartRecord> = Vec::with_capacity(requested.len());
    let mut last_number = 0;
    for p in &requested {
        let n = p
            .part_number
            .ok_or_else(|| s3_error!(InvalidPart, "a part has no number"))?;
        if n <= last_number {
            return Err(s3_error!(InvalidPartOrder));
        }
        last_number = n;
        let found = u32::try_from(n)
            .ok()
            .and_then(|n| stored.binary_search_by_key(&n, |(num, _)| *num).ok())
            .map(|i| &stored[i].1)
            .ok_or_else(|| s3_error!(InvalidPart, "part {n} was not uploaded"))?;
        let given = p
            .e_tag
            .as_ref()
            .map(|e| e.value().trim_matches('"').to_string());
        if given.as_deref() != Some(found.etag.as_str()) {
            return Err(s3_error!(InvalidPart, "part {n} has another ETag"));
        }
        chosen.push(found);
    }
    for (i, part) in chosen.iter().enumerate() {
        if i + 1 < chosen.len() && part.size < MIN_PART_SIZE {
            return Err(s3_error!(EntityTooSmall));
        }
    }
    let size: u64 = chosen.iter().map(|p| p.size).sum();
    if size > MAX_OBJECT_SIZE {
        return Err(s3_error!(EntityTooLarge));
    }
    let mut md5 = Md5::new();
    for p in &chosen {
        md5.update(hex::decode(&p.etag).unwrap_or_default());
    }
    let etag_value = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
    let checksums = object_checksums(&upload, &chosen);
    check_complete(&input, &upload, &checksums, size)?;
    let record = ObjectRecord {
        size,
        etag: etag_value,
        last_modified_ms: cairn_node::now_ms(),
        meta: upload.meta,
        checksums,
        part_sizes: chosen.iter().map(|p| p.size).collect(),
        data: ObjectData::Chunks(
            chosen
                .iter()
                .flat_map(|p| p.chunks.iter().cloned())
                .collect(),
        ),
    };
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(etag(&record.etag)),
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        checksum_type: record.checksums.kind.clone().map(Into::into),
        ..Default::default()
    };
    fill_checksums!(out, record.checksums);
    let version_id = gw
        .node
        .complete_upload(input.upload_id, input.bucket, input.key, record, cond)
        .await
        .or_s3()?;
    out.version_id = version_id;
    Ok(S3Response::new(out))
}

pub async fn abort_multipart_upload(
    gw: &Gateway,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    upload_of(gw, &input.upload_id, &input.bucket, &input.key).await?;
    gw.node.abort_upload(input.upload_id).await.or_s3()?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub async fn list_parts(
    gw: &Gateway,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    let upload = upload_of(gw, &input.upload_id, &input.bucket, &input.key).await?;
    let (checksum_algorithm, checksum_type) = checksum_of(&upload);
    let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
    let marker = input.part_number_marker.unwrap_or(0);
    let all = gw.node.list_parts(input.upload_id.clone()).await.or_s3()?;
    let after: Vec<_> = all
        .into_iter()
        .filter(|(n, _)| i64::from(*n) > i64::from(marker))
        .collect();
    let truncated = after.len() > max;
    let parts: Vec<Part> = after
        .into_iter()
        .take(max)
        .map(|(n, p)| {
            let mut part = Part {
                part_number: i32::try_from(n).ok(),
                e_tag: Some(etag(&p.etag)),
                size: i64::try_from(p.size).ok(),
                last_modified: Some(timestamp(p.last_modified_ms)),
                ..Default::default()
            };
            fill_checksums!(part, p.checksums);
            part
        })
        .collect();
    let next = parts
        .last()
        .and_then(|p| p.part_number)
        .filter(|_| truncated);
    let owner = super::acl::bucket_owner(gw, &input.bucket).await?;
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        max_parts: Some(max as i32),
        part_number_marker: Some(marker),
        next_part_number_marker: next,
        is_truncated: Some(truncated),
        parts: Some(parts),
        owner: Some(owner),
        checksum_algorithm,
        checksum_type,
        ..Default::default()
    }))
}

pub async fn list_multipart_uploads(
    gw: &Gateway,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = req.input;
    let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
    let query = UploadListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        key_marker: input.key_marker.clone(),
        upload_id_marker: input.upload_id_marker.clone(),
        max,
    };
    let list = gw
        .node
        .list_uploads(input.bucket.clone(), query)
        .await
        .or_s3()?;
    let last = list.uploads.last().cloned();
    let bucket_owner = super::acl::bucket_owner(gw, &input.bucket).await?;
    let uploads = list
        .uploads
        .into_iter()
        .map(|u| MultipartUpload {
            key: Some(u.key),
            upload_id: Some(u.upload_id),
            initiated: Some(timestamp(u.initiated_ms)),
            owner: Some(bucket_owner.clone()),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        uploads: Some(uploads),
        common_prefixes: Some(
            list.common_prefixes
                .into_iter()
                .map(|p| CommonPrefix { prefix: Some(p) })
                .collect(),
        ),
        is_truncated: Some(list.truncated),
        next_key_marker: last
            .as_ref()
            .filter(|_| list.truncated)
            .map(|u| u.key.clone()),
        next_upload_id_marker: last.filter(|_| list.truncated).map(|u| u.upload_id),
        max_uploads: Some(max as i32),
        prefix: input.prefix,
        delimiter: input.delimiter,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
