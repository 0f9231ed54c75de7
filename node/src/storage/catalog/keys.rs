//! Access keys and bucket grants: `access_keys` (access key id → `KeyRecord`, the
//! secret sealed), `bucket_access` (bucket → owner and grants), and the legacy
//! `keys` table (access key id → plain secret) of stores made before key records,
//! read only to import its keys.

use super::db::{decode, encode, Catalog, ACCESS_KEYS, BUCKETS, BUCKET_ACCESS, KEYS};
use crate::access::{AccessState, BucketAccess, KeyRecord, Permission};
use crate::error::{Error, Result};
use redb::{ReadableTable, WriteTransaction};

impl Catalog {
    pub fn put_key(&self, access_key: &str, secret_key: &str) -> Result<()> {
        self.write(|txn| put_key_in(txn, access_key, secret_key))
    }

    pub fn get_secret(&self, access_key: &str) -> Result<Option<String>> {
        self.read(|txn| {
            Ok(txn
                .open_table(KEYS)?
                .get(access_key)?
                .map(|v| v.value().to_string()))
        })
    }

    /// All legacy (plain) keys, in order of access key id.
    pub fn list_keys(&self) -> Result<Vec<(String, String)>> {
        self.read(|txn| {
            let mut out = Vec::new();
            for item in txn.open_table(KEYS)?.iter()? {
                let (k, v) = item?;
                out.push((k.value().to_string(), v.value().to_string()));
            }
            Ok(out)
        })
    }

    pub fn key_record(&self, access_key: &str) -> Result<Option<KeyRecord>> {
        self.read(|txn| {
            txn.open_table(ACCESS_KEYS)?
                .get(access_key)?
                .map(|v| decode(v.value()))
                .transpose()
        })
    }

    pub fn bucket_access(&self, bucket: &str) -> Result<Option<BucketAccess>> {
        self.read(|txn| {
            txn.open_table(BUCKET_ACCESS)?
                .get(bucket)?
                .map(|v| decode(v.value()))
                .transpose()
        })
    }

    /// Every key record and every bucket's access, from one read transaction.
    pub fn access_state(&self) -> Result<AccessState> {
        self.read(|txn| {
            let mut state = AccessState::default();
            for item in txn.open_table(ACCESS_KEYS)?.iter()? {
                state.keys.push(decode(item?.1.value())?);
            }
            for item in txn.open_table(BUCKET_ACCESS)?.iter()? {
                let (k, v) = item?;
                state
                    .buckets
                    .insert(k.value().to_string(), decode(v.value())?);
            }
            Ok(state)
        })
    }
}

pub(super) fn put_key_in(txn: &WriteTransaction, access_key: &str, secret_key: &str) -> Result<()> {
    txn.open_table(KEYS)?.insert(access_key, secret_key)?;
    Ok(())
}

/// Adds or replaces a key record (by access key id); refused when another key has
/// its name. Drops the legacy plain row of the same id.
pub(super) fn put_key_record_in(txn: &WriteTransaction, record: &KeyRecord) -> Result<()> {
    if record.name.is_empty() || record.access_key.is_empty() {
        return Err(Error::InvalidArgument(
            "a key needs a name and an id".into(),
        ));
    }
    let mut t = txn.open_table(ACCESS_KEYS)?;
    for item in t.iter()? {
        let other: KeyRecord = decode(item?.1.value())?;
        if other.name == record.name && other.access_key != record.access_key {
            return Err(Error::InvalidArgument(format!(
                "a key named {:?} exists",
                record.name
            )));
        }
    }
    t.insert(record.access_key.as_str(), encode(record)?.as_slice())?;
    txn.open_table(KEYS)?.remove(record.access_key.as_str())?;
    Ok(())
}

fn existing_key(txn: &WriteTransaction, access_key: &str) -> Result<KeyRecord> {
    let t = txn.open_table(ACCESS_KEYS)?;
    let found = t.get(access_key)?.map(|v| decode(v.value())).transpose()?;
    found.ok_or_else(|| Error::InvalidRequest("no such access key".into()))
}

pub(super) fn set_key_enabled_in(
    txn: &WriteTransaction,
    access_key: &str,
    enabled: bool,
) -> Result<()> {
    let mut record = existing_key(txn, access_key)?;
    record.enabled = enabled;
    txn.open_table(ACCESS_KEYS)?
        .insert(access_key, encode(&record)?.as_slice())?;
    Ok(())
}

/// Deletes a key and every grant to it; buckets it owns keep it as their owner
/// (only admin keys reach them then).
pub(super) fn delete_key_in(txn: &WriteTransaction, access_key: &str) -> Result<()> {
    existing_key(txn, access_key)?;
    txn.open_table(ACCESS_KEYS)?.remove(access_key)?;
    txn.open_table(KEYS)?.remove(access_key)?;
    let mut t = txn.open_table(BUCKET_ACCESS)?;
    let mut changed = Vec::new();
    for item in t.iter()? {
        let (k, v) = item?;
        let mut access: BucketAccess = decode(v.value())?;
        if access.grants.remove(access_key).is_some() {
            changed.push((k.value().to_string(), access));
        }
    }
    for (bucket, access) in changed {
        t.insert(bucket.as_str(), encode(&access)?.as_slice())?;
    }
    Ok(())
}

/// Sets (or with no permission removes) the grant of `access_key` on `bucket`.
pub(super) fn set_grant_in(
    txn: &WriteTransaction,
    bucket: &str,
    access_key: &str,
    permission: Permission,
) -> Result<()> {
    if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
        return Err(Error::NoSuchBucket);
    }
    existing_key(txn, access_key)?;
    let mut t = txn.open_table(BUCKET_ACCESS)?;
    let found: Option<BucketAccess> = t.get(bucket)?.map(|v| decode(v.value())).transpose()?;
    let mut access = found.unwrap_or_default();
    if permission.is_none() {
        access.grants.remove(access_key);
    } else {
        access.grants.insert(access_key.to_string(), permission);
    }
    t.insert(bucket, encode(&access)?.as_slice())?;
    Ok(())
}

/// Records the owner of a bucket just created in the same transaction.
pub(super) fn set_owner_in(txn: &WriteTransaction, bucket: &str, owner: &str) -> Result<()> {
    let access = BucketAccess {
        owner: owner.to_string(),
        grants: Default::default(),
    };
    txn.open_table(BUCKET_ACCESS)?
        .insert(bucket, encode(&access)?.as_slice())?;
    Ok(())
}
