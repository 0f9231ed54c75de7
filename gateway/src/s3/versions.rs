//! Versioning: Put/GetBucketVersioning, ListObjectVersions, and what every read of
//! an object shares: finding the version a request names (delete markers answer
//! as S3 answers them) and the version and lock headers of the answer.

use super::error::OrS3;
use super::list::{delimiter, encoder, max_keys};
use super::meta::{etag, timestamp};
use crate::state::Gateway;
use cairn_node::records::ObjectRecord;
use cairn_node::storage::catalog::VersionListQuery;
use cairn_node::versioning::{ConfigChange, ObjectLock, Versioning};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

/// The object version a read found.
pub struct Found {
    pub record: ObjectRecord,
    /// `None` in a bucket that was never versioned.
    pub version_id: Option<String>,
    pub lock: ObjectLock,
}

/// The version `version_id` of `bucket/key`, or the newest. A delete marker is
/// `NoSuchKey` (the newest) or `MethodNotAllowed` (named), with
/// `x-amz-delete-marker: true` and its version id, as S3 answers.
pub async fn find_version(
    gw: &Gateway,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> S3Result<Found> {
    let view = gw
        .node
        .get_version(bucket.into(), key.into(), version_id.map(String::from))
        .await
        .or_s3()?;
    let Some(record) = view.row.record else {
        let mut e = match version_id {
            None => s3_error!(NoSuchKey),
            Some(_) => s3_error!(
                MethodNotAllowed,
                "The specified method is not allowed against this resource."
            ),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-amz-delete-marker",
            http::HeaderValue::from_static("true"),
        );
        if let Some(id) = view.version_id.as_deref().and_then(|v| v.parse().ok()) {
            headers.insert("x-amz-version-id", id);
        }
        e.set_headers(headers);
        return Err(e);
    };
    Ok(Found {
        record,
        version_id: view.version_id,
        lock: view.row.lock,
    })
}

/// Fills `version_id` and the object-lock fields of a GET/HEAD output.
macro_rules! fill_version_output {
    ($out:expr, $found:expr) => {{
        let found = &$found;
        $out.version_id = found.version_id.clone();
        if let Some((mode, until)) = found.lock.retention {
            $out.object_lock_mode = Some(ObjectLockMode::from(mode.as_str().to_string()));
            $out.object_lock_retain_until_date = Some($crate::s3::meta::timestamp(until));
        }
        if found.lock.legal_hold {
            $out.object_lock_legal_hold_status = Some(ObjectLockLegalHoldStatus::from_static(
                ObjectLockLegalHoldStatus::ON,
            ));
        }
    }};
}
pub(crate) use fill_version_output;

pub async fn put_bucket_versioning(
    gw: &Gateway,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let input = req.input;
    let config = input.versioning_configuration;
    if config
        .mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
    {
        return Err(s3_error!(
            NotImplemented,
            "MFA delete is not supported: Cairn has no MFA devices."
        ));
    }
    let status = match config.status.as_ref().map(|s| s.as_str()) {
        Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "The versioning status must be Enabled or Suspended."
            ))
        }
    };
    gw.node
        .configure_bucket(input.bucket, ConfigChange::Versioning(status))
        .await
        .or_s3()?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

pub async fn get_bucket_versioning(
    gw: &Gateway,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let cfg = gw.node.bucket_config(req.input.bucket).await.or_s3()?;
    let status = match cfg.versioning {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::ENABLED),
        Versioning::Suspended => Some(BucketVersioningStatus::SUSPENDED),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: status.map(BucketVersioningStatus::from_static),
        mfa_delete: None,
    }))
}

pub async fn list_object_versions(
    gw: &Gateway,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let input = req.input;
    let max = max_keys(input.max_keys)?;
    if input.version_id_marker.is_some() && input.key_marker.is_none() {
        return Err(s3_error!(
            InvalidArgument,
            "A version-id marker cannot be specified without a key marker."
        ));
    }
    let query = VersionListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: delimiter(input.delimiter.clone()),
        key_marker: input.key_marker.clone().filter(|m| !m.is_empty()),
        version_id_marker: input.version_id_marker.clone().filter(|m| !m.is_empty()),
        max,
    };
    let page = if max == 0 {
        Default::default()
    } else {
        gw.node
            .list_versions(input.bucket.clone(), query)
            .await
            .or_s3()?
    };
    let enc = encoder(input.encoding_type.as_ref());
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    let owner = super::acl::bucket_owner(gw, &input.bucket).await?;
    for v in page.versions {
        if v.delete_marker {
            markers.push(DeleteMarkerEntry {
                is_latest: Some(v.latest),
                key: Some(enc(v.key)),
                last_modified: Some(timestamp(v.last_modified_ms)),
                owner: Some(owner.clone()),
                version_id: Some(v.version_id),
            });
        } else {
            versions.push(ObjectVersion {
                e_tag: Some(etag(&v.etag)),
                is_latest: Some(v.latest),
                key: Some(enc(v.key)),
                last_modified: Some(timestamp(v.last_modified_ms)),
                owner: Some(owner.clone()),
                size: i64::try_from(v.size).ok(),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                version_id: Some(v.version_id),
                ..Default::default()
            });
        }
    }
    let common: Vec<CommonPrefix> = page
        .common_prefixes
        .into_iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    let truncated = page.truncated;
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(input.prefix.unwrap_or_default())),
        delimiter: input.delimiter.map(&enc),
        encoding_type: input.encoding_type,
        key_marker: Some(enc(input.key_marker.unwrap_or_default())),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        max_keys: i32::try_from(max).ok(),
        is_truncated: Some(truncated),
        next_key_marker: page.next_key_marker.filter(|_| truncated).map(&enc),
        next_version_id_marker: page.next_version_id_marker.filter(|_| truncated),
        versions: (!versions.is_empty()).then_some(versions),
        delete_markers: (!markers.is_empty()).then_some(markers),
        common_prefixes: (!common.is_empty()).then_some(common),
        ..Default::default()
    }))
}
