//! The catalog's operations as data: `CatalogCommand` (changes, the entries of the
//! catalog Raft log) and `CatalogQuery` (reads, served by the leader), each run
//! against the local catalog by `Catalog::apply` / `Catalog::query`.

use super::db::Catalog;
use super::listing::{ListPage, ListQuery};
use super::uploads::{UploadList, UploadListQuery};
use crate::cluster::map::ClusterMap;
use crate::error::Result;
use crate::records::{
    BucketChange, BucketRecord, ObjectChange, ObjectRecord, PartRecord, UploadRecord,
    WriteCondition,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CatalogCommand {
    CreateBucket {
        name: String,
        record: BucketRecord,
    },
    UpdateBucket {
        name: String,
        change: BucketChange,
    },
    DeleteBucket {
        name: String,
    },
    PutObject {
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
    },
    UpdateObject {
        bucket: String,
        key: String,
        change: ObjectChange,
    },
    DeleteObjects {
        bucket: String,
        keys: Vec<String>,
    },
    CreateUpload {
        upload_id: String,
        record: UploadRecord,
    },
    PutPart {
        upload_id: String,
        number: u32,
        part: PartRecord,
    },
    CompleteUpload {
        upload_id: String,
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
    },
    AbortUpload {
        upload_id: String,
    },
    PutKey {
        access_key: String,
        secret_key: String,
    },
    /// Commit the next cluster map; refused unless its epoch is the committed
    /// epoch + 1 (someone else applied first).
    SetClusterMap(Box<ClusterMap>),
    /// Delete a bucket without objects and its multipart uploads in progress
    /// (`DeleteBucket` above refuses while uploads remain).
    DeleteBucketAndUploads {
        name: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CatalogQuery {
    GetBucket {
        name: String,
    },
    ListBuckets,
    GetObject {
        bucket: String,
        key: String,
    },
    ListObjects {
        bucket: String,
        query: ListQuery,
    },
    GetUpload {
        upload_id: String,
    },
    ListParts {
        upload_id: String,
    },
    ListUploads {
        bucket: String,
        query: UploadListQuery,
    },
    GetSecret {
        access_key: String,
    },
    ListKeys,
    ClusterMap,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CatalogReply {
    Done,
    Bucket(BucketRecord),
    Buckets(Vec<(String, BucketRecord)>),
    Object(Box<ObjectRecord>),
    Objects(ListPage),
    Upload(UploadRecord),
    Parts(Vec<(u32, PartRecord)>),
    Uploads(UploadList),
    Secret(Option<String>),
    Keys(Vec<(String, String)>),
    ClusterMap(Option<Box<ClusterMap>>),
}

impl Catalog {
    /// Runs a change; a failed precondition or a missing bucket leaves the catalog
    /// untouched.
    pub fn apply(&self, cmd: &CatalogCommand) -> Result<CatalogReply> {
        use CatalogCommand as C;
        match cmd {
            C::CreateBucket { name, record } => self.create_bucket(name, record),
            C::UpdateBucket { name, change } => self.update_bucket(name, change),
            C::DeleteBucket { name } => self.delete_bucket(name),
            C::PutObject {
                bucket,
                key,
                record,
                cond,
            } => self.put_object(bucket, key, record, cond),
            C::UpdateObject {
                bucket,
                key,
                change,
            } => self.update_object(bucket, key, change),
            C::DeleteObjects { bucket, keys } => self.delete_objects(bucket, keys),
            C::CreateUpload { upload_id, record } => self.create_upload(upload_id, record),
            C::PutPart {
                upload_id,
                number,
                part,
            } => self.put_part(upload_id, *number, part),
            C::CompleteUpload {
                upload_id,
                bucket,
                key,
                record,
                cond,
            } => self.complete_upload(upload_id, bucket, key, record, cond),
            C::AbortUpload { upload_id } => self.abort_upload(upload_id),
            C::PutKey {
                access_key,
                secret_key,
            } => self.put_key(access_key, secret_key),
            C::SetClusterMap(map) => self.set_cluster_map(map),
            C::DeleteBucketAndUploads { name } => self.delete_bucket_and_uploads(name),
        }
        .map(|()| CatalogReply::Done)
    }

    pub fn query(&self, q: &CatalogQuery) -> Result<CatalogReply> {
        use CatalogQuery as Q;
        use CatalogReply as R;
        Ok(match q {
            Q::GetBucket { name } => R::Bucket(self.get_bucket(name)?),
            Q::ListBuckets => R::Buckets(self.list_buckets()?),
            Q::GetObject { bucket, key } => R::Object(Box::new(self.get_object(bucket, key)?)),
            Q::ListObjects { bucket, query } => R::Objects(self.list_objects(bucket, query)?),
            Q::GetUpload { upload_id } => R::Upload(self.get_upload(upload_id)?),
            Q::ListParts { upload_id } => R::Parts(self.list_parts(upload_id)?),
            Q::ListUploads { bucket, query } => R::Uploads(self.list_uploads(bucket, query)?),
            Q::GetSecret { access_key } => R::Secret(self.get_secret(access_key)?),
            Q::ListKeys => R::Keys(self.list_keys()?),
            Q::ClusterMap => R::ClusterMap(self.cluster_map()?.map(Box::new)),
        })
    }
}
