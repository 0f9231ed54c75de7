//! Listing a bucket's keys in UTF-8 byte order with prefix, delimiter (common
//! prefixes), a start-after position and a page size: the engine behind S3's
//! ListObjects V1 and V2.

use super::db::{Catalog, BUCKETS, OBJECTS};
use crate::error::{Error, Result};
use crate::records::ObjectHead;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Only keys (and common prefixes) strictly after this one.
    pub start_after: Option<String>,
    pub max: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    /// More entries follow the last one returned.
    pub truncated: bool,
    /// The last key or common prefix returned (the next page's start-after).
    pub last: Option<String>,
}

/// The common prefix `key` rolls up into: `prefix` plus everything up to and
/// including the first `delimiter` after it, if there is one.
pub(super) fn common_prefix<'k>(
    key: &'k str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Option<&'k str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    key[prefix.len()..]
        .find(d)
        .map(|pos| &key[..prefix.len() + pos + d.len()])
}

impl Catalog {
    pub fn list_objects(&self, bucket: &str, q: &ListQuery) -> Result<ListPage> {
        self.read(|txn| {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(Error::NoSuchBucket);
            }
            let table = txn.open_table(OBJECTS)?;
            let from = match &q.start_after {
                Some(after) if after.as_str() > q.prefix.as_str() => after.as_str(),
                _ => q.prefix.as_str(),
            };
            let mut page = ListPage::default();
            for item in table.range((bucket, from)..)? {
                let (k, v) = item?;
                let (b, key) = k.value();
                if b != bucket || !key.starts_with(q.prefix.as_str()) {
                    break;
                }
                if q.start_after.as_deref().is_some_and(|a| key <= a) {
                    continue;
                }
                let common = common_prefix(key, &q.prefix, q.delimiter.as_deref());
                if let Some(cp) = common {
                    // Already returned, or at/before the start position.
                    if page.last.as_deref() == Some(cp)
                        || q.start_after.as_deref().is_some_and(|a| cp <= a)
                    {
                        continue;
                    }
                }
                if page.objects.len() + page.common_prefixes.len() >= q.max {
                    page.truncated = true;
                    break;
                }
                match common {
                    Some(cp) => {
                        page.common_prefixes.push(cp.to_string());
                        page.last = Some(cp.to_string());
                    }
                    None => {
                        let head = ObjectHead::decode(v.value())?;
                        page.objects.push(ObjectSummary {
                            key: key.to_string(),
                            size: head.size,
                            etag: head.etag,
                            last_modified_ms: head.last_modified_ms,
                        });
                        page.last = Some(key.to_string());
                    }
                }
            }
            Ok(page)
        })
    }
}
