//! `NodeClient`'s access-key and grant calls: key records (sealed secrets), bucket
//! owners and grants, and the whole access state a gateway caches.

use super::{unexpected_reply, NodeClient};
use crate::access::{AccessState, BucketAccess, KeyRecord, Permission};
use crate::error::Result;
use crate::records::BucketRecord;
use crate::storage::catalog::{CatalogCommand, CatalogQuery, CatalogReply};
use crate::versioning::BucketConfig;

impl NodeClient {
    pub async fn access_state(&self) -> Result<AccessState> {
        match self.catalog_read(CatalogQuery::AccessState).await? {
            CatalogReply::AccessState(s) => Ok(*s),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn key_record(&self, access_key: String) -> Result<Option<KeyRecord>> {
        match self
            .catalog_read(CatalogQuery::KeyRecord { access_key })
            .await?
        {
            CatalogReply::KeyRecord(r) => Ok(r.map(|r| *r)),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn bucket_access(&self, name: String) -> Result<Option<BucketAccess>> {
        match self
            .catalog_read(CatalogQuery::BucketAccess { name })
            .await?
        {
            CatalogReply::BucketAccess(a) => Ok(a),
            other => Err(unexpected_reply(other)),
        }
    }

    /// Adds or replaces a key record; refused when another key has its name.
    pub async fn put_key_record(&self, record: KeyRecord) -> Result<()> {
        self.catalog_write(CatalogCommand::PutKeyRecord(Box::new(record)))
            .await
            .map(drop)
    }

    pub async fn set_key_enabled(&self, access_key: String, enabled: bool) -> Result<()> {
        self.catalog_write(CatalogCommand::SetKeyEnabled {
            access_key,
            enabled,
        })
        .await
        .map(drop)
    }

    pub async fn delete_key(&self, access_key: String) -> Result<()> {
        self.catalog_write(CatalogCommand::DeleteKey { access_key })
            .await
            .map(drop)
    }

    pub async fn set_grant(
        &self,
        bucket: String,
        access_key: String,
        permission: Permission,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::SetGrant {
            bucket,
            access_key,
            permission,
        })
        .await
        .map(drop)
    }

    /// Creates a bucket owned by `owner` (an access key id).
    pub async fn create_bucket_owned(
        &self,
        name: String,
        record: BucketRecord,
        config: Option<BucketConfig>,
        owner: String,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::CreateBucketOwned {
            name,
            record,
            config,
            owner,
        })
        .await
        .map(drop)
    }
}
