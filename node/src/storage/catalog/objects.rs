//! Object records: put (atomically replacing the current version, under a write
//! condition), get, update in place (tags), delete.

use super::db::{decode, encode, Catalog, BUCKETS, OBJECTS};
use crate::error::{Error, Result};
use crate::records::{ObjectChange, ObjectRecord, WriteCondition};
use redb::{ReadableTable, WriteTransaction};

impl Catalog {
    /// Makes `record` the current version of `bucket/key` if `cond` holds.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        cond: &WriteCondition,
    ) -> Result<()> {
        self.write(|txn| put_in(txn, bucket, key, record, cond))
    }

    pub fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord> {
        self.read(|txn| {
            if let Some(v) = txn.open_table(OBJECTS)?.get((bucket, key))? {
                return decode(v.value());
            }
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(Error::NoSuchBucket);
            }
            Err(Error::NoSuchKey)
        })
    }

    /// Applies `change` to the current version's record (not its data).
    pub fn update_object(&self, bucket: &str, key: &str, change: &ObjectChange) -> Result<()> {
        self.write(|txn| update_object_in(txn, bucket, key, change))
    }

    /// Deletes objects in one transaction; deleting a missing key succeeds (S3
    /// semantics).
    pub fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<()> {
        self.write(|txn| delete_objects_in(txn, bucket, keys))
    }
}

pub(super) fn update_object_in(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    change: &ObjectChange,
) -> Result<()> {
    let mut t = txn.open_table(OBJECTS)?;
    let mut record: ObjectRecord = match t.get((bucket, key))? {
        Some(v) => decode(v.value())?,
        None => return Err(missing(txn, bucket)?),
    };
    change.apply(&mut record);
    t.insert((bucket, key), encode(&record)?.as_slice())?;
    Ok(())
}

pub(super) fn delete_objects_in(
    txn: &WriteTransaction,
    bucket: &str,
    keys: &[String],
) -> Result<()> {
    if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
        return Err(Error::NoSuchBucket);
    }
    let mut t = txn.open_table(OBJECTS)?;
    for key in keys {
        t.remove((bucket, key.as_str()))?;
    }
    Ok(())
}

/// The put itself, shared with multipart completion (which also removes the
/// upload). Checks before it writes, so a refusal changes nothing.
pub(super) fn put_in(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    record: &ObjectRecord,
    cond: &WriteCondition,
) -> Result<()> {
    if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
        return Err(Error::NoSuchBucket);
    }
    let mut t = txn.open_table(OBJECTS)?;
    if *cond != WriteCondition::Always {
        let current: Option<ObjectRecord> = match t.get((bucket, key))? {
            Some(v) => Some(decode(v.value())?),
            None => None,
        };
        check(current.as_ref(), cond)?;
    }
    t.insert((bucket, key), encode(record)?.as_slice())?;
    Ok(())
}

fn check(current: Option<&ObjectRecord>, cond: &WriteCondition) -> Result<()> {
    match (cond, current) {
        (WriteCondition::Always, _) => Ok(()),
        (WriteCondition::IfAbsent, None) => Ok(()),
        (WriteCondition::IfAbsent, Some(_)) => Err(Error::PreconditionFailed),
        (WriteCondition::IfEtag(_), None) => Err(Error::NoSuchKey),
        (WriteCondition::IfEtag(e), Some(cur)) if *e == cur.etag => Ok(()),
        (WriteCondition::IfEtag(_), Some(_)) => Err(Error::PreconditionFailed),
    }
}

/// The error for a key that is not there: its bucket's absence, or its own.
fn missing(txn: &WriteTransaction, bucket: &str) -> Result<Error> {
    if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
        return Ok(Error::NoSuchBucket);
    }
    Ok(Error::NoSuchKey)
}
