//! Put/Get/DeleteBucketOwnershipControls: a bucket's object ownership
//! (`policy::acl::Ownership`), kept as a catalog bucket document. New buckets
//! get `BucketOwnerEnforced` (ACLs disabled) unless CreateBucket asks otherwise
//! (`x-amz-object-ownership`); a bucket without one, made before Cairn kept it or
//! after DeleteBucketOwnershipControls, behaves as `ObjectWriter` and answers
//! `OwnershipControlsNotFoundError`, as on AWS.

use super::acl::settings;
use super::error::{custom, OrS3};
use crate::policy::acl::{Ownership, OWNERSHIP_DOC_KIND};
use crate::state::Gateway;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

pub async fn put_bucket_ownership_controls(
    gw: &Gateway,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let input = req.input;
    let [rule] = input.ownership_controls.rules.as_slice() else {
        return Err(s3_error!(
            MalformedXML,
            "OwnershipControls must have exactly one Rule"
        ));
    };
    let ownership = Ownership::parse(rule.object_ownership.as_str())?;
    let auth = settings(gw, &input.bucket).await?;
    if !ownership.acls_enabled() && !auth.acl.owner_only(&auth.owner) {
        // AWS refuses to disable ACLs that grant to others.
        return Err(invalid_acl_with_ownership());
    }
    set(gw, &input.bucket, Some(ownership)).await?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
}

/// The refusal of ACLs that grant to others on a bucket whose ACLs are disabled.
pub fn invalid_acl_with_ownership() -> s3s::S3Error {
    custom(
        "InvalidBucketAclWithObjectOwnership",
        http::StatusCode::BAD_REQUEST,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    )
}

/// Stores (or, `None`, removes) the bucket's object ownership.
pub async fn set(gw: &Gateway, bucket: &str, ownership: Option<Ownership>) -> S3Result<()> {
    let result = gw
        .node
        .set_bucket_doc(
            bucket.to_string(),
            OWNERSHIP_DOC_KIND,
            ownership.map(Ownership::encode),
        )
        .await;
    gw.bucket_auth.forget(bucket);
    result.or_s3()
}

pub async fn get_bucket_ownership_controls(
    gw: &Gateway,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let doc = gw
        .node
        .bucket_doc(req.input.bucket, OWNERSHIP_DOC_KIND)
        .await
        .or_s3()?;
    let Some(ownership) = doc.as_deref().and_then(Ownership::decode) else {
        return Err(custom(
            "OwnershipControlsNotFoundError",
            http::StatusCode::NOT_FOUND,
            "The bucket ownership controls were not found",
        ));
    };
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from(ownership.as_str().to_string()),
            }],
        }),
    }))
}

pub async fn delete_bucket_ownership_controls(
    gw: &Gateway,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    let bucket = req.input.bucket;
    settings(gw, &bucket).await?;
    set(gw, &bucket, None).await?;
    Ok(S3Response::new(DeleteBucketOwnershipControlsOutput {}))
}
