//! Bucket policies: PutBucketPolicy validates (`policy::parse`) and stores the
//! document as sent, Get/Delete read and remove it, GetBucketPolicyStatus says
//! whether AWS would call it public. A change is dropped from this gateway's
//! authorisation cache at once (other gateways read it again within a second).

use super::error::{custom, OrS3};
use crate::policy::{PolicyError, MAX_POLICY_BYTES};
use crate::state::Gateway;
use cairn_node::records::BucketChange;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

pub async fn put_bucket_policy(
    gw: &Gateway,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let input = req.input;
    if input.policy.len() > MAX_POLICY_BYTES {
        return Err(custom(
            "PolicyTooLarge",
            http::StatusCode::BAD_REQUEST,
            format!(
                "Policy exceeds the maximum allowed document size of {MAX_POLICY_BYTES} bytes."
            ),
        ));
    }
    match crate::policy::parse(&input.policy) {
        Ok(p) => {
            if p.is_public()
                && super::public_access::current(gw, &input.bucket)
                    .await?
                    .block_public_policy
            {
                return Err(s3_error!(
                    AccessDenied,
                    "Access Denied: the bucket's public access block refuses public policies"
                ));
            }
        }
        Err(PolicyError::Malformed(e)) => return Err(s3_error!(MalformedPolicy, "{e}")),
        Err(PolicyError::Unsupported(e)) => return Err(s3_error!(NotImplemented, "{e}")),
    }
    let text = input.policy;
    let result = gw
        .node
        .update_bucket(input.bucket.clone(), BucketChange::SetPolicy(Some(text)))
        .await;
    gw.bucket_auth.forget(&input.bucket);
    result.or_s3()?;
    Ok(S3Response::new(PutBucketPolicyOutput {}))
}

pub async fn get_bucket_policy(
    gw: &Gateway,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let rec = gw.node.get_bucket(req.input.bucket).await.or_s3()?;
    match rec.policy {
        Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(policy),
        })),
        None => Err(s3_error!(NoSuchBucketPolicy)),
    }
}

pub async fn delete_bucket_policy(
    gw: &Gateway,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let bucket = req.input.bucket;
    let result = gw
        .node
        .update_bucket(bucket.clone(), BucketChange::SetPolicy(None))
        .await;
    gw.bucket_auth.forget(&bucket);
    result.or_s3()?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

pub async fn get_bucket_policy_status(
    gw: &Gateway,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let rec = gw.node.get_bucket(req.input.bucket).await.or_s3()?;
    let Some(text) = rec.policy else {
        return Err(s3_error!(NoSuchBucketPolicy));
    };
    let public = crate::policy::parse(&text).is_ok_and(|p| p.is_public());
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}
