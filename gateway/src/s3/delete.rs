//! DeleteObject and DeleteObjects (batch, quiet mode): the current version removed
//! (unversioned), a delete marker added (versioned, no version id), or one version
//! removed for good — never one that object lock protects. Each key of a
//! DeleteObjects goes through the authorisation a DeleteObject of it would (a
//! policy Deny on its prefix refuses it alone, as an `AccessDenied` entry). The
//! chunks left behind are freed later by the collector once no version refers
//! to them.

use super::error::OrS3;
use crate::permissions::Need;
use crate::policy::context::ConnInfo;
use crate::policy::gate::{Asked, Gate};
use crate::state::Gateway;
use cairn_node::versioning::{DeleteOutcome, DeleteTarget};
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

pub async fn delete_object(
    gw: &Gateway,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    let target = DeleteTarget {
        key: input.key,
        version_id: input.version_id,
    };
    let bypass = crate::auth::bypass_allowed(
        &req.extensions,
        &input.bucket,
        input.bypass_governance_retention.unwrap_or(false),
    );
    let mut outcomes = gw
        .node
        .delete_versions(input.bucket, vec![target], bypass)
        .await
        .or_s3()?;
    let Some(out) = outcomes.pop() else {
        return Err(s3_error!(InternalError, "the delete reported no outcome"));
    };
    if let Some((code, message)) = out.error {
        return Err(S3Error::with_message(
            S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::AccessDenied),
            message,
        ));
    }
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: out.delete_marker.then_some(true),
        version_id: out.version_id,
        ..Default::default()
    }))
}

pub async fn delete_objects(
    gw: &Gateway,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    if input.delete.objects.len() > 1000 {
        return Err(s3_error!(MalformedXML, "at most 1000 keys per request"));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let targets: Vec<DeleteTarget> = input
        .delete
        .objects
        .into_iter()
        .map(|o| DeleteTarget {
            key: o.key,
            version_id: o.version_id,
        })
        .collect();
    let bypass = crate::auth::bypass_allowed(
        &req.extensions,
        &input.bucket,
        input.bypass_governance_retention.unwrap_or(false),
    );
    let mut errors = Vec::new();
    let mut allowed = Vec::with_capacity(targets.len());
    for t in targets {
        match authorize_key(gw, &req.headers, &req.extensions, &input.bucket, &t).await {
            Ok(()) => allowed.push(t),
            Err(e) => errors.push(Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(t.key),
                message: e.message().map(str::to_string),
                version_id: t.version_id,
            }),
        }
    }
    let targets = allowed;
    let asked: Vec<bool> = targets.iter().map(|t| t.version_id.is_some()).collect();
    let outcomes = match targets.is_empty() {
        true => Vec::new(),
        false => gw
            .node
            .delete_versions(input.bucket, targets, bypass)
            .await
            .or_s3()?,
    };
    let mut deleted = Vec::new();
    for (out, named) in outcomes.into_iter().zip(asked) {
        match out.error {
            Some((code, message)) => errors.push(Error {
                code: Some(code),
                key: Some(out.key),
                message: Some(message),
                version_id: out.version_id,
            }),
            None if quiet => {}
            None => deleted.push(deleted_object(out, named)),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(errors),
        ..Default::default()
    }))
}

/// Whether the requester may delete `target` as a DeleteObject of it (its
/// grants, the bucket's ACL, the bucket policy on that key).
async fn authorize_key(
    gw: &Gateway,
    headers: &http::HeaderMap,
    ext: &http::Extensions,
    bucket: &str,
    target: &DeleteTarget,
) -> S3Result<()> {
    let gate = Gate::new(gw.node.clone(), gw.bucket_auth.clone());
    let uri: http::Uri = match &target.version_id {
        Some(v) => format!("/?versionId={}", urlencoding::encode(v))
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/")),
        None => http::Uri::from_static("/"),
    };
    let asked = Asked {
        op: "DeleteObject",
        bucket,
        key: Some(&target.key),
        uri: &uri,
        headers,
        conn: ext.get::<ConnInfo>().copied(),
        copy_source: false,
    };
    let signer = crate::auth::requester(ext).map(|r| {
        let granted = Need::Write.met_by(r.permission(bucket));
        crate::auth::signer(r, granted)
    });
    gate.check(&asked, signer).await
}

/// A `<Deleted>` entry: a version removed (`named`: the request gave its id), or a
/// delete marker written, whose id S3 reports as `DeleteMarkerVersionId` only.
fn deleted_object(out: DeleteOutcome, named: bool) -> DeletedObject {
    let marker = out.delete_marker;
    DeletedObject {
        key: Some(out.key),
        delete_marker: marker.then_some(true),
        delete_marker_version_id: out.version_id.clone().filter(|_| marker),
        version_id: out.version_id.filter(|_| named),
    }
}
