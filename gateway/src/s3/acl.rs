//! Get/PutBucketAcl, Get/PutObjectAcl (any version), and the ACL a write stores
//! with its object (PutObject, CopyObject, CreateMultipartUpload, POST uploads):
//! canned ACLs, `x-amz-grant-*` headers and AccessControlPolicy documents, kept
//! exactly as set (`policy::acl`), their grantees checked to be keys Cairn
//! knows. A bucket whose object ownership is `BucketOwnerEnforced` takes no ACL
//! but the owner's full control (`AccessControlListNotSupported`) and reports
//! that alone; `BlockPublicAcls` refuses public ones.

use super::error::{custom, from_node, OrS3};
use super::versions::find_version;
use crate::auth::{requester, Requester};
use crate::policy::acl::{
    acls_disabled, allowed_when_disabled, email_refused, object_acl, Acl, Grant, Grantee, Perm,
    Requested, DOC_KIND,
};
use crate::policy::cache::{BucketAuth, OWNER_ID};
use crate::state::Gateway;
use cairn_node::records::BucketChange;
use cairn_node::versioning::VersionChange;
use s3s::dto;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};
use std::sync::Arc;

/// The bucket's access settings (owner, ACL, ownership, public access block).
pub async fn settings(gw: &Gateway, bucket: &str) -> S3Result<Arc<BucketAuth>> {
    let auth = gw.bucket_auth.get(bucket).await.map_err(from_node)?;
    if !auth.exists {
        return Err(s3_error!(NoSuchBucket));
    }
    Ok(auth)
}

/// The S3 owner element of key `id`.
pub fn owner(id: &str) -> Owner {
    Owner {
        display_name: Some(id.into()),
        id: Some(id.into()),
    }
}

/// The owner element of `bucket`'s owner.
pub async fn bucket_owner(gw: &Gateway, bucket: &str) -> S3Result<Owner> {
    Ok(owner(&settings(gw, bucket).await?.owner))
}

fn grants_out(acl: &Acl) -> Vec<dto::Grant> {
    acl.grants
        .iter()
        .map(|g| {
            let grantee = match &g.grantee {
                Grantee::Key(id) => Grantee_ {
                    display_name: Some(id.clone()),
                    id: Some(id.clone()),
                    type_: Type::from_static(Type::CANONICAL_USER),
                    email_address: None,
                    uri: None,
                },
                group => Grantee_ {
                    display_name: None,
                    id: None,
                    type_: Type::from_static(Type::GROUP),
                    email_address: None,
                    uri: Some(
                        match group {
                            Grantee::AllUsers => crate::policy::public_block::ALL_USERS,
                            _ => crate::policy::public_block::AUTHENTICATED_USERS,
                        }
                        .into(),
                    ),
                },
            };
            dto::Grant {
                grantee: Some(grantee),
                permission: Some(Permission::from(g.perm.as_str().to_string())),
            }
        })
        .collect()
}

type Grantee_ = dto::Grantee;

fn malformed(why: &str) -> s3s::S3Error {
    custom(
        "MalformedACLError",
        http::StatusCode::BAD_REQUEST,
        format!("The XML you provided was not well-formed or did not validate against our published schema: {why}"),
    )
}

/// An AccessControlPolicy document's grants; its owner, if named, must be
/// `owner` (an ACL does not change owners).
fn from_document(doc: &AccessControlPolicy, owner: &str) -> S3Result<Acl> {
    if let Some(named) = doc.owner.as_ref().and_then(|o| o.id.as_deref()) {
        if named != owner {
            return Err(s3_error!(
                InvalidArgument,
                "Invalid id: the owner is {owner}; an ACL cannot change it"
            ));
        }
    }
    let mut grants = Vec::new();
    for g in doc.grants.as_deref().unwrap_or(&[]) {
        let grantee = g
            .grantee
            .as_ref()
            .ok_or_else(|| malformed("a Grant without Grantee"))?;
        let perm = g
            .permission
            .as_ref()
            .and_then(|p| Perm::parse(p.as_str()))
            .ok_or_else(|| malformed("a Grant without a valid Permission"))?;
        let grantee = match (&grantee.email_address, &grantee.uri, &grantee.id) {
            (Some(email), _, _) => return Err(email_refused(email)),
            (None, Some(uri), None) => Grantee::group(uri)?,
            (None, None, Some(id)) if !id.is_empty() => Grantee::Key(id.clone()),
            _ => return Err(malformed("a Grantee needs one ID, URI or EmailAddress")),
        };
        grants.push(Grant { grantee, perm });
    }
    Ok(Acl {
        owner: None,
        grants,
    })
}

/// Refuses grants to keys that do not exist (`InvalidArgument`, as AWS answers
/// an unknown canonical id).
pub async fn check_grantees(gw: &Gateway, who: Option<&Requester>, acl: &Acl) -> S3Result<()> {
    let ids: Vec<&str> = acl
        .grants
        .iter()
        .filter_map(|g| match &g.grantee {
            Grantee::Key(id) if id != OWNER_ID => Some(id.as_str()),
            _ => None,
        })
        .filter(|id| who.is_none_or(|r| !r.snapshot.keys.contains_key(*id)))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    // Keys the requester's snapshot lacks (made a moment ago, or none).
    let state = gw.node.access_state().await.or_s3()?;
    match ids
        .into_iter()
        .find(|id| !state.keys.iter().any(|k| k.access_key == *id))
    {
        Some(id) => Err(s3_error!(InvalidArgument, "Invalid id: {id}")),
        None => Ok(()),
    }
}

/// The ACL a Put*Acl request sets (headers or document) on what `owner` owns in
/// a bucket owned by `bucket_owner`; `None` when ACLs are disabled and it says
/// only what holds anyway.
async fn requested_acl(
    gw: &Gateway,
    req: &S3Request<impl Send>,
    doc: Option<&AccessControlPolicy>,
    auth: &BucketAuth,
    owner: &str,
) -> S3Result<Option<Acl>> {
    let acl = match (Requested::from_headers(&req.headers)?, doc) {
        (Some(r), _) => {
            if !auth.ownership.acls_enabled() {
                return match allowed_when_disabled(&r, &auth.owner) {
                    true => Ok(None),
                    false => Err(acls_disabled()),
                };
            }
            r.resolve(owner, &auth.owner)?
        }
        (None, Some(doc)) => {
            let acl = from_document(doc, owner)?;
            if !auth.ownership.acls_enabled() {
                return match acl.owner_only(&auth.owner) {
                    true => Ok(None),
                    false => Err(acls_disabled()),
                };
            }
            acl
        }
        (None, None) => {
            return Err(custom(
                "MissingSecurityHeader",
                http::StatusCode::BAD_REQUEST,
                "Your request was missing a required header: x-amz-acl, x-amz-grant-* or an AccessControlPolicy body",
            ))
        }
    };
    if auth.block.block_public_acls && acl.is_public() {
        return Err(s3_error!(
            AccessDenied,
            "Access Denied: the bucket's public access block refuses public ACLs"
        ));
    }
    check_grantees(gw, requester(&req.extensions), &acl).await?;
    Ok(Some(acl))
}

/// The ACL document an object written by `writer` with the request's ACL
/// headers stores (`ObjectMeta::set_acl`); `None` for the default (private,
/// the bucket owner's). Refuses ACLs a bucket with ACLs disabled does not take.
pub async fn for_write(
    gw: &Gateway,
    bucket: &str,
    headers: &http::HeaderMap,
    writer: Option<&Requester>,
) -> S3Result<Option<String>> {
    let requested = Requested::from_headers(headers)?;
    let auth = settings(gw, bucket).await?;
    if !auth.ownership.acls_enabled() {
        return match requested {
            Some(r) if !allowed_when_disabled(&r, &auth.owner) => Err(acls_disabled()),
            _ => Ok(None),
        };
    }
    let writer_id = writer.map(|r| r.access_key.as_str());
    let owner = auth
        .ownership
        .object_owner(writer_id, requested.as_ref(), &auth.owner);
    let Some(requested) = requested else {
        return Ok((owner != auth.owner).then(|| {
            let mut acl = Acl::private(owner);
            acl.owner = Some(owner.to_string());
            acl.encode()
        }));
    };
    let mut acl = requested.resolve(owner, &auth.owner)?;
    check_grantees(gw, writer, &acl).await?;
    acl.owner = Some(owner.to_string());
    Ok(Some(acl.encode()))
}

pub async fn put_bucket_acl(
    gw: &Gateway,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let bucket = req.input.bucket.clone();
    let auth = settings(gw, &bucket).await?;
    let doc = req.input.access_control_policy.as_ref();
    let Some(acl) = requested_acl(gw, &req, doc, &auth, &auth.owner).await? else {
        return Ok(S3Response::new(PutBucketAclOutput {}));
    };
    let mut result = gw
        .node
        .set_bucket_doc(bucket.clone(), DOC_KIND, Some(acl.encode().into_bytes()))
        .await;
    if result.is_ok() && auth.public_read_acl {
        // The flag of a bucket made public before ACLs were kept: this ACL
        // replaces it.
        result = gw
            .node
            .update_bucket(bucket.clone(), BucketChange::SetPublicRead(false))
            .await;
    }
    gw.bucket_auth.forget(&bucket);
    result.or_s3()?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub async fn get_bucket_acl(
    gw: &Gateway,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let auth = settings(gw, &req.input.bucket).await?;
    let acl = match auth.ownership.acls_enabled() {
        true => auth.acl.clone(),
        false => Acl::private(&auth.owner),
    };
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants_out(&acl)),
        owner: Some(owner(&auth.owner)),
    }))
}

pub async fn put_object_acl(
    gw: &Gateway,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let input = &req.input;
    let auth = settings(gw, &input.bucket).await?;
    let found = find_version(gw, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    let current = object_acl(&found.record.meta, &auth);
    let object_owner = current.owner.clone().unwrap_or_else(|| auth.owner.clone());
    let doc = input.access_control_policy.as_ref();
    let Some(mut acl) = requested_acl(gw, &req, doc, &auth, &object_owner).await? else {
        return Ok(S3Response::new(PutObjectAclOutput::default()));
    };
    acl.owner = Some(object_owner);
    // The version found, not a newer one written since.
    let version = found.version_id.or_else(|| input.version_id.clone());
    gw.node
        .update_version(
            input.bucket.clone(),
            input.key.clone(),
            version,
            VersionChange::SetAcl(Some(acl.encode())),
        )
        .await
        .or_s3()?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub async fn get_object_acl(
    gw: &Gateway,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let input = req.input;
    let auth = settings(gw, &input.bucket).await?;
    let found = find_version(gw, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    let acl = object_acl(&found.record.meta, &auth);
    let id = acl.owner.clone().unwrap_or_else(|| auth.owner.clone());
    Ok(S3Response::new(GetObjectAclOutput {
        owner: Some(owner(&id)),
        grants: Some(grants_out(&acl)),
        ..Default::default()
    }))
}
