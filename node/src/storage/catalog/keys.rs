//! Access keys: access key id → secret key.

use super::db::{Catalog, KEYS};
use crate::error::Result;
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

    /// All access key ids, in order.
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
}

pub(super) fn put_key_in(txn: &WriteTransaction, access_key: &str, secret_key: &str) -> Result<()> {
    txn.open_table(KEYS)?.insert(access_key, secret_key)?;
    Ok(())
}
