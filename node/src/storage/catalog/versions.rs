//! Object versions: the VERSIONS table holds every version and delete marker of
//! the keys of buckets that were ever versioned, newest first per key; OBJECTS
//! keeps the current version (what listing and plain reads use) in step with it.
//! Keys written before their bucket was versioned have no rows yet: their one
//! OBJECTS record is the `null` version, adopted as the oldest row the first time
//! a versioned write touches the key. Every removal and retention change obeys
//! the version's lock (`ObjectLock`).

use super::db::{decode, encode, Catalog, BUCKETS, BUCKET_CONFIG, META, OBJECTS, VERSIONS};
use crate::error::{Error, Result};
use crate::records::{ObjectRecord, WriteCondition};
use crate::versioning::{
    parse_version_id, version_id, BucketConfig, DeleteOutcome, DeleteTarget, ObjectLock,
    VersionChange, VersionRow, VersionView, Versioning, NULL_VERSION,
};
use redb::{ReadableTable, WriteTransaction};

/// The META row holding the last version sequence number given out.
const VERSION_SEQ: &str = "version_seq";

/// The row key of sequence number `seq`: newer versions sort first.
fn slot(seq: u64) -> u64 {
    u64::MAX - seq
}

type VersionKey<'a> = (&'a str, &'a str, u64);

/// The rows of `bucket/key`, newest first (a lazy iterator over the table).
fn rows_of<'t, T>(
    t: &'t T,
    bucket: &str,
    key: &str,
) -> Result<impl Iterator<Item = Result<(u64, VersionRow)>> + 't>
where
    T: ReadableTable<VersionKey<'static>, &'static [u8]>,
{
    let range = t.range((bucket, key, 0u64)..=(bucket, key, u64::MAX))?;
    Ok(range.map(|item| {
        let (k, v) = item?;
        Ok((k.value().2, decode::<VersionRow>(v.value())?))
    }))
}

/// The newest row of `bucket/key`.
fn latest<T>(t: &T, bucket: &str, key: &str) -> Result<Option<(u64, VersionRow)>>
where
    T: ReadableTable<VersionKey<'static>, &'static [u8]>,
{
    rows_of(t, bucket, key)?.next().transpose()
}

/// The row a version id names: the null version, or the one with that sequence.
fn find<T>(t: &T, bucket: &str, key: &str, id: &str) -> Result<Option<(u64, VersionRow)>>
where
    T: ReadableTable<VersionKey<'static>, &'static [u8]>,
{
    if id == NULL_VERSION {
        for row in rows_of(t, bucket, key)? {
            let (s, row) = row?;
            if row.null {
                return Ok(Some((s, row)));
            }
        }
        return Ok(None);
    }
    let seq = parse_version_id(id).ok_or_else(invalid_version)?;
    match t.get((bucket, key, slot(seq)))? {
        Some(v) => {
            let row: VersionRow = decode(v.value())?;
            Ok((!row.null).then_some((slot(seq), row)))
        }
        None => Ok(None),
    }
}

fn invalid_version() -> Error {
    Error::InvalidArgument("Invalid version id specified".into())
}

/// The error for version `id` of a key that has no version rows: malformed, or
/// well-formed and not there.
fn absent_version(id: &str) -> Error {
    match parse_version_id(id) {
        Some(_) => Error::NoSuchVersion,
        None => invalid_version(),
    }
}

/// The refusal of a lock asked for in a bucket without object lock.
pub(super) fn lock_not_configured() -> Error {
    Error::InvalidRequest("Bucket is missing Object Lock Configuration".into())
}

/// The settings of an existing bucket (defaults when none were ever set).
fn config_of<B, C>(buckets: &B, configs: &C, bucket: &str) -> Result<BucketConfig>
where
    B: ReadableTable<&'static str, &'static [u8]>,
    C: ReadableTable<&'static str, &'static [u8]>,
{
    if buckets.get(bucket)?.is_none() {
        return Err(Error::NoSuchBucket);
    }
    match configs.get(bucket)? {
        Some(v) => decode(v.value()),
        None => Ok(BucketConfig::default()),
    }
}

/// The settings of `bucket` inside a write transaction.
pub(super) fn config_in(txn: &WriteTransaction, bucket: &str) -> Result<BucketConfig> {
    config_of(
        &txn.open_table(BUCKETS)?,
        &txn.open_table(BUCKET_CONFIG)?,
        bucket,
    )
}

/// The settings of `bucket` inside a read transaction.
pub(super) fn config_read(txn: &redb::ReadTransaction, bucket: &str) -> Result<BucketConfig> {
    config_of(
        &txn.open_table(BUCKETS)?,
        &txn.open_table(BUCKET_CONFIG)?,
        bucket,
    )
}

fn next_seq(txn: &WriteTransaction) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let last: u64 = match meta.get(VERSION_SEQ)? {
        Some(v) => decode(v.value())?,
        None => 0,
    };
    let seq = last + 1;
    meta.insert(VERSION_SEQ, encode(&seq)?.as_slice())?;
    Ok(seq)
}

/// Gives a key written before versioning its OBJECTS record as the oldest row.
fn adopt_unversioned(txn: &WriteTransaction, bucket: &str, key: &str) -> Result<()> {
    let mut versions = txn.open_table(VERSIONS)?;
    if latest(&versions, bucket, key)?.is_some() {
        return Ok(());
    }
    let objects = txn.open_table(OBJECTS)?;
    if let Some(v) = objects.get((bucket, key))? {
        let record: ObjectRecord = decode(v.value())?;
        let row = VersionRow {
            null: true,
            marker_ms: record.last_modified_ms,
            record: Some(record),
            lock: ObjectLock::default(),
        };
        versions.insert((bucket, key, slot(0)), encode(&row)?.as_slice())?;
    }
    Ok(())
}

/// Makes OBJECTS hold the newest row's record (or nothing, under a delete marker).
fn sync_current(txn: &WriteTransaction, bucket: &str, key: &str) -> Result<()> {
    let versions = txn.open_table(VERSIONS)?;
    let newest = latest(&versions, bucket, key)?;
    let mut objects = txn.open_table(OBJECTS)?;
    match newest.and_then(|(_, row)| row.record) {
        Some(record) => objects.insert((bucket, key), encode(&mirror(&record))?.as_slice())?,
        None => objects.remove((bucket, key))?,
    };
    Ok(())
}

/// What OBJECTS keeps of a versioned key's current version: everything but its
/// data, which its VERSIONS row holds (listing, conditions and lifecycle read the
/// rest; every read of the bytes goes to VERSIONS, `Catalog::get_object` too).
fn mirror(record: &ObjectRecord) -> ObjectRecord {
    ObjectRecord {
        size: record.size,
        etag: record.etag.clone(),
        last_modified_ms: record.last_modified_ms,
        meta: record.meta.clone(),
        checksums: record.checksums.clone(),
        part_sizes: record.part_sizes.clone(),
        data: crate::records::ObjectData::Inline(Vec::new()),
    }
}

/// Removes the null version of a key (a suspended bucket's write replaces it).
fn remove_null(txn: &WriteTransaction, bucket: &str, key: &str, now_ms: i64) -> Result<()> {
    let mut versions = txn.open_table(VERSIONS)?;
    if let Some((s, row)) = find(&versions, bucket, key, NULL_VERSION)? {
        if let Some(why) = row.lock.forbids_delete(now_ms, false) {
            return Err(Error::AccessDenied(format!("Access Denied: {why}")));
        }
        versions.remove((bucket, key, s))?;
    }
    Ok(())
}

/// Adds `row` as the newest version of a key in a versioned bucket; returns its id.
fn push_row(
    txn: &WriteTransaction,
    cfg: &BucketConfig,
    bucket: &str,
    key: &str,
    mut row: VersionRow,
    now_ms: i64,
) -> Result<String> {
    adopt_unversioned(txn, bucket, key)?;
    row.null = cfg.versioning == Versioning::Suspended;
    if row.null {
        remove_null(txn, bucket, key, now_ms)?;
    }
    let seq = next_seq(txn)?;
    txn.open_table(VERSIONS)?
        .insert((bucket, key, slot(seq)), encode(&row)?.as_slice())?;
    // The new row is the newest: OBJECTS follows it without reading it back.
    let mut objects = txn.open_table(OBJECTS)?;
    match &row.record {
        Some(record) => objects.insert((bucket, key), encode(&mirror(record))?.as_slice())?,
        None => objects.remove((bucket, key))?,
    };
    Ok(version_id(seq, row.null))
}

/// The lock a new version gets: the one the request asked for, else the bucket's
/// default retention.
fn lock_for(
    cfg: &BucketConfig,
    asked: Option<&ObjectLock>,
    record: &ObjectRecord,
) -> Result<ObjectLock> {
    if let Some(lock) = asked {
        if !cfg.object_lock {
            return Err(lock_not_configured());
        }
        if lock.retention.is_some() {
            return Ok(*lock);
        }
        let mut lock = *lock;
        lock.retention = default_retention(cfg, record);
        return Ok(lock);
    }
    Ok(ObjectLock {
        retention: default_retention(cfg, record),
        legal_hold: false,
    })
}

fn default_retention(
    cfg: &BucketConfig,
    record: &ObjectRecord,
) -> Option<(crate::versioning::RetentionMode, i64)> {
    let rule = cfg.default_retention.filter(|_| cfg.object_lock)?;
    Some((rule.mode, record.last_modified_ms + rule.period.millis()))
}

/// A put under `cond`: the current version replaced (unversioned) or a new
/// version added. Returns the version id in a versioned bucket.
pub(super) fn put_in(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    record: &ObjectRecord,
    cond: &WriteCondition,
    lock: Option<&ObjectLock>,
) -> Result<Option<String>> {
    let cfg = config_in(txn, bucket)?;
    let mut objects = txn.open_table(OBJECTS)?;
    if *cond != WriteCondition::Always {
        let current: Option<ObjectRecord> = match objects.get((bucket, key))? {
            Some(v) => Some(decode(v.value())?),
            None => None,
        };
        check(current.as_ref(), cond)?;
    }
    if cfg.versioning == Versioning::Unversioned {
        if lock.is_some() {
            return Err(lock_not_configured());
        }
        objects.insert((bucket, key), encode(record)?.as_slice())?;
        return Ok(None);
    }
    drop(objects);
    let row = VersionRow {
        null: false,
        record: Some(record.clone()),
        marker_ms: record.last_modified_ms,
        lock: lock_for(&cfg, lock, record)?,
    };
    push_row(txn, &cfg, bucket, key, row, record.last_modified_ms).map(Some)
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

/// Deletes one target: the current version (unversioned), a delete marker added
/// (versioned, no version id), or one version removed for good.
fn delete_one(
    txn: &WriteTransaction,
    cfg: &BucketConfig,
    bucket: &str,
    target: &DeleteTarget,
    now_ms: i64,
    bypass_governance: bool,
) -> Result<DeleteOutcome> {
    let key = target.key.as_str();
    let mut out = DeleteOutcome {
        key: target.key.clone(),
        ..Default::default()
    };
    let has_rows = latest(&txn.open_table(VERSIONS)?, bucket, key)?.is_some();
    match target.version_id.as_deref() {
        None if cfg.versioning == Versioning::Unversioned && !has_rows => {
            txn.open_table(OBJECTS)?.remove((bucket, key))?;
        }
        Some(NULL_VERSION) if !has_rows => {
            txn.open_table(OBJECTS)?.remove((bucket, key))?;
            out.version_id = Some(NULL_VERSION.into());
        }
        None => {
            let marker = VersionRow {
                null: false,
                record: None,
                marker_ms: now_ms,
                lock: ObjectLock::default(),
            };
            out.version_id = Some(push_row(txn, cfg, bucket, key, marker, now_ms)?);
            out.delete_marker = true;
        }
        Some(id) => {
            out.version_id = Some(id.to_string());
            let mut versions = txn.open_table(VERSIONS)?;
            let Some((s, row)) = find(&versions, bucket, key, id)? else {
                return Ok(out);
            };
            if let Some(why) = row.lock.forbids_delete(now_ms, bypass_governance) {
                return Err(Error::AccessDenied(format!("Access Denied: {why}")));
            }
            if bypass_governance && row.lock.active_retention(now_ms).is_some() {
                tracing::warn!(bucket, key, version = id, "governance retention bypassed");
            }
            out.delete_marker = row.record.is_none();
            versions.remove((bucket, key, s))?;
            drop(versions);
            sync_current(txn, bucket, key)?;
        }
    }
    Ok(out)
}

impl Catalog {
    /// Deletes keys or versions (see `delete_versions_in`).
    pub fn delete_versions(
        &self,
        bucket: &str,
        targets: &[DeleteTarget],
        now_ms: i64,
        bypass_governance: bool,
    ) -> Result<Vec<DeleteOutcome>> {
        self.write(|txn| delete_versions_in(txn, bucket, targets, now_ms, bypass_governance))
    }

    /// A version of `bucket/key` (the newest when `version` is `None`), delete
    /// markers included.
    pub fn get_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<VersionView> {
        self.read(|txn| {
            let versions = txn.open_table(VERSIONS)?;
            let newest = latest(&versions, bucket, key)?;
            let Some((newest_slot, newest_row)) = newest else {
                // No rows: the OBJECTS record, if any, is the null version. (Rows
                // exist only in existing buckets: only this path checks the bucket.)
                let cfg = config_read(txn, bucket)?;
                if let Some(id) = version.filter(|v| *v != NULL_VERSION) {
                    return Err(absent_version(id));
                }
                let objects = txn.open_table(OBJECTS)?;
                let Some(v) = objects.get((bucket, key))? else {
                    return Err(if version.is_some() {
                        Error::NoSuchVersion
                    } else {
                        Error::NoSuchKey
                    });
                };
                let record: ObjectRecord = decode(v.value())?;
                return Ok(VersionView {
                    version_id: (cfg.versioning != Versioning::Unversioned)
                        .then(|| NULL_VERSION.to_string()),
                    latest: true,
                    row: VersionRow {
                        null: true,
                        marker_ms: record.last_modified_ms,
                        record: Some(record),
                        lock: ObjectLock::default(),
                    },
                });
            };
            let (s, row) = match version {
                None => (newest_slot, newest_row),
                Some(id) => find(&versions, bucket, key, id)?.ok_or(Error::NoSuchVersion)?,
            };
            Ok(VersionView {
                version_id: Some(version_id(u64::MAX - s, row.null)),
                latest: s == newest_slot,
                row,
            })
        })
    }

    /// Changes one version (the newest when `version` is `None`) in place.
    pub fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: &VersionChange,
        now_ms: i64,
    ) -> Result<()> {
        self.write(|txn| update_in(txn, bucket, key, version, change, now_ms))
    }
}

/// Deletes keys or versions; a refused target (a locked version, a malformed
/// version id) reports its error in its outcome, having changed nothing, and the
/// others go ahead.
pub(super) fn delete_versions_in(
    txn: &WriteTransaction,
    bucket: &str,
    targets: &[DeleteTarget],
    now_ms: i64,
    bypass_governance: bool,
) -> Result<Vec<DeleteOutcome>> {
    let cfg = config_in(txn, bucket)?;
    let mut outcomes = Vec::with_capacity(targets.len());
    for target in targets {
        outcomes.push(
            match delete_one(txn, &cfg, bucket, target, now_ms, bypass_governance) {
                Ok(out) => out,
                Err(Error::AccessDenied(msg)) => refused(target, "AccessDenied", msg),
                Err(Error::InvalidArgument(msg)) => refused(target, "InvalidArgument", msg),
                Err(e) => return Err(e),
            },
        );
    }
    Ok(outcomes)
}

fn refused(target: &DeleteTarget, code: &str, msg: String) -> DeleteOutcome {
    DeleteOutcome {
        key: target.key.clone(),
        version_id: target.version_id.clone(),
        delete_marker: false,
        error: Some((code.to_string(), msg)),
    }
}

pub(super) fn update_in(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    change: &VersionChange,
    now_ms: i64,
) -> Result<()> {
    let cfg = config_in(txn, bucket)?;
    if !matches!(change, VersionChange::SetTags(_) | VersionChange::SetAcl(_)) && !cfg.object_lock {
        return Err(lock_not_configured());
    }
    if cfg.versioning != Versioning::Unversioned {
        adopt_unversioned(txn, bucket, key)?;
    }
    let mut versions = txn.open_table(VERSIONS)?;
    let found = match version {
        None => latest(&versions, bucket, key)?,
        Some(id) => find(&versions, bucket, key, id)?,
    };
    let Some((s, mut row)) = found else {
        drop(versions);
        // Unversioned: tags of the one version.
        return update_unversioned(txn, bucket, key, version, change);
    };
    let Some(record) = row.record.as_mut() else {
        return Err(match version {
            None => Error::NoSuchKey,
            Some(_) => Error::InvalidRequest("the version is a delete marker".into()),
        });
    };
    match change {
        VersionChange::SetTags(tags) => record.meta.tags = tags.clone(),
        VersionChange::SetRetention {
            retention,
            bypass_governance,
        } => {
            if let Some(why) = row
                .lock
                .forbids_retention(*retention, now_ms, *bypass_governance)
            {
                return Err(Error::AccessDenied(format!("Access Denied: {why}")));
            }
            row.lock.retention = *retention;
        }
        VersionChange::SetLegalHold(on) => row.lock.legal_hold = *on,
        VersionChange::SetAcl(acl) => record.meta.set_acl(acl.clone()),
    }
    versions.insert((bucket, key, s), encode(&row)?.as_slice())?;
    drop(versions);
    sync_current(txn, bucket, key)
}

fn update_unversioned(
    txn: &WriteTransaction,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    change: &VersionChange,
) -> Result<()> {
    if let Some(id) = version.filter(|v| *v != NULL_VERSION) {
        return Err(absent_version(id));
    }
    let mut objects = txn.open_table(OBJECTS)?;
    let mut record: ObjectRecord = match objects.get((bucket, key))? {
        Some(v) => decode(v.value())?,
        None => return Err(Error::NoSuchKey),
    };
    match change {
        VersionChange::SetTags(tags) => record.meta.tags = tags.clone(),
        VersionChange::SetAcl(acl) => record.meta.set_acl(acl.clone()),
        _ => {}
    }
    objects.insert((bucket, key), encode(&record)?.as_slice())?;
    Ok(())
}
