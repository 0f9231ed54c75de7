//! The catalog's chunk references, read a page at a time: every object record
//! (OBJECTS), every version row (VERSIONS) and every uploaded part (PARTS) with
//! the chunks it lists, each named by what a person would look for (bucket, key,
//! version, or upload). The scrubber walks them to find chunks a node should hold
//! but lacks, and the objects a chunk it cannot repair belongs to.

use super::db::{decode, Catalog, OBJECTS, PARTS, UPLOADS, VERSIONS};
use crate::error::Result;
use crate::ids::ChunkId;
use crate::records::{ObjectRecord, PartRecord, UploadRecord};
use crate::versioning::{version_id, VersionRow};
use serde::{Deserialize, Serialize};
use std::ops::Bound;

/// Where a walk of the references stands: in this table, after this row
/// (`None`: from its first row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefCursor {
    Objects(Option<(String, String)>),
    Versions(Option<(String, String, u64)>),
    Parts(Option<(String, u32)>),
}

impl Default for RefCursor {
    fn default() -> Self {
        RefCursor::Objects(None)
    }
}

/// One referring row and the chunks it lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkOwner {
    pub bucket: String,
    pub key: String,
    /// The version id (versioned rows), or the upload id of a part as
    /// `upload:<id>/<part>`.
    pub version: Option<String>,
    pub chunks: Vec<ChunkId>,
}

fn after<K>(last: Option<K>) -> (Bound<K>, Bound<K>) {
    (
        last.map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Unbounded,
    )
}

impl Catalog {
    /// Up to `limit` rows that list chunks, after `cursor`; with the cursor of the
    /// next page, `None` after the last. Rows without chunks (inline objects,
    /// delete markers) are skipped but count against `limit`.
    pub fn chunk_owner_page(
        &self,
        cursor: &RefCursor,
        limit: usize,
    ) -> Result<(Vec<ChunkOwner>, Option<RefCursor>)> {
        let limit = limit.max(1);
        self.read(|txn| {
            let mut out = Vec::new();
            let mut seen = 0usize;
            let mut cursor = cursor.clone();
            if let RefCursor::Objects(last) = &cursor {
                let t = txn.open_table(OBJECTS)?;
                let from = last.as_ref().map(|(b, k)| (b.as_str(), k.as_str()));
                for item in t.range(after(from))? {
                    let (key, value) = item?;
                    let (b, k) = key.value();
                    push_object(&mut out, b, k, value.value())?;
                    seen += 1;
                    if seen >= limit {
                        let next = RefCursor::Objects(Some((b.to_string(), k.to_string())));
                        return Ok((out, Some(next)));
                    }
                }
                cursor = RefCursor::Versions(None);
            }
            if let RefCursor::Versions(last) = &cursor {
                let t = txn.open_table(VERSIONS)?;
                let from = last.as_ref().map(|(b, k, s)| (b.as_str(), k.as_str(), *s));
                for item in t.range(after(from))? {
                    let (key, value) = item?;
                    let (b, k, slot) = key.value();
                    push_version(&mut out, b, k, slot, value.value())?;
                    seen += 1;
                    if seen >= limit {
                        let next = RefCursor::Versions(Some((b.to_string(), k.to_string(), slot)));
                        return Ok((out, Some(next)));
                    }
                }
                cursor = RefCursor::Parts(None);
            }
            if let RefCursor::Parts(last) = &cursor {
                let t = txn.open_table(PARTS)?;
                let uploads = txn.open_table(UPLOADS)?;
                let from = last.as_ref().map(|(u, n)| (u.as_str(), *n));
                for item in t.range(after(from))? {
                    let (key, value) = item?;
                    let (upload, number) = key.value();
                    let part: PartRecord = decode(value.value())?;
                    if !part.chunks.is_empty() {
                        let (bucket, object) = match uploads.get(upload)? {
                            Some(up) => {
                                let up: UploadRecord = decode(up.value())?;
                                (up.bucket, up.key)
                            }
                            None => (String::new(), String::new()),
                        };
                        out.push(ChunkOwner {
                            bucket,
                            key: object,
                            version: Some(format!("upload:{upload}/{number}")),
                            chunks: part.chunks.iter().map(|c| c.id).collect(),
                        });
                    }
                    seen += 1;
                    if seen >= limit {
                        let next = RefCursor::Parts(Some((upload.to_string(), number)));
                        return Ok((out, Some(next)));
                    }
                }
            }
            Ok((out, None))
        })
    }
}

fn push_object(out: &mut Vec<ChunkOwner>, bucket: &str, key: &str, bytes: &[u8]) -> Result<()> {
    let rec: ObjectRecord = decode(bytes)?;
    let chunks: Vec<ChunkId> = rec.data.chunks().iter().map(|c| c.id).collect();
    if !chunks.is_empty() {
        out.push(ChunkOwner {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version: None,
            chunks,
        });
    }
    Ok(())
}

fn push_version(
    out: &mut Vec<ChunkOwner>,
    bucket: &str,
    key: &str,
    slot: u64,
    bytes: &[u8],
) -> Result<()> {
    let row: VersionRow = decode(bytes)?;
    let Some(rec) = row.record else {
        return Ok(());
    };
    let chunks: Vec<ChunkId> = rec.data.chunks().iter().map(|c| c.id).collect();
    if !chunks.is_empty() {
        out.push(ChunkOwner {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version: Some(version_id(u64::MAX - slot, row.null)),
            chunks,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::records::{
        BucketRecord, Checksums, ChunkRef, ObjectData, ObjectMeta, WriteCondition,
    };

    fn record(data: ObjectData) -> ObjectRecord {
        ObjectRecord {
            size: 1,
            etag: "e".into(),
            last_modified_ms: 1,
            meta: ObjectMeta::default(),
            checksums: Checksums::default(),
            part_sizes: Vec::new(),
            data,
        }
    }

    #[test]
    fn pages_cover_every_chunked_object_once() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(
            &crate::storage::disk::Disk::Real,
            &dir.path().join("c.redb"),
            crate::storage::DbCaches::default().catalog,
        )
        .unwrap();
        for b in ["aaa", "bbb"] {
            cat.apply(&crate::storage::catalog::CatalogCommand::CreateBucket {
                name: b.into(),
                record: BucketRecord::default(),
            })
            .unwrap();
        }
        let mut want = Vec::new();
        for n in 0..25u32 {
            let bucket = if n % 2 == 0 { "aaa" } else { "bbb" };
            let key = format!("k{n:02}");
            let data = if n % 5 == 0 {
                ObjectData::Inline(vec![1])
            } else {
                let id = ChunkId::of(key.as_bytes());
                want.push((bucket.to_string(), key.clone(), id));
                ObjectData::Chunks(vec![ChunkRef { id, len: 3 }])
            };
            cat.put_object(bucket, &key, &record(data), &WriteCondition::Always, None)
                .unwrap();
        }
        for limit in [1, 3, 7, 100] {
            let mut cursor = RefCursor::default();
            let mut got = Vec::new();
            let mut pages = 0;
            loop {
                let (page, next) = cat.chunk_owner_page(&cursor, limit).unwrap();
                pages += 1;
                assert!(page.len() <= limit);
                for o in page {
                    assert_eq!(o.version, None);
                    got.push((o.bucket, o.key, o.chunks[0]));
                }
                match next {
                    Some(c) => cursor = c,
                    None => break,
                }
                assert!(pages < 100, "the walk does not end");
            }
            want.sort();
            got.sort();
            assert_eq!(got, want, "limit {limit}");
        }
    }
}
