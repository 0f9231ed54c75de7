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

/// A position at or after every key that starts with `cp`, except keys that continue
/// `cp` with U+10FFFF (the largest character): those the walk then passes one by one,
/// skipped by its already-returned check (a seek is taken only if it moves forward).
pub(super) fn after_prefix(cp: &str) -> String {
    format!("{cp}\u{10FFFF}")
}

impl Catalog {
    pub fn list_objects(&self, bucket: &str, q: &ListQuery) -> Result<ListPage> {
        self.read(|txn| {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(Error::NoSuchBucket);
            }
            let table = txn.open_table(OBJECTS)?;
            let mut from = match &q.start_after {
                Some(after) if after.as_str() > q.prefix.as_str() => after.clone(),
                _ => q.prefix.clone(),
            };
            let mut page = ListPage::default();
            // Each common prefix costs one seek past its keys, not a walk over them:
            // a page of a bucket root reads O(page) rows however many keys share a
            // prefix.
            'walk: loop {
                let mut past = None;
                for item in table.range((bucket, from.as_str())..)? {
                    let (k, v) = item?;
                    let (b, key) = k.value();
                    if b != bucket || !key.starts_with(q.prefix.as_str()) {
                        break 'walk;
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
                            let next = after_prefix(cp);
                            if next > from {
                                past = Some(next);
                                break;
                            }
                            continue;
                        }
                    }
                    if page.objects.len() + page.common_prefixes.len() >= q.max {
                        page.truncated = true;
                        break 'walk;
                    }
                    match common {
                        Some(cp) => {
                            page.common_prefixes.push(cp.to_string());
                            page.last = Some(cp.to_string());
                            let next = after_prefix(cp);
                            if next > from {
                                past = Some(next);
                                break;
                            }
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
                match past {
                    Some(next) => from = next,
                    None => break,
                }
            }
            Ok(page)
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::records::{
        BucketRecord, Checksums, ObjectData, ObjectMeta, ObjectRecord, WriteCondition,
    };
    use crate::storage::catalog::CatalogCommand;

    /// A catalog whose bucket "b" holds `keys` (unversioned).
    pub(in crate::storage::catalog) fn catalog_with(
        keys: &[String],
    ) -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(
            &crate::storage::disk::Disk::Real,
            &dir.path().join("c.redb"),
            crate::storage::DbCaches::default().catalog,
        )
        .unwrap();
        cat.apply(&CatalogCommand::CreateBucket {
            name: "b".into(),
            record: BucketRecord::default(),
        })
        .unwrap();
        let rec = ObjectRecord {
            size: 1,
            etag: "e".into(),
            last_modified_ms: 1,
            meta: ObjectMeta::default(),
            checksums: Checksums::default(),
            part_sizes: Vec::new(),
            data: ObjectData::Inline(vec![1]),
        };
        for key in keys {
            cat.put_object("b", key, &rec, &WriteCondition::Always, None)
                .unwrap();
        }
        (dir, cat)
    }

    /// Every page of a delimiter listing, as (objects, common prefixes) in order.
    fn walk(cat: &Catalog, prefix: &str, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut start_after = None;
        loop {
            let q = ListQuery {
                prefix: prefix.into(),
                delimiter: Some("/".into()),
                start_after: start_after.clone(),
                max,
            };
            let page = cat.list_objects("b", &q).unwrap();
            assert!(page.objects.len() + page.common_prefixes.len() <= max);
            out.extend(page.objects.iter().map(|o| format!("k:{}", o.key)));
            out.extend(page.common_prefixes.iter().map(|p| format!("p:{p}")));
            if !page.truncated {
                return out;
            }
            start_after = page.last;
        }
    }

    #[test]
    fn delimiter_pages_seek_past_common_prefixes_and_agree_at_every_page_size() {
        let mut keys: Vec<String> = (0..300).map(|n| format!("a/{n:03}")).collect();
        keys.extend(["b".into(), "c/x/1".into(), "c/y".into(), "d".into()]);
        // Keys that continue a common prefix with the largest character, where the
        // seek cannot skip them.
        keys.extend(["e/\u{10FFFF}".into(), "e/\u{10FFFF}z".into(), "e0".into()]);
        let (_dir, cat) = catalog_with(&keys);
        let root = ["k:b", "k:d", "k:e0", "p:a/", "p:c/", "p:e/"];
        for max in [1, 2, 3, 1000] {
            let mut got = walk(&cat, "", max);
            got.sort();
            assert_eq!(got, root, "max {max}");
        }
        let under_c = walk(&cat, "c/", 1);
        assert_eq!(under_c, ["p:c/x/", "k:c/y"]);
        assert_eq!(walk(&cat, "a/", 1000).len(), 300);
    }
}
