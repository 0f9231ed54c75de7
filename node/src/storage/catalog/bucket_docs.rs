//! Bucket documents: settings the gateway owns and evaluates (CORS rules today),
//! stored per bucket under a kind name as the gateway encoded them. The catalog only
//! keeps them, replicates them and drops them with their bucket, so a new kind of
//! bucket setting needs no change to the catalog's rows.

use super::db::{Catalog, BUCKETS, BUCKET_DOCS};
use crate::error::{Error, Result};
use redb::{ReadableTable, WriteTransaction};

impl Catalog {
    /// The bucket's document of `kind`, if one is set (`NoSuchBucket` if the bucket
    /// is missing).
    pub fn bucket_doc(&self, bucket: &str, kind: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(Error::NoSuchBucket);
            }
            Ok(txn
                .open_table(BUCKET_DOCS)?
                .get((bucket, kind))?
                .map(|v| v.value().to_vec()))
        })
    }
}

/// Sets (or with `None` removes) the bucket's document of `kind`.
pub(super) fn set_bucket_doc_in(
    txn: &WriteTransaction,
    bucket: &str,
    kind: &str,
    doc: Option<&[u8]>,
) -> Result<()> {
    if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
        return Err(Error::NoSuchBucket);
    }
    let mut t = txn.open_table(BUCKET_DOCS)?;
    match doc {
        Some(doc) => t.insert((bucket, kind), doc)?,
        None => t.remove((bucket, kind))?,
    };
    Ok(())
}

/// Removes every document of a bucket that is being deleted.
pub(super) fn remove_bucket_docs_in(txn: &WriteTransaction, bucket: &str) -> Result<()> {
    let mut t = txn.open_table(BUCKET_DOCS)?;
    let kinds: Vec<String> = t
        .range((bucket, "")..)?
        .map_while(|item| match item {
            Ok((k, _)) if k.value().0 == bucket => Some(Ok(k.value().1.to_string())),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<std::result::Result<_, _>>()?;
    for kind in kinds {
        t.remove((bucket, kind.as_str()))?;
    }
    Ok(())
}
