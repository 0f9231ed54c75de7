//! Applying one catalog Raft entry: its commands and the state machine's
//! bookkeeping (applied index, membership) in one transaction, so a snapshot
//! dump or a crash sees all of an entry or none of it. Every command checks
//! before it writes (`command::apply_in`), so a refused one leaves the shared
//! transaction as it was; a storage failure fails the whole entry.

use super::command::{apply_in, outcome, CatalogCommand, Outcome};
use super::db::{Catalog, META};
use crate::error::Result;

/// One write of a log entry.
#[derive(Clone, Copy, Debug)]
pub enum EntryWrite<'a> {
    Plain(&'a CatalogCommand),
}

impl Catalog {
    /// Applies the writes of the log entry at `index` and sets the bookkeeping
    /// rows `meta`, all in one transaction; returns each write's outcome. A storage
    /// failure fails the whole entry and changes nothing.
    pub fn apply_entry(
        &self,
        _index: u64,
        writes: &[EntryWrite<'_>],
        meta: &[(&str, Vec<u8>)],
    ) -> Result<Vec<Outcome>> {
        self.write(|txn| {
            let mut out = Vec::with_capacity(writes.len());
            for write in writes {
                out.push(match write {
                    EntryWrite::Plain(cmd) => outcome(apply_in(txn, cmd))?,
                });
            }
            let mut t = txn.open_table(META)?;
            for (name, value) in meta {
                t.insert(*name, value.as_slice())?;
            }
            Ok(out)
        })
    }
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
        let cat = Catalog::open(&dir.path().join("c.redb")).unwrap();
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
}
