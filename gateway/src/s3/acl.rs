//! Access control that shops use for public assets: canned bucket ACLs
//! (`private`, `public-read`) and bucket policies (evaluated in `policy`). Either may
//! grant anonymous GET/HEAD of objects; everything else always needs a signature.
//! Grants and policy statements Cairn cannot keep are refused, not stored.

use super::bucket::owner;
use super::error::{custom, OrS3};
use super::refuse;
use crate::policy::{PolicyError, MAX_POLICY_BYTES};
use crate::state::Gateway;
use cairn_node::records::BucketChange;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// The owner's full control, the first grant of every ACL.
fn owner_grant() -> Grant {
    Grant {
        grantee: Some(Grantee {
            display_name: Some("cairn".into()),
            id: Some("cairn".into()),
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }
}

pub async fn put_bucket_acl(
    gw: &Gateway,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let input = req.input;
    // Canned ACLs and `x-amz-grant-*` headers were checked with the request
    // (`refuse::check_request`); an ACL document is checked here.
    let public = match (&input.acl, &input.access_control_policy) {
        (Some(acl), _) => acl.as_str() == "public-read",
        (None, Some(policy)) => refuse::bucket_acl_grants(policy.grants.as_deref().unwrap_or(&[]))?,
        (None, None) => input
            .grant_read
            .as_deref()
            .is_some_and(|g| g.contains(ALL_USERS)),
    };
    gw.node
        .update_bucket(input.bucket, BucketChange::SetPublicRead(public))
        .await
        .or_s3()?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub async fn get_bucket_acl(
    gw: &Gateway,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let rec = gw.node.get_bucket(req.input.bucket).await.or_s3()?;
    let mut grants = vec![owner_grant()];
    if rec.public_read_acl {
        grants.push(Grant {
            grantee: Some(Grantee {
                type_: Type::from_static(Type::GROUP),
                uri: Some(ALL_USERS.into()),
                display_name: None,
                email_address: None,
                id: None,
            }),
            permission: Some(Permission::from_static(Permission::READ)),
        });
    }
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants),
        owner: Some(owner()),
    }))
}

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
        Ok(_) => {}
        Err(PolicyError::Malformed(e)) => return Err(s3_error!(MalformedPolicy, "{e}")),
        Err(PolicyError::Unsupported(e)) => return Err(s3_error!(NotImplemented, "{e}")),
    }
    let text = input.policy;
    gw.node
        .update_bucket(input.bucket, BucketChange::SetPolicy(Some(text)))
        .await
        .or_s3()?;
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
    gw.node
        .update_bucket(req.input.bucket, BucketChange::SetPolicy(None))
        .await
        .or_s3()?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

pub async fn get_object_acl(
    gw: &Gateway,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = req.input;
    super::versions::find_version(gw, &input.bucket, &input.key, input.version_id.as_deref())
        .await?;
    Ok(S3Response::new(GetObjectAclOutput {
        owner: Some(owner()),
        grants: Some(vec![owner_grant()]),
        ..Default::default()
    }))
}
