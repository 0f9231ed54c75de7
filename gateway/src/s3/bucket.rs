//! Bucket operations: CreateBucket (optionally with object lock, with its ACL and
//! object ownership), HeadBucket, DeleteBucket (with the multipart uploads still
//! in progress), ListBuckets (paged), GetBucketLocation.

use super::error::OrS3;
use super::meta::timestamp;
use crate::policy::acl::{allowed_when_disabled, Acl, Ownership, Requested};
use crate::state::Gateway;
use base64::Engine;
use cairn_node::records::BucketRecord;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

/// Prefixes and suffixes AWS reserves (access point, Object Lambda, Multi-Region
/// Access Point, directory and table bucket names; IDNA; AWS internal).
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// S3's bucket naming rules (3–63 characters of a-z, 0-9, '.', '-', starting and
/// ending with a letter or digit, not shaped like an IP address, none of the
/// reserved prefixes and suffixes).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
        && (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

pub async fn create_bucket(
    gw: &Gateway,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let input = &req.input;
    if !valid_bucket_name(&input.bucket) {
        return Err(s3_error!(InvalidBucketName));
    }
    if let Some(c) = &input.create_bucket_configuration {
        if c.bucket.is_some() || c.location.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "Directory buckets (Bucket and Location in CreateBucketConfiguration) are not supported."
            ));
        }
    }
    let Some(requester) = crate::auth::requester(&req.extensions) else {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    };
    // New buckets have ACLs disabled unless they ask for them, as on AWS.
    let ownership = match &input.object_ownership {
        Some(o) => Ownership::parse(o.as_str())?,
        None => Ownership::BucketOwnerEnforced,
    };
    let owner = requester.access_key.as_str();
    let acl = match Requested::from_headers(&req.headers)? {
        Some(r) if !ownership.acls_enabled() => {
            if !allowed_when_disabled(&r, owner) {
                return Err(super::ownership::invalid_acl_with_ownership());
            }
            None
        }
        Some(r) => Some(r.resolve(owner, owner)?).filter(|a| *a != Acl::private(owner)),
        None => None,
    };
    if let Some(acl) = &acl {
        super::acl::check_grantees(gw, Some(requester), acl).await?;
    }
    let location = input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.clone())
        .map(|l| l.as_str().to_string())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| gw.cfg.region.clone());
    let record = BucketRecord {
        created_ms: cairn_node::now_ms(),
        location,
        ..Default::default()
    };
    // Object lock turns versioning on, for good.
    let config = (input.object_lock_enabled_for_bucket == Some(true)).then_some(
        cairn_node::versioning::BucketConfig {
            versioning: cairn_node::versioning::Versioning::Enabled,
            object_lock: true,
            default_retention: None,
            lifecycle: None,
        },
    );
    let created = gw
        .node
        .create_bucket_owned(
            input.bucket.clone(),
            record,
            config,
            requester.access_key.clone(),
        )
        .await;
    gw.bucket_auth.forget(&input.bucket);
    match created {
        Err(cairn_node::Error::BucketExists) => {
            // Another key's bucket: its name is taken, nothing more is told.
            let access = gw.node.bucket_access(input.bucket.clone()).await.or_s3()?;
            let mine = match access {
                Some(a) => a.owner == requester.access_key,
                None => requester.admin,
            };
            return Err(if mine {
                s3_error!(BucketAlreadyOwnedByYou)
            } else {
                s3_error!(BucketAlreadyExists)
            });
        }
        other => other.or_s3()?,
    }
    super::ownership::set(gw, &input.bucket, Some(ownership)).await?;
    if let Some(acl) = acl {
        let result = gw
            .node
            .set_bucket_doc(
                input.bucket.clone(),
                crate::policy::acl::DOC_KIND,
                Some(acl.encode().into_bytes()),
            )
            .await;
        gw.bucket_auth.forget(&input.bucket);
        result.or_s3()?;
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", input.bucket)),
    }))
}

pub async fn head_bucket(
    gw: &Gateway,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let rec = gw.node.get_bucket(req.input.bucket).await.or_s3()?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(rec.location),
        ..Default::default()
    }))
}

pub async fn delete_bucket(
    gw: &Gateway,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let bucket = req.input.bucket;
    let result = gw.node.delete_bucket(bucket.clone()).await;
    gw.bucket_auth.forget(&bucket);
    result.or_s3()?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

/// Most buckets one ListBuckets page may ask for with `max-buckets`.
const MAX_BUCKETS: i32 = 10_000;

/// ListBuckets in name order, filtered by `prefix` and `bucket-region`, paged by
/// `max-buckets` with an opaque continuation token (the last name returned).
pub async fn list_buckets(
    gw: &Gateway,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let Some(requester) = crate::auth::requester(&req.extensions) else {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    };
    // The catalog's grants as they are now (a bucket made a moment ago included).
    let access = if requester.admin {
        None
    } else {
        Some(gw.node.access_state().await.or_s3()?.buckets)
    };
    let sees = |name: &str| match &access {
        None => true,
        Some(buckets) => buckets
            .get(name)
            .is_some_and(|a| !a.permission_of(&requester.access_key).is_none()),
    };
    let input = req.input;
    let max = match input.max_buckets {
        None => usize::MAX,
        Some(n) if (1..=MAX_BUCKETS).contains(&n) => n as usize,
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "max-buckets must be an integer between 1 and 10000"
            ))
        }
    };
    let after = input
        .continuation_token
        .as_deref()
        .map(decode_token)
        .transpose()?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let region = input.bucket_region.as_deref();
    let mut listed: Vec<(String, BucketRecord)> = gw
        .node
        .list_buckets()
        .await
        .or_s3()?
        .into_iter()
        .filter(|(name, rec)| {
            sees(name)
                && name.starts_with(&prefix)
                && after.as_ref().is_none_or(|a| name > a)
                && region.is_none_or(|r| rec.location == r)
        })
        .collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    let more = listed.len() > max;
    listed.truncate(max);
    let continuation_token = listed
        .last()
        .filter(|_| more)
        .map(|(name, _)| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name));
    let buckets = listed
        .into_iter()
        .map(|(name, rec)| Bucket {
            name: Some(name),
            creation_date: Some(timestamp(rec.created_ms)),
            bucket_region: Some(rec.location),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(super::acl::owner(&requester.access_key)),
        continuation_token,
        prefix: input.prefix,
    }))
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

pub async fn get_bucket_location(
    gw: &Gateway,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let rec = gw.node.get_bucket(req.input.bucket).await.or_s3()?;
    // S3 reports us-east-1 as an empty constraint.
    let location_constraint = (rec.location != "us-east-1").then(|| rec.location.into());
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}
