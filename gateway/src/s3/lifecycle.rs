//! Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration. A document is
//! validated as AWS validates it (rule ids unique and at most 255 characters,
//! Status Enabled or Disabled, at least one action, one filter form, sane day
//! counts) and stored in the bucket's settings in the catalog; the node's
//! lifecycle worker applies it. Transitions are refused: Cairn has one storage
//! class.

use super::error::OrS3;
use super::meta::{millis, timestamp};
use crate::state::Gateway;
use cairn_node::lifecycle::{
    Expiration, LifecycleConfig, LifecycleRule as Rule, NoncurrentExpiration, RuleFilter, DAY_MS,
};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};
use std::collections::HashSet;

/// The most rules one configuration may hold (as in AWS).
const MAX_RULES: usize = 1000;
/// The longest rule id.
const MAX_ID_LEN: usize = 255;
/// The most noncurrent versions a rule may keep.
const MAX_NEWER_NONCURRENT: i32 = 100;

pub async fn put_bucket_lifecycle_configuration(
    gw: &Gateway,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let input = req.input;
    let Some(doc) = input.lifecycle_configuration else {
        return Err(s3_error!(MalformedXML));
    };
    let config = parse_config(doc)?;
    tracing::info!(bucket = %input.bucket, rules = config.rules.len(), "lifecycle configuration set");
    gw.node
        .set_lifecycle(input.bucket, Some(config))
        .await
        .or_s3()?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub async fn get_bucket_lifecycle_configuration(
    gw: &Gateway,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let cfg = gw.node.bucket_config(req.input.bucket).await.or_s3()?;
    let Some(lc) = cfg.lifecycle.filter(|l| !l.rules.is_empty()) else {
        return Err(s3_error!(
            NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist"
        ));
    };
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(lc.rules.iter().map(rule_dto).collect()),
        ..Default::default()
    }))
}

pub async fn delete_bucket_lifecycle(
    gw: &Gateway,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    gw.node
        .set_lifecycle(req.input.bucket, None)
        .await
        .or_s3()?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
}

/// Validates a document and turns it into stored rules.
pub fn parse_config(doc: BucketLifecycleConfiguration) -> S3Result<LifecycleConfig> {
    if doc.rules.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "A lifecycle configuration needs a Rule"
        ));
    }
    if doc.rules.len() > MAX_RULES {
        return Err(s3_error!(
            InvalidRequest,
            "A lifecycle configuration holds at most {MAX_RULES} rules"
        ));
    }
    let mut ids = HashSet::new();
    let mut rules = Vec::with_capacity(doc.rules.len());
    for (n, r) in doc.rules.into_iter().enumerate() {
        let rule = parse_rule(r, n)?;
        if !ids.insert(rule.id.clone()) {
            return Err(s3_error!(
                InvalidArgument,
                "Rule ID must be unique. Found same ID for more than one rule"
            ));
        }
        rules.push(rule);
    }
    Ok(LifecycleConfig { rules })
}

fn parse_rule(r: LifecycleRule, n: usize) -> S3Result<Rule> {
    let id = match r.id {
        Some(id) if id.chars().count() > MAX_ID_LEN => {
            return Err(s3_error!(
                InvalidArgument,
                "ID length should not exceed allowed limit of {MAX_ID_LEN}"
            ))
        }
        Some(id) if !id.is_empty() => id,
        // AWS makes up an id for a rule without one.
        _ => format!("rule-{}", n + 1),
    };
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        other => {
            return Err(s3_error!(
                MalformedXML,
                "Status must be Enabled or Disabled, not {other:?}"
            ))
        }
    };
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    {
        return Err(s3_error!(
            NotImplemented,
            "Lifecycle transitions are not supported: Cairn has a single storage class (use Expiration or NoncurrentVersionExpiration)"
        ));
    }
    let filter = parse_filter(r.filter, r.prefix)?;
    let expiration = r.expiration.map(parse_expiration).transpose()?;
    let noncurrent = r
        .noncurrent_version_expiration
        .map(parse_noncurrent)
        .transpose()?;
    let abort_after_days = match r.abort_incomplete_multipart_upload {
        None => None,
        Some(a) => Some(positive_days(
            a.days_after_initiation,
            "DaysAfterInitiation",
        )?),
    };
    if expiration.is_none() && noncurrent.is_none() && abort_after_days.is_none() {
        return Err(s3_error!(
            InvalidRequest,
            "At least one action needs to be specified in a rule"
        ));
    }
    if filter.has_tags() || filter.has_size() {
        if abort_after_days.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "AbortIncompleteMultipartUpload cannot be specified with Tags or object size filters"
            ));
        }
        if expiration
            .as_ref()
            .is_some_and(|e| e.expired_object_delete_marker)
        {
            return Err(s3_error!(
                InvalidRequest,
                "ExpiredObjectDeleteMarker cannot be specified with Tags or object size filters"
            ));
        }
    }
    Ok(Rule {
        id,
        enabled,
        filter,
        expiration,
        noncurrent,
        abort_after_days,
    })
}

fn positive_days(days: Option<i32>, what: &str) -> S3Result<u32> {
    match days {
        Some(d) if d > 0 => Ok(d as u32),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "'{what}' in a lifecycle rule must be a positive integer"
        )),
        None => Err(s3_error!(MalformedXML, "'{what}' is missing")),
    }
}

fn parse_expiration(e: LifecycleExpiration) -> S3Result<Expiration> {
    let marker = e.expired_object_delete_marker.unwrap_or(false);
    let given = usize::from(e.days.is_some())
        + usize::from(e.date.is_some())
        + usize::from(e.expired_object_delete_marker.is_some());
    if given != 1 {
        return Err(s3_error!(
            MalformedXML,
            "Expiration needs exactly one of Days, Date and ExpiredObjectDeleteMarker"
        ));
    }
    let days = match e.days {
        None => None,
        Some(d) => Some(positive_days(Some(d), "Days")?),
    };
    let date_ms = e.date.as_ref().map(millis);
    if date_ms.is_some_and(|d| d.rem_euclid(DAY_MS) != 0) {
        return Err(s3_error!(InvalidArgument, "'Date' must be at midnight GMT"));
    }
    Ok(Expiration {
        days,
        date_ms,
        expired_object_delete_marker: marker,
    })
}

fn parse_noncurrent(n: NoncurrentVersionExpiration) -> S3Result<NoncurrentExpiration> {
    let days = positive_days(n.noncurrent_days, "NoncurrentDays")?;
    let newer_noncurrent = match n.newer_noncurrent_versions {
        None => None,
        Some(v) if (1..=MAX_NEWER_NONCURRENT).contains(&v) => Some(v as u32),
        Some(_) => {
            return Err(s3_error!(
                InvalidArgument,
                "NewerNoncurrentVersions must be between 1 and {MAX_NEWER_NONCURRENT}"
            ))
        }
    };
    Ok(NoncurrentExpiration {
        days,
        newer_noncurrent,
    })
}

fn size(v: Option<i64>, what: &str) -> S3Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(n as u64)),
        Some(_) => Err(s3_error!(InvalidArgument, "{what} must not be negative")),
    }
}

fn tag(t: Tag) -> S3Result<(String, String)> {
    match t.key {
        Some(k) if !k.is_empty() => Ok((k, t.value.unwrap_or_default())),
        _ => Err(s3_error!(InvalidTag, "A tag filter needs a Key")),
    }
}

fn parse_filter(
    filter: Option<LifecycleRuleFilter>,
    prefix: Option<String>,
) -> S3Result<RuleFilter> {
    let f = match (filter, prefix) {
        (Some(_), Some(_)) => {
            return Err(s3_error!(
                MalformedXML,
                "A rule may have a Filter or a Prefix, not both"
            ))
        }
        (None, Some(p)) => return Ok(RuleFilter::LegacyPrefix(p)),
        (None, None) => return Err(s3_error!(MalformedXML, "A rule needs a Filter or a Prefix")),
        (Some(f), None) => f,
    };
    let forms = usize::from(f.and.is_some())
        + usize::from(f.prefix.is_some())
        + usize::from(f.tag.is_some())
        + usize::from(f.object_size_greater_than.is_some())
        + usize::from(f.object_size_less_than.is_some());
    if forms > 1 {
        return Err(s3_error!(
            MalformedXML,
            "A Filter holds one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan and And"
        ));
    }
    let gt = size(f.object_size_greater_than, "ObjectSizeGreaterThan")?;
    let lt = size(f.object_size_less_than, "ObjectSizeLessThan")?;
    Ok(if let Some(and) = f.and {
        let tags = and
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(tag)
            .collect::<S3Result<Vec<_>>>()?;
        let size_greater_than = size(and.object_size_greater_than, "ObjectSizeGreaterThan")?;
        let size_less_than = size(and.object_size_less_than, "ObjectSizeLessThan")?;
        if let (Some(g), Some(l)) = (size_greater_than, size_less_than) {
            if g >= l {
                return Err(s3_error!(
                    InvalidArgument,
                    "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"
                ));
            }
        }
        RuleFilter::And {
            prefix: and.prefix,
            tags,
            size_greater_than,
            size_less_than,
        }
    } else if let Some(p) = f.prefix {
        RuleFilter::Prefix(p)
    } else if let Some(t) = f.tag {
        let (k, v) = tag(t)?;
        RuleFilter::Tag(k, v)
    } else if let Some(g) = gt {
        RuleFilter::SizeGreaterThan(g)
    } else if let Some(l) = lt {
        RuleFilter::SizeLessThan(l)
    } else {
        RuleFilter::All
    })
}

fn tag_dto((k, v): &(String, String)) -> Tag {
    Tag {
        key: Some(k.clone()),
        value: Some(v.clone()),
    }
}

fn filter_dto(f: &RuleFilter) -> (Option<LifecycleRuleFilter>, Option<String>) {
    let mut out = LifecycleRuleFilter::default();
    match f {
        RuleFilter::LegacyPrefix(p) => return (None, Some(p.clone())),
        RuleFilter::All => {}
        RuleFilter::Prefix(p) => out.prefix = Some(p.clone()),
        RuleFilter::Tag(k, v) => out.tag = Some(tag_dto(&(k.clone(), v.clone()))),
        RuleFilter::SizeGreaterThan(n) => out.object_size_greater_than = Some(*n as i64),
        RuleFilter::SizeLessThan(n) => out.object_size_less_than = Some(*n as i64),
        RuleFilter::And {
            prefix,
            tags,
            size_greater_than,
            size_less_than,
        } => {
            out.and = Some(LifecycleRuleAndOperator {
                prefix: prefix.clone(),
                tags: (!tags.is_empty()).then(|| tags.iter().map(tag_dto).collect()),
                object_size_greater_than: size_greater_than.map(|n| n as i64),
                object_size_less_than: size_less_than.map(|n| n as i64),
            })
        }
    }
    (Some(out), None)
}

fn rule_dto(r: &Rule) -> LifecycleRule {
    let (filter, prefix) = filter_dto(&r.filter);
    LifecycleRule {
        id: Some(r.id.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter,
        prefix,
        expiration: r.expiration.as_ref().map(|e| LifecycleExpiration {
            days: e.days.map(|d| d as i32),
            date: e.date_ms.map(timestamp),
            expired_object_delete_marker: e.expired_object_delete_marker.then_some(true),
        }),
        noncurrent_version_expiration: r.noncurrent.as_ref().map(|n| NoncurrentVersionExpiration {
            noncurrent_days: Some(n.days as i32),
            newer_noncurrent_versions: n.newer_noncurrent.map(|v| v as i32),
        }),
        abort_incomplete_multipart_upload: r.abort_after_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d as i32),
            }
        }),
        noncurrent_version_transitions: None,
        transitions: None,
    }
}
