//! Lifecycle records: a bucket's lifecycle rules as stored in its `BucketConfig`
//! (filters and the actions Cairn applies: expiration of current versions and of
//! lone delete markers, expiration of noncurrent versions, abort of incomplete
//! multipart uploads), and the tests a rule makes of one object, version or
//! upload at a given time. The gateway validates documents; the lifecycle worker
//! (`node::lifecycle`) applies the rules through catalog commands.

use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 86_400_000;

/// A bucket's lifecycle configuration: its rules in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    pub rules: Vec<LifecycleRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub filter: RuleFilter,
    pub expiration: Option<Expiration>,
    pub noncurrent: Option<NoncurrentExpiration>,
    /// AbortIncompleteMultipartUpload: days after initiation.
    pub abort_after_days: Option<u32>,
}

/// Which objects a rule applies to, in the form the document gave it (so a GET
/// answers what was put).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleFilter {
    /// The rule's own `<Prefix>` (the deprecated form, outside `<Filter>`).
    LegacyPrefix(String),
    /// An empty `<Filter/>`: every object.
    All,
    Prefix(String),
    Tag(String, String),
    SizeGreaterThan(u64),
    SizeLessThan(u64),
    And {
        prefix: Option<String>,
        tags: Vec<(String, String)>,
        size_greater_than: Option<u64>,
        size_less_than: Option<u64>,
    },
}

impl RuleFilter {
    /// The key prefix the filter requires ("" for none).
    pub fn prefix(&self) -> &str {
        match self {
            RuleFilter::LegacyPrefix(p) | RuleFilter::Prefix(p) => p,
            RuleFilter::And {
                prefix: Some(p), ..
            } => p,
            _ => "",
        }
    }

    /// Whether the filter looks at tags (such rules never apply to delete markers
    /// or uploads).
    pub fn has_tags(&self) -> bool {
        match self {
            RuleFilter::Tag(..) => true,
            RuleFilter::And { tags, .. } => !tags.is_empty(),
            _ => false,
        }
    }

    /// Whether the filter looks at object sizes.
    pub fn has_size(&self) -> bool {
        match self {
            RuleFilter::SizeGreaterThan(_) | RuleFilter::SizeLessThan(_) => true,
            RuleFilter::And {
                size_greater_than,
                size_less_than,
                ..
            } => size_greater_than.is_some() || size_less_than.is_some(),
            _ => false,
        }
    }

    /// Whether an object `key` of `size` bytes with `tags` matches.
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        let has = |k: &str, v: &str| tags.iter().any(|(tk, tv)| tk == k && tv == v);
        match self {
            RuleFilter::All => true,
            RuleFilter::LegacyPrefix(p) | RuleFilter::Prefix(p) => key.starts_with(p.as_str()),
            RuleFilter::Tag(k, v) => has(k, v),
            RuleFilter::SizeGreaterThan(n) => size > *n,
            RuleFilter::SizeLessThan(n) => size < *n,
            RuleFilter::And {
                prefix,
                tags: want,
                size_greater_than,
                size_less_than,
            } => {
                prefix.as_deref().is_none_or(|p| key.starts_with(p))
                    && want.iter().all(|(k, v)| has(k, v))
                    && size_greater_than.is_none_or(|n| size > n)
                    && size_less_than.is_none_or(|n| size < n)
            }
        }
    }

    /// Whether a delete marker of `key` matches (markers have no tags or size: a
    /// filter on either never matches one).
    pub fn matches_marker(&self, key: &str) -> bool {
        !self.has_tags() && !self.has_size() && key.starts_with(self.prefix())
    }
}

/// Expiration of current versions (`days` after creation, or from `date_ms`),
/// or of delete markers that are a key's only version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiration {
    pub days: Option<u32>,
    pub date_ms: Option<i64>,
    pub expired_object_delete_marker: bool,
}

impl Expiration {
    /// Whether a current version last modified at `modified_ms` is expired at `now_ms`.
    pub fn expires(&self, modified_ms: i64, now_ms: i64) -> bool {
        let by_days = self
            .days
            .is_some_and(|d| modified_ms.saturating_add(i64::from(d) * DAY_MS) <= now_ms);
        let by_date = self.date_ms.is_some_and(|d| d <= now_ms);
        by_days || by_date
    }
}

/// Permanent deletion of versions `days` after they became noncurrent, keeping
/// the `newer_noncurrent` newest noncurrent versions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    pub days: u32,
    pub newer_noncurrent: Option<u32>,
}

impl NoncurrentExpiration {
    /// Whether a noncurrent version is expired: it became noncurrent at
    /// `noncurrent_ms` (its successor's time) and `newer` noncurrent versions of
    /// its key are newer than it.
    pub fn expires(&self, noncurrent_ms: i64, newer: u64, now_ms: i64) -> bool {
        newer >= u64::from(self.newer_noncurrent.unwrap_or(0))
            && noncurrent_ms.saturating_add(i64::from(self.days) * DAY_MS) <= now_ms
    }
}

impl LifecycleConfig {
    /// The enabled rules.
    pub fn enabled(&self) -> impl Iterator<Item = &LifecycleRule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// Whether a current object version is expired at `now_ms`.
    pub fn expires_current(
        &self,
        key: &str,
        size: u64,
        tags: &[(String, String)],
        modified_ms: i64,
        now_ms: i64,
    ) -> bool {
        self.enabled().any(|r| {
            r.expiration
                .as_ref()
                .is_some_and(|e| e.expires(modified_ms, now_ms))
                && r.filter.matches(key, size, tags)
        })
    }

    /// Whether a delete marker that is its key's only version is to be removed.
    pub fn removes_lone_marker(&self, key: &str) -> bool {
        self.enabled().any(|r| {
            r.expiration
                .as_ref()
                .is_some_and(|e| e.expired_object_delete_marker)
                && r.filter.matches_marker(key)
        })
    }

    /// Whether a noncurrent version (object, or marker when `size` is `None`) is
    /// expired at `now_ms`.
    pub fn expires_noncurrent(
        &self,
        key: &str,
        size: Option<u64>,
        tags: &[(String, String)],
        noncurrent_ms: i64,
        newer: u64,
        now_ms: i64,
    ) -> bool {
        self.enabled().any(|r| {
            r.noncurrent
                .as_ref()
                .is_some_and(|n| n.expires(noncurrent_ms, newer, now_ms))
                && match size {
                    Some(size) => r.filter.matches(key, size, tags),
                    None => r.filter.matches_marker(key),
                }
        })
    }

    /// Whether an upload of `key` initiated at `initiated_ms` is to be aborted.
    pub fn aborts_upload(&self, key: &str, initiated_ms: i64, now_ms: i64) -> bool {
        self.enabled().any(|r| {
            r.abort_after_days
                .is_some_and(|d| initiated_ms.saturating_add(i64::from(d) * DAY_MS) <= now_ms)
                && r.filter.matches_marker(key)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(filter: RuleFilter) -> LifecycleRule {
        LifecycleRule {
            id: "r".into(),
            enabled: true,
            filter,
            expiration: Some(Expiration {
                days: Some(1),
                ..Default::default()
            }),
            noncurrent: Some(NoncurrentExpiration {
                days: 2,
                newer_noncurrent: Some(1),
            }),
            abort_after_days: Some(3),
        }
    }

    #[test]
    fn filters_and_ages() {
        let cfg = LifecycleConfig {
            rules: vec![rule(RuleFilter::And {
                prefix: Some("logs/".into()),
                tags: vec![("t".into(), "1".into())],
                size_greater_than: Some(10),
                size_less_than: None,
            })],
        };
        let tags = vec![("t".to_string(), "1".to_string())];
        assert!(cfg.expires_current("logs/a", 11, &tags, 0, DAY_MS));
        assert!(!cfg.expires_current("logs/a", 11, &tags, 0, DAY_MS - 1));
        assert!(!cfg.expires_current("logs/a", 10, &tags, 0, DAY_MS));
        assert!(!cfg.expires_current("logs/a", 11, &[], 0, DAY_MS));
        assert!(!cfg.expires_current("x/a", 11, &tags, 0, DAY_MS));
        assert!(
            !cfg.removes_lone_marker("logs/a"),
            "tag filters skip markers"
        );
        assert!(cfg.expires_noncurrent("logs/a", Some(11), &tags, 0, 1, 2 * DAY_MS));
        assert!(!cfg.expires_noncurrent("logs/a", Some(11), &tags, 0, 0, 2 * DAY_MS));

        let mut all = LifecycleConfig {
            rules: vec![rule(RuleFilter::Prefix("tmp/".into()))],
        };
        assert!(all.aborts_upload("tmp/u", 0, 3 * DAY_MS));
        assert!(!all.aborts_upload("tmp/u", 1, 3 * DAY_MS));
        all.rules[0].enabled = false;
        assert!(!all.aborts_upload("tmp/u", 0, 3 * DAY_MS));
    }
}
