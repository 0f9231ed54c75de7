//! Applying one catalog Raft entry: its commands and the state machine's
//! bookkeeping (applied index, membership) in one transaction, so a snapshot
//! dump or a crash sees all of an entry or none of it. Every command checks
//! before it writes (`command::apply_in`), so a refused one leaves the shared
//! transaction as it was; a storage failure fails the whole entry.
//!
//! Writes applied before, by request id. A writer whose reply was lost (a
//! timeout, a dropped connection after the leader committed) tries again with
//! the same request id. Applying a request whose id is in `REQUESTS` runs
//! nothing and answers the outcome recorded the first time (in the same
//! transaction as the write's effect), so a retried `If-None-Match: *` PUT does
//! not answer 412 and a retried CompleteMultipartUpload does not answer
//! NoSuchUpload. The ids of the last `KEPT_REQUESTS` requests are kept (those of
//! the oldest log entries evicted first), far more than a retry window (30 s)
//! of writes; the rows are part of the catalog snapshot, so a follower that
//! installs one deduplicates alike.

use super::command::{apply_in, outcome, CatalogCommand, CatalogRequest, Outcome};
use super::db::{decode, encode, Catalog, META, REQUESTS, REQUEST_ORDER};
use crate::error::Result;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

/// Request ids kept for deduplication.
pub const KEPT_REQUESTS: u64 = 100_000;

/// One write of a log entry: with a request id (deduplicated), or without one
/// (entries written before request ids existed, and the map a leader commits).
#[derive(Clone, Copy, Debug)]
pub enum EntryWrite<'a> {
    Once(&'a CatalogRequest),
    Plain(&'a CatalogCommand),
}

impl Catalog {
    /// Applies the writes of the log entry at `index` and sets the bookkeeping
    /// rows `meta`, all in one transaction; returns each write's outcome. A storage
    /// failure fails the whole entry and changes nothing.
    pub fn apply_entry(
        &self,
        index: u64,
        writes: &[EntryWrite<'_>],
        meta: &[(&str, Vec<u8>)],
    ) -> Result<Vec<Outcome>> {
        self.write(|txn| {
            let mut out = Vec::with_capacity(writes.len());
            for write in writes {
                out.push(match write {
                    EntryWrite::Plain(cmd) => outcome(apply_in(txn, cmd))?,
                    EntryWrite::Once(req) => match first_outcome(txn, req.id)? {
                        Some(first) => first,
                        None => {
                            let o = outcome(apply_in(txn, &req.cmd))?;
                            remember(txn, index, req.id, &o)?;
                            o
                        }
                    },
                });
            }
            evict(txn, KEPT_REQUESTS)?;
            let mut t = txn.open_table(META)?;
            for (name, value) in meta {
                t.insert(*name, value.as_slice())?;
            }
            Ok(out)
        })
    }

    /// How many request ids are kept now.
    pub fn request_ids(&self) -> Result<u64> {
        self.read(|txn| Ok(txn.open_table(REQUESTS)?.len()?))
    }
}

fn first_outcome(txn: &WriteTransaction, id: u128) -> Result<Option<Outcome>> {
    let t = txn.open_table(REQUESTS)?;
    let Some(row) = t.get(id)? else {
        return Ok(None);
    };
    let (_index, first): (u64, Outcome) = decode(row.value())?;
    Ok(Some(first))
}

fn remember(txn: &WriteTransaction, index: u64, id: u128, o: &Outcome) -> Result<()> {
    txn.open_table(REQUESTS)?
        .insert(id, encode(&(index, o))?.as_slice())?;
    txn.open_table(REQUEST_ORDER)?.insert((index, id), ())?;
    Ok(())
}

/// Drops the oldest ids beyond `keep`.
fn evict(txn: &WriteTransaction, keep: u64) -> Result<()> {
    let mut order = txn.open_table(REQUEST_ORDER)?;
    let excess = order.len()?.saturating_sub(keep);
    let mut ids = Vec::new();
    for _ in 0..excess {
        match order.pop_first()? {
            Some((k, _)) => ids.push(k.value().1),
            None => break,
        }
    }
    drop(order);
    let mut requests = txn.open_table(REQUESTS)?;
    for id in ids {
        requests.remove(id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::WireError;
    use crate::records::{
        BucketChange, BucketRecord, Checksums, ObjectData, ObjectMeta, ObjectRecord, UploadRecord,
        WriteCondition,
    };
    use crate::storage::catalog::db::BUCKETS;
    use crate::storage::catalog::CatalogReply;

    fn record() -> ObjectRecord {
        ObjectRecord {
            size: 1,
            etag: "e".into(),
            last_modified_ms: 1,
            meta: ObjectMeta::default(),
            checksums: Checksums::default(),
            part_sizes: Vec::new(),
            data: ObjectData::Inline(vec![1]),
        }
    }

    fn bucket(name: &str) -> CatalogCommand {
        CatalogCommand::CreateBucket {
            name: name.into(),
            record: BucketRecord::default(),
        }
    }

    fn open() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(
            &crate::storage::disk::Disk::Real,
            &dir.path().join("c.redb"),
            crate::storage::DbCaches::default().catalog,
        )
        .unwrap();
        (dir, cat)
    }

    #[test]
    fn an_entry_and_its_applied_index_commit_together() {
        let (_dir, cat) = open();
        let a = bucket("a");
        let out = cat
            .apply_entry(1, &[EntryWrite::Plain(&a)], &[("sm_applied", vec![1])])
            .unwrap();
        assert!(matches!(out[0], Ok(CatalogReply::Done)));
        assert!(cat.get_bucket("a").is_ok());
        assert_eq!(cat.meta("sm_applied").unwrap(), Some(vec![1]));

        // A storage failure in the entry's last command (a row that does not
        // decode): none of the entry is applied, its applied index neither.
        cat.write(|txn| {
            txn.open_table(BUCKETS)?
                .insert("broken", [0xffu8; 3].as_slice())?;
            Ok(())
        })
        .unwrap();
        let b = bucket("b");
        let update = CatalogCommand::UpdateBucket {
            name: "broken".into(),
            change: BucketChange::SetTags(Vec::new()),
        };
        let failed = cat.apply_entry(
            2,
            &[EntryWrite::Plain(&b), EntryWrite::Plain(&update)],
            &[("sm_applied", vec![2])],
        );
        assert!(failed.is_err());
        assert!(cat.get_bucket("b").is_err(), "half an entry applied");
        assert_eq!(cat.meta("sm_applied").unwrap(), Some(vec![1]));
    }

    #[test]
    fn a_refused_command_changes_nothing_in_the_shared_transaction() {
        let (_dir, cat) = open();
        let a = bucket("a");
        let upload = CatalogCommand::CreateUpload {
            upload_id: "u".into(),
            record: UploadRecord {
                bucket: "a".into(),
                key: "k".into(),
                initiated_ms: 1,
                meta: ObjectMeta::default(),
                checksum_algorithm: None,
            },
        };
        let put = CatalogCommand::PutObject {
            bucket: "a".into(),
            key: "k".into(),
            record: record(),
            cond: WriteCondition::Always,
        };
        cat.apply_entry(
            1,
            &[
                EntryWrite::Plain(&a),
                EntryWrite::Plain(&upload),
                EntryWrite::Plain(&put),
            ],
            &[],
        )
        .unwrap();
        // Completing under a condition that fails must keep the upload.
        let complete = CatalogCommand::CompleteUpload {
            upload_id: "u".into(),
            bucket: "a".into(),
            key: "k".into(),
            record: record(),
            cond: WriteCondition::IfAbsent,
        };
        let c = bucket("c");
        let out = cat
            .apply_entry(
                2,
                &[EntryWrite::Plain(&complete), EntryWrite::Plain(&c)],
                &[],
            )
            .unwrap();
        assert!(matches!(out[0], Err(WireError::PreconditionFailed)));
        assert!(matches!(out[1], Ok(CatalogReply::Done)));
        assert!(
            cat.get_upload("u").is_ok(),
            "the refused completion removed the upload"
        );
        assert!(cat.get_bucket("c").is_ok());
    }

    fn put_if_absent(id: u128, key: &str) -> CatalogRequest {
        CatalogRequest {
            id,
            cmd: CatalogCommand::PutObject {
                bucket: "b".into(),
                key: key.into(),
                record: record(),
                cond: WriteCondition::IfAbsent,
            },
        }
    }

    #[test]
    fn a_retried_request_answers_its_first_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(
            &crate::storage::disk::Disk::Real,
            &dir.path().join("c.redb"),
            crate::storage::DbCaches::default().catalog,
        )
        .unwrap();
        let create = CatalogCommand::CreateBucket {
            name: "b".into(),
            record: BucketRecord::default(),
        };
        let first = put_if_absent(7, "k");
        let out = cat
            .apply_entry(
                1,
                &[EntryWrite::Plain(&create), EntryWrite::Once(&first)],
                &[("sm_applied", vec![1])],
            )
            .unwrap();
        assert!(matches!(out[1], Ok(CatalogReply::Written(None))));
        // The same id again (a retry): the first outcome, not 412.
        let out = cat
            .apply_entry(2, &[EntryWrite::Once(&first)], &[])
            .unwrap();
        assert!(matches!(out[0], Ok(CatalogReply::Written(None))), "{out:?}");
        // Another writer of the same key: refused as before.
        let other = put_if_absent(8, "k");
        let out = cat
            .apply_entry(3, &[EntryWrite::Once(&other)], &[])
            .unwrap();
        assert!(matches!(out[0], Err(WireError::PreconditionFailed)));
        // ...and its retry keeps its own first outcome.
        let out = cat
            .apply_entry(4, &[EntryWrite::Once(&other)], &[])
            .unwrap();
        assert!(matches!(out[0], Err(WireError::PreconditionFailed)));
        assert_eq!(cat.meta("sm_applied").unwrap(), Some(vec![1]));
        assert_eq!(cat.request_ids().unwrap(), 2);
    }

    #[test]
    fn old_ids_are_evicted_in_log_order() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(
            &crate::storage::disk::Disk::Real,
            &dir.path().join("c.redb"),
            crate::storage::DbCaches::default().catalog,
        )
        .unwrap();
        cat.write(|txn| {
            for i in 0..10u64 {
                remember(txn, 100 + i, u128::from(1000 - i), &Ok(CatalogReply::Done))?;
            }
            evict(txn, 4)
        })
        .unwrap();
        assert_eq!(cat.request_ids().unwrap(), 4);
        cat.write(|txn| {
            // The four of the newest entries stay.
            for i in 0..10u64 {
                let kept = first_outcome(txn, u128::from(1000 - i))?.is_some();
                assert_eq!(kept, i >= 6, "entry {}", 100 + i);
            }
            Ok(())
        })
        .unwrap();
    }
}
