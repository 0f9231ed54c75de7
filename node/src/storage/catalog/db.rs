//! The catalog database: its tables, opening it, transactions (committed without
//! fsync; `sync` makes them durable), the Raft bookkeeping rows and the committed
//! cluster map, and the row encoding (postcard). The other files of `catalog` add
//! one family of rows each.

use crate::cluster::map::ClusterMap;
use crate::error::{Error, Result};
use crate::storage::disk::{redb_backend, Disk};
use crate::storage::ref_filter::RefFilter;
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction,
};
use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;

/// bucket name → `BucketRecord`
pub(super) const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
/// (bucket, key) → `ObjectRecord`
pub(super) const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
/// upload id → `UploadRecord`
pub(super) const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
/// (upload id, part number) → `PartRecord`
pub(super) const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");
/// access key id → secret key
pub(super) const KEYS: TableDefinition<&str, &str> = TableDefinition::new("keys");
/// (bucket, key, u64::MAX - version sequence) → `VersionRow`: every version and
/// delete marker of the keys of buckets that were ever versioned, newest first.
pub(super) const VERSIONS: TableDefinition<(&str, &str, u64), &[u8]> =
    TableDefinition::new("versions");
/// bucket name → `BucketConfig` (versioning, object lock), for buckets that set any.
pub(super) const BUCKET_CONFIG: TableDefinition<&str, &[u8]> =
    TableDefinition::new("bucket_config");
/// upload id → `ObjectLock` the completed object gets, for uploads that asked for one.
pub(super) const UPLOAD_LOCKS: TableDefinition<&str, &[u8]> = TableDefinition::new("upload_locks");
/// (bucket, kind) → a document the gateway stores and evaluates (`bucket_docs`).
pub(super) const BUCKET_DOCS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("bucket_docs");
/// State-machine bookkeeping of the Raft group (last applied entry, membership).
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// request id → (log index, `Outcome`) of its first apply (`entries`)
pub(super) const REQUESTS: TableDefinition<u128, &[u8]> = TableDefinition::new("requests");
/// (log index, request id) → (): the same requests in log order, for eviction
pub(super) const REQUEST_ORDER: TableDefinition<(u64, u128), ()> =
    TableDefinition::new("request_order");
/// access key id → `KeyRecord` (secret sealed; supersedes `KEYS`)
pub(super) const ACCESS_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("access_keys");
/// bucket name → `BucketAccess` (owner and grants)
pub(super) const BUCKET_ACCESS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("bucket_access");
/// The META row holding the committed `ClusterMap`.
pub(super) const CLUSTER_MAP: &str = "cluster_map";

pub struct Catalog {
    pub(super) db: Database,
}

impl Catalog {
    /// Opens (creating if needed) the catalog database at `path` on `disk`, with a
    /// page cache of `cache` bytes.
    pub fn open(disk: &Disk, path: &Path, cache: usize) -> Result<Self> {
        let db = redb_backend::open(disk, path, cache)?;
        let catalog = Catalog { db };
        catalog.write(|txn| {
            txn.open_table(BUCKETS)?;
            txn.open_table(OBJECTS)?;
            txn.open_table(UPLOADS)?;
            txn.open_table(PARTS)?;
            txn.open_table(KEYS)?;
            txn.open_table(META)?;
            txn.open_table(VERSIONS)?;
            txn.open_table(BUCKET_CONFIG)?;
            txn.open_table(UPLOAD_LOCKS)?;
            txn.open_table(REQUESTS)?;
            txn.open_table(REQUEST_ORDER)?;
            txn.open_table(BUCKET_DOCS)?;
            txn.open_table(ACCESS_KEYS)?;
            txn.open_table(BUCKET_ACCESS)?;
            Ok(())
        })?;
        catalog.sync()?;
        Ok(catalog)
    }

    /// Runs `f` in a write transaction, committing (without fsync) only if it
    /// succeeds.
    pub(super) fn write<R>(&self, f: impl FnOnce(&WriteTransaction) -> Result<R>) -> Result<R> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::None)?;
        let out = f(&txn)?;
        txn.commit()?;
        Ok(out)
    }

    /// Makes every earlier commit durable.
    pub fn sync(&self) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        Ok(())
    }

    /// A bookkeeping value of the Raft state machine.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| Ok(txn.open_table(META)?.get(name)?.map(|v| v.value().to_vec())))
    }

    pub fn set_meta(&self, entries: &[(&str, Vec<u8>)]) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(META)?;
            for (name, value) in entries {
                t.insert(*name, value.as_slice())?;
            }
            Ok(())
        })
    }

    /// The committed cluster map, if one was committed.
    pub fn cluster_map(&self) -> Result<Option<ClusterMap>> {
        self.meta(CLUSTER_MAP)?.map(|b| decode(&b)).transpose()
    }

    pub(super) fn read<R>(&self, f: impl FnOnce(&ReadTransaction) -> Result<R>) -> Result<R> {
        let txn = self.db.begin_read()?;
        f(&txn)
    }

    /// Every chunk id a committed object, version or uploaded part refers to, as a
    /// Bloom filter of `bytes` probed with `salt`: memory stays bounded however
    /// many objects the catalog holds.
    pub fn reference_filter(&self, bytes: usize, salt: u64) -> Result<RefFilter> {
        use crate::records::{ObjectRecord, PartRecord};
        use redb::ReadableTable;
        self.read(|txn| {
            let mut filter = RefFilter::with_bytes(bytes, salt);
            for item in txn.open_table(OBJECTS)?.iter()? {
                let rec: ObjectRecord = decode(item?.1.value())?;
                rec.data.chunks().iter().for_each(|c| filter.insert(&c.id));
            }
            for item in txn.open_table(VERSIONS)?.iter()? {
                let row: crate::versioning::VersionRow = decode(item?.1.value())?;
                if let Some(rec) = row.record {
                    rec.data.chunks().iter().for_each(|c| filter.insert(&c.id));
                }
            }
            for item in txn.open_table(PARTS)?.iter()? {
                let rec: PartRecord = decode(item?.1.value())?;
                rec.chunks.iter().for_each(|c| filter.insert(&c.id));
            }
            Ok(filter)
        })
    }
}

/// Commits `map` if its epoch is the committed one + 1.
pub(super) fn set_cluster_map_in(txn: &WriteTransaction, map: &ClusterMap) -> Result<()> {
    use redb::ReadableTable;
    let mut t = txn.open_table(META)?;
    let committed = match t.get(CLUSTER_MAP)? {
        Some(v) => decode::<ClusterMap>(v.value())?.epoch,
        None => 0,
    };
    if map.epoch != committed + 1 {
        return Err(Error::StaleMap { committed });
    }
    t.insert(CLUSTER_MAP, encode(map)?.as_slice())?;
    Ok(())
}

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(postcard::to_allocvec(value)?)
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(Error::from)
}
