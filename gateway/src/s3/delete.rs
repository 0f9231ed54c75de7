//! DeleteObject and DeleteObjects (batch, quiet mode). The chunks an object leaves
//! behind are freed later by the collector once nothing refers to them.

use super::error::OrS3;
use crate::state::Gateway;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

pub async fn delete_object(
    gw: &Gateway,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    gw.node
        .delete_objects(input.bucket, vec![input.key])
        .await
        .or_s3()?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub async fn delete_objects(
    gw: &Gateway,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    if input.delete.objects.len() > 1000 {
        return Err(s3_error!(MalformedXML, "at most 1000 keys per request"));
    }
    // Buckets are unversioned: deleting "a version" must not delete the object.
    if let Some(v) = input
        .delete
        .objects
        .iter()
        .filter_map(|o| o.version_id.as_deref())
        .find(|v| *v != "null")
    {
        return Err(s3_error!(
            InvalidArgument,
            "Invalid version id specified ({v}): Cairn buckets are unversioned."
        ));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let keys: Vec<String> = input.delete.objects.into_iter().map(|o| o.key).collect();
    gw.node
        .delete_objects(input.bucket, keys.clone())
        .await
        .or_s3()?;
    let deleted = if quiet {
        Vec::new()
    } else {
        keys.into_iter()
            .map(|key| DeletedObject {
                key: Some(key),
                ..Default::default()
            })
            .collect()
    };
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: Some(Vec::new()),
        ..Default::default()
    }))
}
