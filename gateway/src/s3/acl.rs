//! Bucket and object ACLs: canned bucket ACLs (`private`, `public-read`; the
//! latter opens anonymous listing and GET/HEAD of objects). Grants Cairn cannot
//! keep are refused, not stored.

use super::bucket::owner;
use super::error::OrS3;
use super::refuse;
use crate::state::Gateway;
use cairn_node::records::BucketChange;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

pub use crate::policy::public_block::ALL_USERS;

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
    if public
        && super::public_access::current(gw, &input.bucket)
            .await?
            .block_public_acls
    {
        return Err(s3_error!(
            AccessDenied,
            "Access Denied: the bucket's public access block refuses public ACLs"
        ));
    }
    let result = gw
        .node
        .update_bucket(input.bucket.clone(), BucketChange::SetPublicRead(public))
        .await;
    gw.bucket_auth.forget(&input.bucket);
    result.or_s3()?;
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
