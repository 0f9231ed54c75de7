//! `NodeClient`'s bucket documents: settings the gateway stores in the catalog and
//! evaluates itself (`storage::catalog::bucket_docs`), such as CORS rules.

use super::{unexpected_reply, NodeClient};
use crate::error::Result;
use crate::storage::catalog::{CatalogCommand, CatalogQuery, CatalogReply};

impl NodeClient {
    /// The bucket's document of `kind`, if set (`NoSuchBucket` without the bucket).
    pub async fn bucket_doc(&self, bucket: String, kind: &str) -> Result<Option<Vec<u8>>> {
        let kind = kind.to_string();
        match self
            .catalog_read(CatalogQuery::BucketDoc { bucket, kind })
            .await?
        {
            CatalogReply::Doc(d) => Ok(d),
            other => Err(unexpected_reply(other)),
        }
    }

    /// Sets (or with `None` removes) the bucket's document of `kind`.
    pub async fn set_bucket_doc(
        &self,
        bucket: String,
        kind: &str,
        doc: Option<Vec<u8>>,
    ) -> Result<()> {
        let kind = kind.to_string();
        self.catalog_write(CatalogCommand::SetBucketDoc { bucket, kind, doc })
            .await
            .map(drop)
    }
}
