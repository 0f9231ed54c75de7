//! `NodeClient`'s object and multipart-upload operations: catalog commands and
//! queries on current versions, uploads and parts.

use super::{unexpected_reply, NodeClient};
use crate::error::Result;
use crate::records::{ObjectChange, ObjectRecord, PartRecord, UploadRecord, WriteCondition};
use crate::storage::catalog::{
    CatalogCommand, CatalogQuery, CatalogReply, ListPage, ListQuery, UploadList, UploadListQuery,
};
use crate::versioning::ObjectLock;

impl NodeClient {
    // ---- objects ----

    /// Commits an object under `cond`, with the lock the request asked for;
    /// returns its version id in a versioned bucket.
    pub async fn put_object(
        &self,
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
        lock: Option<ObjectLock>,
    ) -> Result<Option<String>> {
        let cmd = match lock {
            None => CatalogCommand::PutObject {
                bucket,
                key,
                record,
                cond,
            },
            Some(lock) => CatalogCommand::PutObjectLocked {
                bucket,
                key,
                record,
                cond,
                lock,
            },
        };
        written(self.catalog_write(cmd).await?)
    }

    pub async fn get_object(&self, bucket: String, key: String) -> Result<ObjectRecord> {
        match self
            .catalog_read(CatalogQuery::GetObject { bucket, key })
            .await?
        {
            CatalogReply::Object(o) => Ok(*o),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn update_object(
        &self,
        bucket: String,
        key: String,
        change: ObjectChange,
    ) -> Result<()> {
        self.catalog_write(CatalogCommand::UpdateObject {
            bucket,
            key,
            change,
        })
        .await
        .map(drop)
    }

    pub async fn list_objects(&self, bucket: String, query: ListQuery) -> Result<ListPage> {
        match self
            .catalog_read(CatalogQuery::ListObjects { bucket, query })
            .await?
        {
            CatalogReply::Objects(p) => Ok(p),
            other => Err(unexpected_reply(other)),
        }
    }

    // ---- multipart uploads ----

    /// Starts an upload whose object gets `lock`; returns its new id.
    pub async fn create_upload(
        &self,
        record: UploadRecord,
        lock: Option<ObjectLock>,
    ) -> Result<String> {
        let upload_id = format!("{:032x}", rand::random::<u128>());
        let cmd = match lock {
            None => CatalogCommand::CreateUpload {
                upload_id: upload_id.clone(),
                record,
            },
            Some(lock) => CatalogCommand::CreateUploadLocked {
                upload_id: upload_id.clone(),
                record,
                lock,
            },
        };
        self.catalog_write(cmd).await?;
        Ok(upload_id)
    }

    pub async fn get_upload(&self, upload_id: String) -> Result<UploadRecord> {
        match self
            .catalog_read(CatalogQuery::GetUpload { upload_id })
            .await?
        {
            CatalogReply::Upload(u) => Ok(u),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn put_part(&self, upload_id: String, number: u32, part: PartRecord) -> Result<()> {
        self.catalog_write(CatalogCommand::PutPart {
            upload_id,
            number,
            part,
        })
        .await
        .map(drop)
    }

    pub async fn list_parts(&self, upload_id: String) -> Result<Vec<(u32, PartRecord)>> {
        match self
            .catalog_read(CatalogQuery::ListParts { upload_id })
            .await?
        {
            CatalogReply::Parts(p) => Ok(p),
            other => Err(unexpected_reply(other)),
        }
    }

    pub async fn complete_upload(
        &self,
        upload_id: String,
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
    ) -> Result<Option<String>> {
        written(
            self.catalog_write(CatalogCommand::CompleteUpload {
                upload_id,
                bucket,
                key,
                record,
                cond,
            })
            .await?,
        )
    }

    pub async fn abort_upload(&self, upload_id: String) -> Result<()> {
        self.catalog_write(CatalogCommand::AbortUpload { upload_id })
            .await
            .map(drop)
    }

    pub async fn list_uploads(&self, bucket: String, query: UploadListQuery) -> Result<UploadList> {
        match self
            .catalog_read(CatalogQuery::ListUploads { bucket, query })
            .await?
        {
            CatalogReply::Uploads(u) => Ok(u),
            other => Err(unexpected_reply(other)),
        }
    }
}

/// The version id a write's reply carries.
fn written(reply: CatalogReply) -> Result<Option<String>> {
    match reply {
        CatalogReply::Written(v) => Ok(v),
        other => Err(unexpected_reply(other)),
    }
}
