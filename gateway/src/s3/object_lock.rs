//! Object lock: Put/GetObjectLockConfiguration (enabled, default retention),
//! Put/GetObjectRetention, Put/GetObjectLegalHold, and the lock a write asks for
//! with `x-amz-object-lock-*` headers. The catalog enforces the lock on every path
//! that removes or changes a version; this file turns S3 requests into locks.

use super::error::{custom, OrS3};
use super::meta::{millis, timestamp};
use super::versions::find_version;
use crate::state::Gateway;
use cairn_node::versioning::{
    ConfigChange, DefaultRetention, ObjectLock, RetentionMode, RetentionPeriod, VersionChange,
};
use http::HeaderMap;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

/// The longest default retention S3 accepts.
const MAX_RETENTION_DAYS: i64 = 36_500;

fn mode_of(mode: &str) -> S3Result<RetentionMode> {
    RetentionMode::parse(mode).ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "Unknown wormMode directive: {mode} (GOVERNANCE or COMPLIANCE)"
        )
    })
}

/// The lock a write's `x-amz-object-lock-*` headers ask for, if any.
pub fn requested_lock(
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<Option<ObjectLock>> {
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let until = millis(u);
            if until <= cairn_node::now_ms() {
                return Err(s3_error!(
                    InvalidArgument,
                    "The retain until date must be in the future!"
                ));
            }
            Some((mode_of(m.as_str())?, until))
        }
        _ => {
            return Err(s3_error!(
            InvalidArgument,
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        ))
        }
    };
    let legal_hold = match hold.map(|h| h.as_str()) {
        None | Some(ObjectLockLegalHoldStatus::OFF) => false,
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(other) => {
            return Err(s3_error!(
                InvalidArgument,
                "Legal hold status must be ON or OFF, not {other}"
            ))
        }
    };
    if retention.is_none() && hold.is_none() {
        return Ok(None);
    }
    Ok(Some(ObjectLock {
        retention,
        legal_hold,
    }))
}

/// Whether a request carries an integrity check S3 accepts for locked writes:
/// `Content-MD5` or an `x-amz-checksum-*` value (header or announced trailer).
pub fn has_integrity(headers: &HeaderMap) -> bool {
    headers.contains_key("content-md5")
        || headers.keys().any(|k| {
            k.as_str()
                .strip_prefix("x-amz-checksum-")
                .is_some_and(|a| !matches!(a, "type" | "mode" | "algorithm"))
        })
        || headers
            .get("x-amz-trailer")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().contains("x-amz-checksum-"))
}

/// The refusal of a locked write without an integrity check.
pub fn integrity_required() -> s3s::S3Error {
    s3_error!(
        InvalidRequest,
        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"
    )
}

pub async fn put_object_lock_configuration(
    gw: &Gateway,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let input = req.input;
    let Some(config) = input.object_lock_configuration else {
        return Err(s3_error!(MalformedXML));
    };
    if config.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some(ObjectLockEnabled::ENABLED) {
        return Err(s3_error!(MalformedXML, "ObjectLockEnabled must be Enabled"));
    }
    let rule = match config.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(d) => Some(default_retention(&d)?),
    };
    gw.node
        .configure_bucket(input.bucket, ConfigChange::ObjectLock(rule))
        .await
        .or_s3()?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

fn default_retention(d: &s3s::dto::DefaultRetention) -> S3Result<DefaultRetention> {
    let mode = match &d.mode {
        Some(m) => mode_of(m.as_str())?,
        None => return Err(s3_error!(MalformedXML, "DefaultRetention needs a Mode")),
    };
    let period = match (d.days, d.years) {
        (Some(days), None) if days > 0 && i64::from(days) <= MAX_RETENTION_DAYS => {
            RetentionPeriod::Days(days as u32)
        }
        (None, Some(years)) if years > 0 && i64::from(years) * 365 <= MAX_RETENTION_DAYS => {
            RetentionPeriod::Years(years as u32)
        }
        (Some(_), Some(_)) | (None, None) => {
            return Err(s3_error!(
                MalformedXML,
                "DefaultRetention needs exactly one of Days and Years"
            ))
        }
        _ => {
            return Err(custom(
                "InvalidRetentionPeriod",
                http::StatusCode::BAD_REQUEST,
                "Default retention period must be a positive integer value.",
            ))
        }
    };
    Ok(DefaultRetention { mode, period })
}

pub async fn get_object_lock_configuration(
    gw: &Gateway,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let cfg = gw.node.bucket_config(req.input.bucket).await.or_s3()?;
    if !cfg.object_lock {
        return Err(s3_error!(
            ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket"
        ));
    }
    let rule = cfg.default_retention.map(|d| {
        let (days, years) = match d.period {
            RetentionPeriod::Days(n) => (Some(n as i32), None),
            RetentionPeriod::Years(n) => (None, Some(n as i32)),
        };
        ObjectLockRule {
            default_retention: Some(s3s::dto::DefaultRetention {
                days,
                years,
                mode: Some(ObjectLockRetentionMode::from(d.mode.as_str().to_string())),
            }),
        }
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

pub async fn put_object_retention(
    gw: &Gateway,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let S3Request { input, headers, .. } = req;
    if !has_integrity(&headers) {
        return Err(integrity_required());
    }
    let retention = match input.retention {
        None => None,
        Some(r) => match (r.mode, r.retain_until_date) {
            (None, None) => None,
            (Some(m), Some(u)) => Some((mode_of(m.as_str())?, millis(&u))),
            _ => {
                return Err(s3_error!(
                    MalformedXML,
                    "Retention needs Mode and RetainUntilDate"
                ))
            }
        },
    };
    if retention.is_some_and(|(_, until)| until <= cairn_node::now_ms()) {
        return Err(s3_error!(
            InvalidArgument,
            "The retain until date must be in the future!"
        ));
    }
    let bypass = crate::auth::bypass_allowed(
        &req.extensions,
        &input.bucket,
        input.bypass_governance_retention.unwrap_or(false),
    );
    let change = VersionChange::SetRetention {
        retention,
        bypass_governance: bypass,
    };
    gw.node
        .update_version(input.bucket, input.key, input.version_id, change)
        .await
        .or_s3()?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub async fn get_object_retention(
    gw: &Gateway,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let input = req.input;
    require_lock(gw, &input.bucket).await?;
    let found = find_version(gw, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    let Some((mode, until)) = found.lock.retention else {
        return Err(s3_error!(
            NoSuchObjectLockConfiguration,
            "The specified object does not have a ObjectLock configuration"
        ));
    };
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from(mode.as_str().to_string())),
            retain_until_date: Some(timestamp(until)),
        }),
    }))
}

pub async fn put_object_legal_hold(
    gw: &Gateway,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let S3Request { input, headers, .. } = req;
    if !has_integrity(&headers) {
        return Err(integrity_required());
    }
    let on = match input
        .legal_hold
        .and_then(|h| h.status)
        .as_ref()
        .map(|s| s.as_str())
    {
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(ObjectLockLegalHoldStatus::OFF) => false,
        _ => {
            return Err(s3_error!(
                MalformedXML,
                "LegalHold Status must be ON or OFF"
            ))
        }
    };
    gw.node
        .update_version(
            input.bucket,
            input.key,
            input.version_id,
            VersionChange::SetLegalHold(on),
        )
        .await
        .or_s3()?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

pub async fn get_object_legal_hold(
    gw: &Gateway,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let input = req.input;
    require_lock(gw, &input.bucket).await?;
    let found = find_version(gw, &input.bucket, &input.key, input.version_id.as_deref()).await?;
    let status = if found.lock.legal_hold {
        ObjectLockLegalHoldStatus::ON
    } else {
        ObjectLockLegalHoldStatus::OFF
    };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from_static(status)),
        }),
    }))
}

/// Refuses lock reads on a bucket without object lock, as S3 does.
async fn require_lock(gw: &Gateway, bucket: &str) -> S3Result<()> {
    if gw
        .node
        .bucket_config(bucket.into())
        .await
        .or_s3()?
        .object_lock
    {
        Ok(())
    } else {
        Err(s3_error!(
            InvalidRequest,
            "Bucket is missing Object Lock Configuration"
        ))
    }
}
