//! The catalog: buckets, current object versions, multipart uploads and parts, and
//! access keys, in one redb database. Every write is one transaction, durable
//! (fsynced) before it returns. Writes are group-committed: each transaction commits
//! without syncing, then waits until one syncing commit covers it; concurrent writers
//! share that fsync (see `group_commit`).

mod buckets;
mod group_commit;
mod keys;
mod listing;
mod objects;
mod uploads;

pub use listing::{ListPage, ListQuery, ObjectSummary};
pub use uploads::{UploadList, UploadListQuery, UploadSummary};

use crate::{Error, Result};
use group_commit::GroupCommit;
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction,
};
use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;

/// bucket name → `BucketRecord`
const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// (bucket, key) → `ObjectRecord`
const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
/// upload id → `UploadRecord`
const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
/// (upload id, part number) → `PartRecord`
const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");
/// access key id → secret key
const KEYS: TableDefinition<&str, &str> = TableDefinition::new("keys");

pub struct Catalog {
    db: Database,
    sync: GroupCommit,
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path)?;
        let catalog = Catalog {
            db,
            sync: GroupCommit::default(),
        };
        catalog.write(|txn| {
            txn.open_table(BUCKETS)?;
            txn.open_table(OBJECTS)?;
            txn.open_table(UPLOADS)?;
            txn.open_table(PARTS)?;
            txn.open_table(KEYS)?;
            Ok(())
        })?;
        Ok(catalog)
    }

    /// Runs `f` in a write transaction, committing only if it succeeds, and returns
    /// once the commit is durable.
    fn write<R>(&self, f: impl FnOnce(&WriteTransaction) -> Result<R>) -> Result<R> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::None)?;
        let out = f(&txn)?;
        txn.commit()?;
        let seq = self.sync.committed();
        self.sync.wait_durable(seq, || {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.commit()?;
            Ok(())
        })?;
        Ok(out)
    }

    fn read<R>(&self, f: impl FnOnce(&ReadTransaction) -> Result<R>) -> Result<R> {
        let txn = self.db.begin_read()?;
        f(&txn)
    }

    /// Every chunk id referenced by an object or an uploaded part.
    pub fn referenced_chunks(&self) -> Result<std::collections::HashSet<crate::ChunkId>> {
        use crate::records::{ObjectRecord, PartRecord};
        use redb::ReadableTable;
        self.read(|txn| {
            let mut set = std::collections::HashSet::new();
            for item in txn.open_table(OBJECTS)?.iter()? {
                let rec: ObjectRecord = decode(item?.1.value())?;
                set.extend(rec.data.chunks().iter().map(|c| c.id));
            }
            for item in txn.open_table(PARTS)?.iter()? {
                let rec: PartRecord = decode(item?.1.value())?;
                set.extend(rec.chunks.iter().map(|c| c.id));
            }
            Ok(set)
        })
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(postcard::to_allocvec(value)?)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(Error::from)
}
