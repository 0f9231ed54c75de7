//! What each bucket holds, as clients count it: keys with a current version,
//! versions (current and noncurrent), delete markers, and logical bytes (the sizes
//! of every version added up — what the data would take without deduplication).
//! One pass over OBJECTS and VERSIONS in a read transaction; memory is one entry
//! per bucket, time grows with the rows (for `cairn cluster status` and the
//! gateway's `/metrics`, refreshed in the background, never per request).

use super::db::{decode, Catalog, OBJECTS, VERSIONS};
use crate::error::Result;
use crate::records::ObjectHead;
use crate::versioning::VersionRow;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    /// Keys whose newest version is an object (what ListObjects shows).
    pub keys: u64,
    /// Versions that are objects, current or not.
    pub versions: u64,
    pub delete_markers: u64,
    /// Sizes of every version added up.
    pub logical_bytes: u64,
}

impl Catalog {
    pub fn bucket_usage(&self) -> Result<BTreeMap<String, BucketUsage>> {
        self.read(|txn| {
            let mut out: BTreeMap<String, BucketUsage> = BTreeMap::new();
            let objects = txn.open_table(OBJECTS)?;
            let versions = txn.open_table(VERSIONS)?;
            for item in objects.iter()? {
                let (k, v) = item?;
                let (bucket, key) = k.value();
                let usage = out.entry(bucket.to_string()).or_default();
                usage.keys += 1;
                // A key with version rows is counted from them below.
                let versioned = versions
                    .range((bucket, key, 0u64)..=(bucket, key, u64::MAX))?
                    .next()
                    .is_some();
                if !versioned {
                    usage.versions += 1;
                    usage.logical_bytes += ObjectHead::decode(v.value())?.size;
                }
            }
            for item in versions.iter()? {
                let (k, v) = item?;
                let usage = out.entry(k.value().0.to_string()).or_default();
                let row: VersionRow = decode(v.value())?;
                match row.record {
                    Some(record) => {
                        usage.versions += 1;
                        usage.logical_bytes += record.size;
                    }
                    None => usage.delete_markers += 1,
                }
            }
            Ok(out)
        })
    }
}
