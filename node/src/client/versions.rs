//! `NodeClient`'s versioning and object-lock operations: bucket settings,
//! lifecycle rules, versioned reads, deletes and listing, and in-place changes
//! of one version.

use super::{unexpected_reply, NodeClient};
use crate::error::Result;
use crate::records::BucketRecord;
use crate::storage::catalog::{
    CatalogCommand, CatalogQuery, CatalogReply, VersionListQuery, VersionPage,
};
use crate::versioning::{
    BucketConfig, ConfigChange, DeleteOutcome, DeleteTarget, VersionChange, VersionView,
};

impl NodeClient {
    /// Creates a bucket that starts with `config` (object lock enabled).
    pub async fn create_bucket_with(
        &self,
        name: String,
        record: BucketRecord,
        config: BucketConfig,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::CreateBucketWith {
            name,
            record,
            config,
        })
        .await
        .map(drop)
    }

    pub async fn bucket_config(&self, name: String) -> Result<BucketConfig> {
        match self
            .catalog_read(CatalogQuery::BucketConfig { name })
            .await?
        {
            CatalogReply::Config(c) => Ok(c),
            other => Err(unexpected_reply(other)),
        }
    }

    /// Sets (or with `None` removes) the bucket's lifecycle rules.
    pub async fn set_lifecycle(
        &self,
        name: String,
        config: Option<crate::lifecycle::LifecycleConfig>,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::SetLifecycle { name, config })
            .await
            .map(drop)
    }

    pub async fn configure_bucket(&self, name: String, change: ConfigChange) -> Result<()> {
        self.catalog_write(CatalogCommand::ConfigureBucket { name, change })
            .await
            .map(drop)
    }

    /// A version of a key (the newest, delete markers included, without an id).
    pub async fn get_version(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
    ) -> Result<VersionView> {
        match self
            .catalog_read(CatalogQuery::GetVersion {
                bucket,
                key,
                version_id,
            })
            .await?
        {
            CatalogReply::Version(v) => Ok(*v),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn list_versions(
        &self,
        bucket: String,
        query: VersionListQuery,
    ) -> Result<VersionPage> {
        match self
            .catalog_read(CatalogQuery::ListVersions { bucket, query })
            .await?
        {
            CatalogReply::Versions(p) => Ok(p),
            other => Err(unexpected_reply(other)),
        }
    }

    /// Deletes keys (delete markers in a versioned bucket) or versions in one
    /// commit; a target refused by object lock carries its error in its outcome.
    pub async fn delete_versions(
        &self,
        bucket: String,
        targets: Vec<DeleteTarget>,
        bypass_governance: bool,
    ) -> Result<Vec<DeleteOutcome>> {
        let cmd = CatalogCommand::DeleteVersions {
            bucket,
            targets,
            now_ms: crate::clock::now_ms(),
            bypass_governance,
        };
        match self.catalog_write(cmd).await? {
            CatalogReply::Deleted(d) => Ok(d),
            other => Err(unexpected_reply(other)),
        }
    }

    /// Changes one version (the newest without an id): tags, retention, legal hold.
    pub async fn update_version(
        &self,
        bucket: String,
        key: String,
        version_id: Option<String>,
        change: VersionChange,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::UpdateVersion {
            bucket,
            key,
            version_id,
            change,
            now_ms: crate::clock::now_ms(),
        })
        .await
        .map(drop)
    }
}
