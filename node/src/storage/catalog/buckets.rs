//! Bucket records and settings: create, look up, list, update, configure
//! (versioning, object lock), delete (only without objects or versions; the
//! multipart uploads still in progress are deleted with the bucket, as S3 does).

use super::db::{decode, encode, Catalog, BUCKETS, BUCKET_CONFIG, OBJECTS, UPLOADS, VERSIONS};
use super::uploads::remove_upload;
use super::versions::{config_in, config_read};
use crate::error::{Error, Result};
use crate::records::{BucketChange, BucketRecord, UploadRecord};
use crate::versioning::{BucketConfig, ConfigChange, Versioning};
use redb::{ReadableTable, WriteTransaction};

impl Catalog {
    /// Creates a bucket, with `config` when it starts with settings (object lock).
    pub fn create_bucket(
        &self,
        name: &str,
        record: &BucketRecord,
        config: Option<&BucketConfig>,
    ) -> Result<()> {
        self.write(|txn| create_bucket_in(txn, name, record, config))
    }

    /// The bucket's versioning and object-lock settings.
    pub fn bucket_config(&self, name: &str) -> Result<BucketConfig> {
        self.read(|txn| config_read(txn, name))
    }

    /// Changes the bucket's settings (see `configure_bucket_in`).
    pub fn configure_bucket(&self, name: &str, change: &ConfigChange) -> Result<()> {
        self.write(|txn| configure_bucket_in(txn, name, change))
    }

    pub fn get_bucket(&self, name: &str) -> Result<BucketRecord> {
        self.read(|txn| match txn.open_table(BUCKETS)?.get(name)? {
            Some(v) => decode(v.value()),
            None => Err(Error::NoSuchBucket),
        })
    }

    pub fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>> {
        self.read(|txn| {
            let mut out = Vec::new();
            for item in txn.open_table(BUCKETS)?.iter()? {
                let (k, v) = item?;
                out.push((k.value().to_string(), decode(v.value())?));
            }
            Ok(out)
        })
    }

    /// Applies `change` to the bucket's record and stores the result.
    pub fn update_bucket(&self, name: &str, change: &BucketChange) -> Result<()> {
        self.write(|txn| update_bucket_in(txn, name, change))
    }

    /// Deletes an empty bucket (no objects, no multipart uploads in progress): the
    /// meaning of `CatalogCommand::DeleteBucket`, kept for the log entries that
    /// carry it.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        self.write(|txn| delete_bucket_in(txn, name, false))
    }

    /// Deletes a bucket without objects together with its multipart uploads in
    /// progress and their parts (whose chunks become garbage for the collector).
    pub fn delete_bucket_and_uploads(&self, name: &str) -> Result<()> {
        self.write(|txn| delete_bucket_in(txn, name, true))
    }
}

pub(super) fn create_bucket_in(
    txn: &WriteTransaction,
    name: &str,
    record: &BucketRecord,
    config: Option<&BucketConfig>,
) -> Result<()> {
    let mut t = txn.open_table(BUCKETS)?;
    if t.get(name)?.is_some() {
        return Err(Error::BucketExists);
    }
    t.insert(name, encode(record)?.as_slice())?;
    if let Some(config) = config {
        txn.open_table(BUCKET_CONFIG)?
            .insert(name, encode(config)?.as_slice())?;
    }
    Ok(())
}

/// Changes a bucket's settings. Versioning of a bucket with object lock cannot be
/// suspended; object lock needs versioning enabled. Checks before it writes.
pub(super) fn configure_bucket_in(
    txn: &WriteTransaction,
    name: &str,
    change: &ConfigChange,
) -> Result<()> {
    let mut cfg = config_in(txn, name)?;
    match change {
        ConfigChange::Versioning(Versioning::Unversioned) => {
            return Err(Error::InvalidArgument(
                "a bucket's versioning can be Enabled or Suspended".into(),
            ))
        }
        ConfigChange::Versioning(Versioning::Suspended) if cfg.object_lock => {
            return Err(Error::InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
            ))
        }
        ConfigChange::Versioning(v) => cfg.versioning = *v,
        ConfigChange::ObjectLock(_) if cfg.versioning != Versioning::Enabled => {
            return Err(Error::InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                    .into(),
            ))
        }
        ConfigChange::ObjectLock(rule) => {
            cfg.object_lock = true;
            cfg.default_retention = *rule;
        }
    }
    txn.open_table(BUCKET_CONFIG)?
        .insert(name, encode(&cfg)?.as_slice())?;
    Ok(())
}

pub(super) fn update_bucket_in(
    txn: &WriteTransaction,
    name: &str,
    change: &BucketChange,
) -> Result<()> {
    let mut t = txn.open_table(BUCKETS)?;
    let mut record: BucketRecord = match t.get(name)? {
        Some(v) => decode(v.value())?,
        None => return Err(Error::NoSuchBucket),
    };
    change.apply(&mut record);
    t.insert(name, encode(&record)?.as_slice())?;
    Ok(())
}

/// Checks everything before it removes anything, so a refusal changes nothing
/// (commands of one log entry share a transaction).
pub(super) fn delete_bucket_in(
    txn: &WriteTransaction,
    name: &str,
    with_uploads: bool,
) -> Result<()> {
    let mut t = txn.open_table(BUCKETS)?;
    if t.get(name)?.is_none() {
        return Err(Error::NoSuchBucket);
    }
    let objects = txn.open_table(OBJECTS)?;
    if let Some(first) = objects.range((name, "")..)?.next() {
        if first?.0.value().0 == name {
            return Err(Error::BucketNotEmpty);
        }
    }
    let versions = txn.open_table(VERSIONS)?;
    if let Some(first) = versions.range((name, "", 0u64)..)?.next() {
        if first?.0.value().0 == name {
            return Err(Error::BucketNotEmpty);
        }
    }
    let mut uploads = Vec::new();
    for item in txn.open_table(UPLOADS)?.iter()? {
        let (id, value) = item?;
        let upload: UploadRecord = decode(value.value())?;
        if upload.bucket == name {
            if !with_uploads {
                return Err(Error::BucketNotEmpty);
            }
            uploads.push(id.value().to_string());
        }
    }
    for id in uploads {
        remove_upload(txn, &id)?;
    }
    t.remove(name)?;
    txn.open_table(BUCKET_CONFIG)?.remove(name)?;
    super::bucket_docs::remove_bucket_docs_in(txn, name)?;
    txn.open_table(super::db::BUCKET_ACCESS)?.remove(name)?;
    Ok(())
}
