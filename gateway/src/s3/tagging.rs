//! Bucket and object tagging: Put/Get/Delete for each (at most 50 tags on a
//! bucket, 10 on an object).

use super::error::OrS3;
use super::meta::{check_object_tag_count, tags_from_dto, tags_to_dto};
use super::versions::find_version;
use crate::state::Gateway;
use cairn_node::records::BucketChange;
use cairn_node::versioning::VersionChange;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

pub async fn put_bucket_tagging(
    gw: &Gateway,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let input = req.input;
    let tags = tags_from_dto(input.tagging.tag_set)?;
    gw.node
        .update_bucket(input.bucket, BucketChange::SetTags(tags))
        .await
        .or_s3()?;
    Ok(S3Response::new(PutBucketTaggingOutput {}))
}

pub async fn get_bucket_tagging(
    gw: &Gateway,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let rec = gw.node.get_bucket(req.input.bucket).await.or_s3()?;
    if rec.tags.is_empty() {
        return Err(s3_error!(NoSuchTagSet));
    }
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tags_to_dto(&rec.tags),
    }))
}

pub async fn delete_bucket_tagging(
    gw: &Gateway,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    gw.node
        .update_bucket(req.input.bucket, BucketChange::SetTags(Vec::new()))
        .await
        .or_s3()?;
    Ok(S3Response::new(DeleteBucketTaggingOutput {}))
}

pub async fn put_object_tagging(
    gw: &Gateway,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = req.input;
    let tags = tags_from_dto(input.tagging.tag_set)?;
    check_object_tag_count(&tags)?;
    gw.node
        .update_version(
            input.bucket,
            input.key,
            input.version_id.clone(),
            VersionChange::SetTags(tags),
        )
        .await
        .or_s3()?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: input.version_id,
    }))
}

pub async fn get_object_tagging(
    gw: &Gateway,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let input = req.input;
    let found = find_version(gw, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tags_to_dto(&found.record.meta.tags),
        version_id: found.version_id,
    }))
}

pub async fn delete_object_tagging(
    gw: &Gateway,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let input = req.input;
    gw.node
        .update_version(
            input.bucket,
            input.key,
            input.version_id.clone(),
            VersionChange::SetTags(Vec::new()),
        )
        .await
        .or_s3()?;
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: input.version_id,
    }))
}
