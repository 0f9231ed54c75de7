//! Listing a bucket's versions (S3 ListObjectVersions): keys in UTF-8 byte order,
//! each key's versions and delete markers newest first, with prefix, delimiter,
//! key / version-id markers and a page size. Keys that have no version rows yet
//! (written before versioning) appear as their one `null` version, merged in key
//! order from OBJECTS. Reads at most one page of keys past the start position; a
//! common prefix costs one seek past its keys (`seek_past`).

use super::db::{decode, Catalog, BUCKETS, OBJECTS, VERSIONS};
use super::listing::{after_prefix, common_prefix};
use crate::error::{Error, Result};
use crate::records::ObjectHead;
use crate::versioning::{parse_version_id, version_id, VersionRow, NULL_VERSION};
use redb::ReadOnlyTable;
use serde::{Deserialize, Serialize};
use std::iter::Peekable;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VersionListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub key: String,
    pub version_id: String,
    pub latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VersionPage {
    pub versions: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// One row of either table, owned: key, slot (`None` for an OBJECTS record), bytes.
type Item = (String, Option<u64>, Vec<u8>);

impl Catalog {
    pub fn list_versions(&self, bucket: &str, q: &VersionListQuery) -> Result<VersionPage> {
        self.read(|txn| {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(Error::NoSuchBucket);
            }
            // Where the version-id marker leaves off inside the key marker's versions.
            let resume: Option<Resume> = match (&q.key_marker, q.version_id_marker.as_deref()) {
                (Some(_), Some(NULL_VERSION)) => Some(Resume::AfterNull),
                (Some(_), Some(id)) => Some(Resume::AfterSlot(
                    u64::MAX
                        - parse_version_id(id).ok_or_else(|| {
                            Error::InvalidArgument("Invalid version id marker".into())
                        })?,
                )),
                _ => None,
            };
            let from = match &q.key_marker {
                Some(m) if m.as_str() > q.prefix.as_str() => m.as_str(),
                _ => q.prefix.as_str(),
            };
            let versions = txn.open_table(VERSIONS)?;
            let objects = txn.open_table(OBJECTS)?;
            let (mut vs, mut os) = streams(&versions, &objects, bucket, from)?;
            let mut page = VersionPage::default();
            let mut last_prefix: Option<String> = None;
            while let Some(key) = next_key(&mut vs, &mut os)? {
                if key.is_empty() || !key.starts_with(q.prefix.as_str()) {
                    break; // past the bucket (marked empty) or the prefix
                }
                let at_marker = q.key_marker.as_deref() == Some(key.as_str());
                let before_marker = q.key_marker.as_deref().is_some_and(|m| key.as_str() < m);
                let rows = take_key(&key, &mut vs, &mut os)?;
                if before_marker || (at_marker && resume.is_none()) {
                    continue;
                }
                if let Some(cp) = common_prefix(&key, &q.prefix, q.delimiter.as_deref()) {
                    if last_prefix.as_deref() == Some(cp)
                        || q.key_marker.as_deref().is_some_and(|m| cp <= m)
                    {
                        seek_past(cp, &key, &mut vs, &mut os, (&versions, &objects, bucket))?;
                        continue;
                    }
                    if full(&page, q.max) {
                        page.truncated = true;
                        break;
                    }
                    page.common_prefixes.push(cp.to_string());
                    last_prefix = Some(cp.to_string());
                    page.next_key_marker = Some(cp.to_string());
                    page.next_version_id_marker = None;
                    seek_past(cp, &key, &mut vs, &mut os, (&versions, &objects, bucket))?;
                    continue;
                }
                let mut skipping = at_marker;
                for (i, (slot, bytes)) in rows.into_iter().enumerate() {
                    let entry = entry_of(&key, slot, &bytes, i == 0)?;
                    if skipping {
                        match resume.as_ref().map(|r| r.place(slot, &entry)) {
                            Some(Place::Before) | None => continue,
                            Some(Place::At) => {
                                skipping = false;
                                continue;
                            }
                            Some(Place::After) => skipping = false,
                        }
                    }
                    if full(&page, q.max) {
                        page.truncated = true;
                        return Ok(page);
                    }
                    page.next_key_marker = Some(key.clone());
                    page.next_version_id_marker = Some(entry.version_id.clone());
                    page.versions.push(entry);
                }
            }
            Ok(page)
        })
    }
}

/// Where a page resumes inside the versions of the key marker: after the
/// version named by the version-id marker.
enum Resume {
    AfterSlot(u64),
    AfterNull,
}

/// Where a row of the key marker lies relative to the version-id marker.
enum Place {
    Before,
    At,
    After,
}

impl Resume {
    fn place(&self, slot: Option<u64>, entry: &VersionEntry) -> Place {
        match (self, slot) {
            (Resume::AfterSlot(s), Some(x)) if x < *s => Place::Before,
            (Resume::AfterSlot(s), Some(x)) if x == *s => Place::At,
            (Resume::AfterSlot(_), _) => Place::After,
            (Resume::AfterNull, _) if entry.version_id == NULL_VERSION => Place::At,
            (Resume::AfterNull, _) => Place::Before,
        }
    }
}

type Versions = ReadOnlyTable<(&'static str, &'static str, u64), &'static [u8]>;
type Objects = ReadOnlyTable<(&'static str, &'static str), &'static [u8]>;
type Stream<'t> = Peekable<Box<dyn Iterator<Item = Result<Item>> + 't>>;

/// The rows of both tables from key `from` of `bucket` on, in key order.
fn streams<'t>(
    versions: &'t Versions,
    objects: &'t Objects,
    bucket: &'t str,
    from: &str,
) -> Result<(Stream<'t>, Stream<'t>)> {
    let vs: Box<dyn Iterator<Item = Result<Item>> + 't> =
        Box::new(versions.range((bucket, from, 0u64)..)?.map(move |item| {
            let (k, v) = item?;
            let (b, key, s) = k.value();
            Ok((marker_key(b, bucket, key), Some(s), v.value().to_vec()))
        }));
    let os: Box<dyn Iterator<Item = Result<Item>> + 't> =
        Box::new(objects.range((bucket, from)..)?.map(move |item| {
            let (k, v) = item?;
            let (b, key) = k.value();
            Ok((marker_key(b, bucket, key), None, v.value().to_vec()))
        }));
    Ok((vs.peekable(), os.peekable()))
}

/// After common prefix `cp` (of `key`, whose rows are taken): both streams start
/// again past every key under it, so a page of a bucket root reads O(page) rows
/// however many keys (and versions) share a prefix. Not taken when it would not
/// move forward (keys continuing `cp` with U+10FFFF, see `after_prefix`).
fn seek_past<'t>(
    cp: &str,
    key: &str,
    vs: &mut Stream<'t>,
    os: &mut Stream<'t>,
    (versions, objects, bucket): (&'t Versions, &'t Objects, &'t str),
) -> Result<()> {
    let next = after_prefix(cp);
    if next.as_str() > key {
        (*vs, *os) = streams(versions, objects, bucket, &next)?;
    }
    Ok(())
}

/// A row's key, or "" for a row of another bucket (which ends the listing).
fn marker_key(b: &str, bucket: &str, key: &str) -> String {
    if b == bucket {
        key.to_string()
    } else {
        String::new()
    }
}

fn full(page: &VersionPage, max: usize) -> bool {
    page.versions.len() + page.common_prefixes.len() >= max
}

/// The smaller key at the head of the two streams.
fn next_key<V, O>(vs: &mut Peekable<V>, os: &mut Peekable<O>) -> Result<Option<String>>
where
    V: Iterator<Item = Result<Item>>,
    O: Iterator<Item = Result<Item>>,
{
    let v = peek_key(vs)?;
    let o = peek_key(os)?;
    // "" (another bucket) ends a stream: it never wins over a real key.
    Ok(match (v, o) {
        (Some(v), Some(o)) if v.is_empty() => Some(o),
        (Some(v), Some(o)) if o.is_empty() => Some(v),
        (Some(v), Some(o)) => Some(v.min(o)),
        (v, o) => v.or(o),
    })
}

fn peek_key<I: Iterator<Item = Result<Item>>>(it: &mut Peekable<I>) -> Result<Option<String>> {
    match it.peek() {
        None => Ok(None),
        Some(Ok((k, _, _))) => Ok(Some(k.clone())),
        Some(Err(_)) => match it.next() {
            Some(Err(e)) => Err(e),
            _ => Ok(None),
        },
    }
}

/// Takes every row of `key` off both streams: its version rows, or, when it has
/// none, its OBJECTS record (as slot `None`). Newest first.
fn take_key<V, O>(
    key: &str,
    vs: &mut Peekable<V>,
    os: &mut Peekable<O>,
) -> Result<Vec<(Option<u64>, Vec<u8>)>>
where
    V: Iterator<Item = Result<Item>>,
    O: Iterator<Item = Result<Item>>,
{
    let mut rows = Vec::new();
    while peek_key(vs)?.as_deref() == Some(key) {
        if let Some(item) = vs.next() {
            let (_, slot, bytes) = item?;
            rows.push((slot, bytes));
        }
    }
    if peek_key(os)?.as_deref() == Some(key) {
        if let Some(item) = os.next() {
            let (_, slot, bytes) = item?;
            if rows.is_empty() {
                rows.push((slot, bytes));
            }
        }
    }
    Ok(rows)
}

fn entry_of(key: &str, slot: Option<u64>, bytes: &[u8], latest: bool) -> Result<VersionEntry> {
    let Some(slot) = slot else {
        let head = ObjectHead::decode(bytes)?;
        return Ok(VersionEntry {
            key: key.to_string(),
            version_id: NULL_VERSION.to_string(),
            latest,
            delete_marker: false,
            size: head.size,
            etag: head.etag,
            last_modified_ms: head.last_modified_ms,
        });
    };
    let row: VersionRow = decode(bytes)?;
    let (size, etag) = row
        .record
        .as_ref()
        .map_or((0, String::new()), |r| (r.size, r.etag.clone()));
    Ok(VersionEntry {
        key: key.to_string(),
        version_id: version_id(u64::MAX - slot, row.null),
        latest,
        delete_marker: row.record.is_none(),
        size,
        etag,
        last_modified_ms: row.last_modified_ms(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::storage::catalog::listing::tests::catalog_with;

    /// Every page of a delimiter version listing, as keys and common prefixes.
    fn walk(cat: &Catalog, prefix: &str, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let (mut key_marker, mut version_id_marker) = (None, None);
        loop {
            let q = VersionListQuery {
                prefix: prefix.into(),
                delimiter: Some("/".into()),
                key_marker: key_marker.clone(),
                version_id_marker: version_id_marker.clone(),
                max,
            };
            let page = cat.list_versions("b", &q).unwrap();
            assert!(page.versions.len() + page.common_prefixes.len() <= max);
            out.extend(page.versions.iter().map(|v| format!("k:{}", v.key)));
            out.extend(page.common_prefixes.iter().map(|p| format!("p:{p}")));
            if !page.truncated {
                return out;
            }
            key_marker = page.next_key_marker;
            version_id_marker = page.next_version_id_marker;
        }
    }

    #[test]
    fn version_pages_seek_past_common_prefixes_and_agree_at_every_page_size() {
        let mut keys: Vec<String> = (0..300).map(|n| format!("a/{n:03}")).collect();
        keys.extend(["b".into(), "c/x/1".into(), "c/y".into(), "d".into()]);
        keys.extend(["e/\u{10FFFF}".into(), "e/\u{10FFFF}z".into(), "e0".into()]);
        let (_dir, cat) = catalog_with(&keys);
        let root = ["k:b", "k:d", "k:e0", "p:a/", "p:c/", "p:e/"];
        for max in [1, 2, 3, 1000] {
            let mut got = walk(&cat, "", max);
            got.sort();
            assert_eq!(got, root, "max {max}");
        }
        assert_eq!(walk(&cat, "c/", 1), ["p:c/x/", "k:c/y"]);
        assert_eq!(walk(&cat, "a/", 1000).len(), 300);
    }
}
