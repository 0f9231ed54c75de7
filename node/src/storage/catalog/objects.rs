//! Object records through the unversioned commands (put under a write condition,
//! get, tag, delete), each carried out by the version-aware code in `versions`
//! so that a bucket's versioning decides what a write does.

use super::db::Catalog;
use super::versions::{delete_versions_in, put_in, update_in};
use crate::error::{Error, Result};
use crate::records::{ObjectChange, ObjectRecord, WriteCondition};
use crate::versioning::{DeleteTarget, ObjectLock, VersionChange};
use redb::WriteTransaction;

impl Catalog {
    /// Makes `record` the current version of `bucket/key` if `cond` holds; in a
    /// versioned bucket it becomes a new version, whose id is returned.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        cond: &WriteCondition,
        lock: Option<&ObjectLock>,
    ) -> Result<Option<String>> {
        self.write(|txn| put_in(txn, bucket, key, record, cond, lock))
    }

    /// The current version's record, data included (a versioned key's bytes are
    /// in its VERSIONS row: `get_version` finds either).
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord> {
        self.get_version(bucket, key, None)?
            .row
            .record
            .ok_or(Error::NoSuchKey)
    }

    /// Applies `change` to the current version's record (not its data).
    pub fn update_object(&self, bucket: &str, key: &str, change: &ObjectChange) -> Result<()> {
        self.write(|txn| update_object_in(txn, bucket, key, change))
    }

    /// Deletes the current versions of `keys`; deleting a missing key succeeds (S3
    /// semantics). The command of log entries from before versioning (whose buckets
    /// were unversioned); a versioned bucket would get delete markers dated 0, as
    /// the command carries no time and every replica must apply it alike.
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
    let ObjectChange::SetTags(tags) = change;
    update_in(
        txn,
        bucket,
        key,
        None,
        &VersionChange::SetTags(tags.clone()),
        0,
    )
}

pub(super) fn delete_objects_in(
    txn: &WriteTransaction,
    bucket: &str,
    keys: &[String],
) -> Result<()> {
    let targets: Vec<DeleteTarget> = keys
        .iter()
        .map(|key| DeleteTarget {
            key: key.clone(),
            version_id: None,
        })
        .collect();
    delete_versions_in(txn, bucket, &targets, 0, false).map(drop)
}
