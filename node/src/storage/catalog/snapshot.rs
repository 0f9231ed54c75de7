//! The catalog as a snapshot: a `CatalogView` pins one consistent, durable read
//! transaction (what a Raft snapshot of the catalog is — nothing is written when
//! it is taken); its rows are dumped as a stream of length-prefixed frames only
//! when a follower needs them, and loaded back by replacing all tables in one
//! write transaction. Nothing is held in memory whole.

use super::db::{
    decode, encode, Catalog, ACCESS_KEYS, BUCKETS, BUCKET_ACCESS, BUCKET_CONFIG, BUCKET_DOCS, KEYS,
    META, OBJECTS, PARTS, REQUESTS, REQUEST_ORDER, UPLOADS, UPLOAD_LOCKS, VERSIONS,
};
use crate::error::Result;
use crate::storage::frames::{read_frame, write_frame};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::sync::Arc;

/// One consistent read of the catalog, durable on disk (so the log up to it may
/// be purged). Cheap to take and to clone; while it is held, redb keeps the pages
/// it reads, so the file grows by what changed since, not by the catalog's size.
#[derive(Clone)]
pub struct CatalogView {
    txn: Arc<redb::ReadTransaction>,
}

impl std::fmt::Debug for CatalogView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogView")
    }
}

#[derive(Serialize, Deserialize)]
enum Row {
    Bucket(String, Vec<u8>),
    Object(String, String, Vec<u8>),
    Upload(String, Vec<u8>),
    Part(String, u32, Vec<u8>),
    Key(String, String),
    Meta(String, Vec<u8>),
    Version(String, String, u64, Vec<u8>),
    Config(String, Vec<u8>),
    UploadLock(String, Vec<u8>),
    /// A request id applied, with its log index and first outcome (`requests`).
    Request(u128, Vec<u8>),
    RequestOrder(u64, u128),
    Doc(String, String, Vec<u8>),
    /// access key id → `KeyRecord` (`access_keys`)
    AccessKey(String, Vec<u8>),
    /// bucket → `BucketAccess` (`bucket_access`)
    BucketAccess(String, Vec<u8>),
}

impl Catalog {
    /// Pins the catalog as it is now, made durable first.
    pub fn view(&self) -> Result<CatalogView> {
        let txn = self.db.begin_read()?;
        self.sync()?;
        Ok(CatalogView { txn: Arc::new(txn) })
    }
}

impl CatalogView {
    /// A bookkeeping value of the Raft state machine, as of this view.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .txn
            .open_table(META)?
            .get(name)?
            .map(|v| v.value().to_vec()))
    }

    /// Writes every row of the view.
    pub fn dump(&self, out: &mut impl Write) -> Result<()> {
        let mut put = |row: Row| -> Result<()> { write_frame(out, &encode(&row)?) };
        let txn = &self.txn;
        {
            for item in txn.open_table(BUCKETS)?.iter()? {
                let (k, v) = item?;
                put(Row::Bucket(k.value().into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(OBJECTS)?.iter()? {
                let (k, v) = item?;
                let (b, key) = k.value();
                put(Row::Object(b.into(), key.into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(UPLOADS)?.iter()? {
                let (k, v) = item?;
                put(Row::Upload(k.value().into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(PARTS)?.iter()? {
                let (k, v) = item?;
                let (id, n) = k.value();
                put(Row::Part(id.into(), n, v.value().to_vec()))?;
            }
            for item in txn.open_table(KEYS)?.iter()? {
                let (k, v) = item?;
                put(Row::Key(k.value().into(), v.value().into()))?;
            }
            for item in txn.open_table(VERSIONS)?.iter()? {
                let (k, v) = item?;
                let (b, key, slot) = k.value();
                put(Row::Version(b.into(), key.into(), slot, v.value().to_vec()))?;
            }
            for item in txn.open_table(BUCKET_CONFIG)?.iter()? {
                let (k, v) = item?;
                put(Row::Config(k.value().into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(UPLOAD_LOCKS)?.iter()? {
                let (k, v) = item?;
                put(Row::UploadLock(k.value().into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(REQUESTS)?.iter()? {
                let (k, v) = item?;
                put(Row::Request(k.value(), v.value().to_vec()))?;
            }
            for item in txn.open_table(REQUEST_ORDER)?.iter()? {
                let (index, id) = item?.0.value();
                put(Row::RequestOrder(index, id))?;
            }
            for item in txn.open_table(BUCKET_DOCS)?.iter()? {
                let (k, v) = item?;
                let (b, kind) = k.value();
                put(Row::Doc(b.into(), kind.into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(ACCESS_KEYS)?.iter()? {
                let (k, v) = item?;
                put(Row::AccessKey(k.value().into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(BUCKET_ACCESS)?.iter()? {
                let (k, v) = item?;
                put(Row::BucketAccess(k.value().into(), v.value().to_vec()))?;
            }
            for item in txn.open_table(META)?.iter()? {
                let (k, v) = item?;
                put(Row::Meta(k.value().into(), v.value().to_vec()))?;
            }
        }
        Ok(())
    }
}

impl Catalog {
    /// Replaces the whole catalog with the rows of a dump, durably.
    pub fn load(&self, input: &mut impl Read) -> Result<()> {
        self.write(|txn| {
            clear(txn, BUCKETS)?;
            clear(txn, OBJECTS)?;
            clear(txn, UPLOADS)?;
            clear(txn, PARTS)?;
            clear(txn, KEYS)?;
            clear(txn, META)?;
            clear(txn, VERSIONS)?;
            clear(txn, BUCKET_CONFIG)?;
            clear(txn, UPLOAD_LOCKS)?;
            clear(txn, REQUESTS)?;
            clear(txn, REQUEST_ORDER)?;
            clear(txn, BUCKET_DOCS)?;
            clear(txn, ACCESS_KEYS)?;
            clear(txn, BUCKET_ACCESS)?;
            while let Some(frame) = read_frame(input)? {
                match decode::<Row>(&frame)? {
                    Row::Bucket(k, v) => {
                        txn.open_table(BUCKETS)?.insert(k.as_str(), v.as_slice())?;
                    }
                    Row::Object(b, k, v) => {
                        txn.open_table(OBJECTS)?
                            .insert((b.as_str(), k.as_str()), v.as_slice())?;
                    }
                    Row::Upload(k, v) => {
                        txn.open_table(UPLOADS)?.insert(k.as_str(), v.as_slice())?;
                    }
                    Row::Part(id, n, v) => {
                        txn.open_table(PARTS)?
                            .insert((id.as_str(), n), v.as_slice())?;
                    }
                    Row::Key(k, v) => {
                        txn.open_table(KEYS)?.insert(k.as_str(), v.as_str())?;
                    }
                    Row::Meta(k, v) => {
                        txn.open_table(META)?.insert(k.as_str(), v.as_slice())?;
                    }
                    Row::Version(b, k, slot, v) => {
                        txn.open_table(VERSIONS)?
                            .insert((b.as_str(), k.as_str(), slot), v.as_slice())?;
                    }
                    Row::Config(k, v) => {
                        txn.open_table(BUCKET_CONFIG)?
                            .insert(k.as_str(), v.as_slice())?;
                    }
                    Row::Doc(b, kind, v) => {
                        txn.open_table(BUCKET_DOCS)?
                            .insert((b.as_str(), kind.as_str()), v.as_slice())?;
                    }
                    Row::UploadLock(k, v) => {
                        txn.open_table(UPLOAD_LOCKS)?
                            .insert(k.as_str(), v.as_slice())?;
                    }
                    Row::Request(id, v) => {
                        txn.open_table(REQUESTS)?.insert(id, v.as_slice())?;
                    }
                    Row::RequestOrder(index, id) => {
                        txn.open_table(REQUEST_ORDER)?.insert((index, id), ())?;
                    }
                    Row::AccessKey(k, v) => {
                        txn.open_table(ACCESS_KEYS)?
                            .insert(k.as_str(), v.as_slice())?;
                    }
                    Row::BucketAccess(k, v) => {
                        txn.open_table(BUCKET_ACCESS)?
                            .insert(k.as_str(), v.as_slice())?;
                    }
                }
            }
            Ok(())
        })?;
        self.sync()
    }
}

fn clear<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<()> {
    txn.open_table(def)?.retain(|_, _| false)?;
    Ok(())
}
