//! Put/Get/DeletePublicAccessBlock: a bucket's public access block, kept as a
//! catalog bucket document (`policy::public_block`) and evaluated by the
//! authorizer (`policy::gate`), by PutBucketPolicy and by the ACL handlers.

use super::error::{custom, OrS3};
use crate::policy::public_block::{PublicAccessBlock, DOC_KIND};
use crate::state::Gateway;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

pub async fn put_public_access_block(
    gw: &Gateway,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let input = req.input;
    let c = input.public_access_block_configuration;
    let block = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    let bucket = input.bucket;
    let result = gw
        .node
        .set_bucket_doc(bucket.clone(), DOC_KIND, Some(block.encode()))
        .await;
    gw.bucket_auth.forget(&bucket);
    result.or_s3()?;
    Ok(S3Response::new(PutPublicAccessBlockOutput {}))
}

pub async fn get_public_access_block(
    gw: &Gateway,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let doc = gw
        .node
        .bucket_doc(req.input.bucket, DOC_KIND)
        .await
        .or_s3()?;
    let Some(b) = doc.as_deref().and_then(PublicAccessBlock::decode) else {
        return Err(custom(
            "NoSuchPublicAccessBlockConfiguration",
            http::StatusCode::NOT_FOUND,
            "The public access block configuration was not found",
        ));
    };
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(b.block_public_acls),
            ignore_public_acls: Some(b.ignore_public_acls),
            block_public_policy: Some(b.block_public_policy),
            restrict_public_buckets: Some(b.restrict_public_buckets),
        }),
    }))
}

pub async fn delete_public_access_block(
    gw: &Gateway,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    let bucket = req.input.bucket;
    let result = gw.node.set_bucket_doc(bucket.clone(), DOC_KIND, None).await;
    gw.bucket_auth.forget(&bucket);
    result.or_s3()?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
}

/// The bucket's public access block as stored now (all off without one).
pub async fn current(gw: &Gateway, bucket: &str) -> S3Result<PublicAccessBlock> {
    let doc = gw
        .node
        .bucket_doc(bucket.to_string(), DOC_KIND)
        .await
        .or_s3()?;
    Ok(doc
        .as_deref()
        .and_then(PublicAccessBlock::decode)
        .unwrap_or_default())
}
