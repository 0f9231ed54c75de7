//! Multipart uploads and their parts: create, add parts, list, complete (the object
//! appears and the upload disappears in one transaction), abort.

use super::db::{decode, encode, Catalog, BUCKETS, PARTS, UPLOADS, UPLOAD_LOCKS};
use super::listing::common_prefix;
use super::versions::{config_in, lock_not_configured, put_in};
use crate::error::{Error, Result};
use crate::records::{ObjectRecord, PartRecord, UploadRecord, WriteCondition};
use crate::versioning::ObjectLock;
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UploadListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UploadSummary {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UploadList {
    pub uploads: Vec<UploadSummary>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
}

impl Catalog {
    /// Starts an upload; `lock` is the retention and legal hold its object gets.
    pub fn create_upload(
        &self,
        upload_id: &str,
        record: &UploadRecord,
        lock: Option<&ObjectLock>,
    ) -> Result<()> {
        self.write(|txn| create_upload_in(txn, upload_id, record, lock))
    }

    pub fn get_upload(&self, upload_id: &str) -> Result<UploadRecord> {
        self.read(|txn| match txn.open_table(UPLOADS)?.get(upload_id)? {
            Some(v) => decode(v.value()),
            None => Err(Error::NoSuchUpload),
        })
    }

    /// Stores (or replaces) part `number` of an upload that must still exist.
    pub fn put_part(&self, upload_id: &str, number: u32, part: &PartRecord) -> Result<()> {
        self.write(|txn| put_part_in(txn, upload_id, number, part))
    }

    /// The upload's parts in part-number order.
    pub fn list_parts(&self, upload_id: &str) -> Result<Vec<(u32, PartRecord)>> {
        self.read(|txn| {
            if txn.open_table(UPLOADS)?.get(upload_id)?.is_none() {
                return Err(Error::NoSuchUpload);
            }
            let mut out = Vec::new();
            for item in txn.open_table(PARTS)?.range((upload_id, 0u32)..)? {
                let (k, v) = item?;
                let (id, number) = k.value();
                if id != upload_id {
                    break;
                }
                out.push((number, decode(v.value())?));
            }
            Ok(out)
        })
    }

    /// Makes `record` the object `bucket/key` (if `cond` holds) and removes the upload.
    pub fn complete_upload(
        &self,
        upload_id: &str,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        cond: &WriteCondition,
    ) -> Result<Option<String>> {
        self.write(|txn| complete_upload_in(txn, upload_id, bucket, key, record, cond))
    }

    pub fn abort_upload(&self, upload_id: &str) -> Result<()> {
        self.write(|txn| remove_upload(txn, upload_id))
    }

    /// The bucket's uploads in progress, ordered by key then upload id.
    pub fn list_uploads(&self, bucket: &str, q: &UploadListQuery) -> Result<UploadList> {
        self.read(|txn| {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(Error::NoSuchBucket);
            }
            let mut all = Vec::new();
            for item in txn.open_table(UPLOADS)?.iter()? {
                let (k, v) = item?;
                let rec: UploadRecord = decode(v.value())?;
                if rec.bucket == bucket && rec.key.starts_with(q.prefix.as_str()) {
                    all.push(UploadSummary {
                        upload_id: k.value().to_string(),
                        key: rec.key,
                        initiated_ms: rec.initiated_ms,
                    });
                }
            }
            all.sort_by(|a, b| {
                (&a.key, a.initiated_ms, &a.upload_id).cmp(&(&b.key, b.initiated_ms, &b.upload_id))
            });
            let mut out = UploadList::default();
            for u in all {
                if let Some(marker) = &q.key_marker {
                    let after_id = q
                        .upload_id_marker
                        .as_ref()
                        .is_some_and(|m| u.upload_id > *m);
                    if u.key < *marker || (u.key == *marker && !after_id) {
                        continue;
                    }
                }
                let common =
                    common_prefix(&u.key, &q.prefix, q.delimiter.as_deref()).map(str::to_string);
                if let Some(cp) = &common {
                    if out.common_prefixes.last() == Some(cp) {
                        continue;
                    }
                }
                if out.uploads.len() + out.common_prefixes.len() >= q.max {
                    out.truncated = true;
                    break;
                }
                match common {
                    Some(cp) => out.common_prefixes.push(cp),
                    None => out.uploads.push(u),
                }
            }
            Ok(out)
        })
    }
}

pub(super) fn create_upload_in(
    txn: &WriteTransaction,
    upload_id: &str,
    record: &UploadRecord,
    lock: Option<&ObjectLock>,
) -> Result<()> {
    let cfg = config_in(txn, &record.bucket)?;
    if let Some(lock) = lock {
        if !cfg.object_lock {
            return Err(lock_not_configured());
        }
        txn.open_table(UPLOAD_LOCKS)?
            .insert(upload_id, encode(lock)?.as_slice())?;
    }
    txn.open_table(UPLOADS)?
        .insert(upload_id, encode(record)?.as_slice())?;
    Ok(())
}

pub(super) fn put_part_in(
    txn: &WriteTransaction,
    upload_id: &str,
    number: u32,
    part: &PartRecord,
) -> Result<()> {
    if txn.open_table(UPLOADS)?.get(upload_id)?.is_none() {
        return Err(Error::NoSuchUpload);
    }
    txn.open_table(PARTS)?
        .insert((upload_id, number), encode(part)?.as_slice())?;
    Ok(())
}

/// Checks that the upload exists and that the put may happen before changing
/// anything, so a refusal changes nothing (commands of one log entry share a
/// transaction).
pub(super) fn complete_upload_in(
    txn: &WriteTransaction,
    upload_id: &str,
    bucket: &str,
    key: &str,
    record: &ObjectRecord,
    cond: &WriteCondition,
) -> Result<Option<String>> {
    if txn.open_table(UPLOADS)?.get(upload_id)?.is_none() {
        return Err(Error::NoSuchUpload);
    }
    let lock: Option<ObjectLock> = match txn.open_table(UPLOAD_LOCKS)?.get(upload_id)? {
        Some(v) => Some(decode(v.value())?),
        None => None,
    };
    let version = put_in(txn, bucket, key, record, cond, lock.as_ref())?;
    remove_upload(txn, upload_id)?;
    Ok(version)
}

pub(super) fn remove_upload(txn: &WriteTransaction, upload_id: &str) -> Result<()> {
    if txn.open_table(UPLOADS)?.remove(upload_id)?.is_none() {
        return Err(Error::NoSuchUpload);
    }
    txn.open_table(UPLOAD_LOCKS)?.remove(upload_id)?;
    let mut parts = txn.open_table(PARTS)?;
    let numbers: Vec<u32> = {
        let mut v = Vec::new();
        for item in parts.range((upload_id, 0u32)..)? {
            let entry = item?;
            let (id, number) = entry.0.value();
            if id != upload_id {
                break;
            }
            v.push(number);
        }
        v
    };
    for n in numbers {
        parts.remove((upload_id, n))?;
    }
    Ok(())
}
