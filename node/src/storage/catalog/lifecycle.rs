//! Lifecycle in the catalog: setting a bucket's rules (kept in its
//! `BucketConfig`), and the paged reads the lifecycle worker walks: the buckets
//! that have rules, one page of current objects after a key, one page of version
//! rows after a (key, slot), one page of uploads after an upload id. Each page
//! reads at most `limit` rows (plus one neighbour lookup per version row), so a
//! pass never holds more than a page in memory.

use super::db::{decode, encode, Catalog, BUCKET_CONFIG, OBJECTS, UPLOADS, VERSIONS};
use super::versions::config_in;
use crate::error::Result;
use crate::lifecycle::LifecycleConfig;
use crate::records::{ObjectRecord, UploadRecord};
use crate::versioning::{version_id, BucketConfig, VersionRow};
use serde::{Deserialize, Serialize};

/// A current object version, as the lifecycle rules look at it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentCandidate {
    pub key: String,
    pub size: u64,
    pub tags: Vec<(String, String)>,
    pub last_modified_ms: i64,
}

/// One row of the VERSIONS table, as the lifecycle rules look at it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionCandidate {
    pub key: String,
    /// The row's slot (the cursor of the next page).
    pub slot: u64,
    pub version_id: String,
    /// `None` for a delete marker.
    pub size: Option<u64>,
    pub tags: Vec<(String, String)>,
    /// When the next newer version of the key was written; `None` for the newest
    /// row (the current version).
    pub newer_ms: Option<i64>,
    /// Whether an older row of the key exists.
    pub has_older: bool,
}

/// Sets (or removes) a bucket's lifecycle rules; checks the bucket before it writes.
pub(super) fn set_lifecycle_in(
    txn: &redb::WriteTransaction,
    name: &str,
    config: Option<&LifecycleConfig>,
) -> Result<()> {
    let mut cfg = config_in(txn, name)?;
    cfg.lifecycle = config.cloned();
    txn.open_table(BUCKET_CONFIG)?
        .insert(name, encode(&cfg)?.as_slice())?;
    Ok(())
}

impl Catalog {
    /// Sets (or removes) the bucket's lifecycle rules.
    pub fn set_lifecycle(&self, name: &str, config: Option<&LifecycleConfig>) -> Result<()> {
        self.write(|txn| set_lifecycle_in(txn, name, config))
    }

    /// The buckets that have lifecycle rules, by name, after `after`, at most `limit`.
    pub fn lifecycle_buckets(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, LifecycleConfig)>> {
        self.read(|txn| {
            let t = txn.open_table(BUCKET_CONFIG)?;
            let mut out = Vec::new();
            for item in t.range(after.unwrap_or("")..)? {
                let (k, v) = item?;
                if Some(k.value()) == after {
                    continue;
                }
                let cfg: BucketConfig = decode(v.value())?;
                if let Some(lc) = cfg.lifecycle {
                    out.push((k.value().to_string(), lc));
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Up to `limit` current objects of `bucket` with keys after `after`.
    pub fn current_page(
        &self,
        bucket: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CurrentCandidate>> {
        self.read(|txn| {
            let t = txn.open_table(OBJECTS)?;
            let mut out = Vec::new();
            for item in t.range((bucket, after.unwrap_or(""))..)? {
                let (k, v) = item?;
                let (b, key) = k.value();
                if b != bucket || out.len() >= limit {
                    break;
                }
                if Some(key) == after {
                    continue;
                }
                let rec: ObjectRecord = decode(v.value())?;
                out.push(CurrentCandidate {
                    key: key.to_string(),
                    size: rec.size,
                    tags: rec.meta.tags,
                    last_modified_ms: rec.last_modified_ms,
                });
            }
            Ok(out)
        })
    }

    /// Up to `limit` version rows of `bucket` after `(key, slot)`, keys in order,
    /// each key's rows newest first.
    pub fn version_page(
        &self,
        bucket: &str,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> Result<Vec<VersionCandidate>> {
        self.read(|txn| {
            let t = txn.open_table(VERSIONS)?;
            let (from_key, from_slot) = after.unwrap_or(("", 0));
            let mut out = Vec::new();
            for item in t.range((bucket, from_key, from_slot)..)? {
                let (k, v) = item?;
                let (b, key, slot) = k.value();
                if b != bucket || out.len() >= limit {
                    break;
                }
                if after == Some((key, slot)) {
                    continue;
                }
                let row: VersionRow = decode(v.value())?;
                let newer = t
                    .range((bucket, key, 0u64)..(bucket, key, slot))?
                    .next_back();
                let newer_ms = match newer {
                    Some(n) => Some(decode::<VersionRow>(n?.1.value())?.last_modified_ms()),
                    None => None,
                };
                let has_older = match slot.checked_add(1) {
                    Some(next) => t
                        .range((bucket, key, next)..=(bucket, key, u64::MAX))?
                        .next()
                        .is_some(),
                    None => false,
                };
                out.push(VersionCandidate {
                    key: key.to_string(),
                    slot,
                    version_id: version_id(u64::MAX - slot, row.null),
                    size: row.record.as_ref().map(|r| r.size),
                    tags: row.record.map(|r| r.meta.tags).unwrap_or_default(),
                    newer_ms,
                    has_older,
                });
            }
            Ok(out)
        })
    }

    /// Up to `limit` multipart uploads (of any bucket) with ids after `after`.
    pub fn upload_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, UploadRecord)>> {
        self.read(|txn| {
            let t = txn.open_table(UPLOADS)?;
            let mut out = Vec::new();
            for item in t.range(after.unwrap_or("")..)? {
                let (k, v) = item?;
                if out.len() >= limit {
                    break;
                }
                if Some(k.value()) == after {
                    continue;
                }
                out.push((k.value().to_string(), decode(v.value())?));
            }
            Ok(out)
        })
    }
}
