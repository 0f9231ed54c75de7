//! The catalog's operations as data: `CatalogCommand` (changes, the entries of the
//! catalog Raft log) and `CatalogQuery` (reads, served by the leader), each run
//! against the local catalog by `Catalog::apply` / `Catalog::query`.

use super::buckets::{create_bucket_in, delete_bucket_in, update_bucket_in};
use super::db::{set_cluster_map_in, Catalog};
use super::keys::put_key_in;
use super::listing::{ListPage, ListQuery};
use super::objects::{delete_objects_in, put_in, update_object_in};
use super::uploads::{
    complete_upload_in, create_upload_in, put_part_in, remove_upload, UploadList, UploadListQuery,
};
use crate::cluster::map::ClusterMap;
use crate::error::{Error, Result, WireError};
use crate::records::{
    BucketChange, BucketRecord, ObjectChange, ObjectRecord, PartRecord, UploadRecord,
    WriteCondition,
};
use redb::WriteTransaction;
use serde::{Deserialize, Serialize};

/// A catalog write and the id its writer chose once for all its tries
/// (`NodeClient`), so a try that arrives after an earlier one committed gets the
/// first one's outcome instead of running again (`entries`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CatalogRequest {
    pub id: u128,
    pub cmd: CatalogCommand,
}

/// What one catalog write answers: its reply, or the refusal it met.
pub type Outcome = std::result::Result<CatalogReply, WireError>;

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
    /// Runs a change in a transaction of its own; a failed precondition or a
    /// missing bucket leaves the catalog untouched.
    pub fn apply(&self, cmd: &CatalogCommand) -> Result<CatalogReply> {
        self.write(|txn| apply_in(txn, cmd))
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

/// Runs a change in `txn`. Every change checks before it writes, so a refusal
/// (`Err` other than a storage failure) leaves `txn` as it was.
pub(super) fn apply_in(txn: &WriteTransaction, cmd: &CatalogCommand) -> Result<CatalogReply> {
    use CatalogCommand as C;
    match cmd {
        C::CreateBucket { name, record } => create_bucket_in(txn, name, record),
        C::UpdateBucket { name, change } => update_bucket_in(txn, name, change),
        C::DeleteBucket { name } => delete_bucket_in(txn, name, false),
        C::PutObject {
            bucket,
            key,
            record,
            cond,
        } => put_in(txn, bucket, key, record, cond),
        C::UpdateObject {
            bucket,
            key,
            change,
        } => update_object_in(txn, bucket, key, change),
        C::DeleteObjects { bucket, keys } => delete_objects_in(txn, bucket, keys),
        C::CreateUpload { upload_id, record } => create_upload_in(txn, upload_id, record),
        C::PutPart {
            upload_id,
            number,
            part,
        } => put_part_in(txn, upload_id, *number, part),
        C::CompleteUpload {
            upload_id,
            bucket,
            key,
            record,
            cond,
        } => complete_upload_in(txn, upload_id, bucket, key, record, cond),
        C::AbortUpload { upload_id } => remove_upload(txn, upload_id),
        C::PutKey {
            access_key,
            secret_key,
        } => put_key_in(txn, access_key, secret_key),
        C::SetClusterMap(map) => set_cluster_map_in(txn, map),
        C::DeleteBucketAndUploads { name } => delete_bucket_in(txn, name, true),
    }
    .map(|()| CatalogReply::Done)
}

/// A change's result as its writer's outcome; a storage failure (I/O, database,
/// encoding, a full disk) is no answer but a failure of the whole apply, since
/// every replica must answer alike.
pub(super) fn outcome(result: Result<CatalogReply>) -> Result<Outcome> {
    match result {
        Ok(reply) => Ok(Ok(reply)),
        Err(
            e @ (Error::Io(_) | Error::Db(_) | Error::Codec(_) | Error::InsufficientCapacity(_)),
        ) => Err(e),
        Err(e) => Ok(Err(WireError::from(e))),
    }
}
