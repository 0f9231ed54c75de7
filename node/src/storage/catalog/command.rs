//! The catalog's operations as data: `CatalogCommand` (changes, the entries of the
//! catalog Raft log) and `CatalogQuery` (reads, served by the leader), each run
//! against the local catalog by `Catalog::apply` / `Catalog::query`.

use super::buckets::{configure_bucket_in, create_bucket_in, delete_bucket_in, update_bucket_in};
use super::db::{set_cluster_map_in, Catalog};
use super::keys::{
    delete_key_in, put_key_in, put_key_record_in, set_grant_in, set_key_enabled_in, set_owner_in,
};
use super::lifecycle::set_lifecycle_in;
use super::listing::{ListPage, ListQuery};
use super::objects::{delete_objects_in, update_object_in};
use super::uploads::{
    complete_upload_in, create_upload_in, put_part_in, remove_upload, UploadList, UploadListQuery,
};
use super::usage::BucketUsage;
use super::version_listing::{VersionListQuery, VersionPage};
use super::versions::{delete_versions_in, put_in, update_in};
use crate::access::{AccessState, BucketAccess, KeyRecord, Permission};
use crate::cluster::map::ClusterMap;
use crate::error::{Error, Result, WireError};
use crate::lifecycle::LifecycleConfig;
use crate::records::{
    BucketChange, BucketRecord, ObjectChange, ObjectRecord, PartRecord, UploadRecord,
    WriteCondition,
};
use crate::versioning::{
    BucketConfig, ConfigChange, DeleteOutcome, DeleteTarget, ObjectLock, VersionChange, VersionView,
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
    /// Create a bucket that starts with settings (object lock enabled).
    CreateBucketWith {
        name: String,
        record: BucketRecord,
        config: BucketConfig,
    },
    ConfigureBucket {
        name: String,
        change: ConfigChange,
    },
    /// `PutObject` with the retention or legal hold the request asked for.
    PutObjectLocked {
        bucket: String,
        key: String,
        record: ObjectRecord,
        cond: WriteCondition,
        lock: ObjectLock,
    },
    /// `CreateUpload` whose object gets the retention or legal hold asked for.
    CreateUploadLocked {
        upload_id: String,
        record: UploadRecord,
        lock: ObjectLock,
    },
    /// Delete keys (delete markers in a versioned bucket) or versions, at `now_ms`
    /// (the time of markers and of lock checks).
    DeleteVersions {
        bucket: String,
        targets: Vec<DeleteTarget>,
        now_ms: i64,
        bypass_governance: bool,
    },
    /// Change one version (the newest when `version_id` is `None`) in place.
    UpdateVersion {
        bucket: String,
        key: String,
        version_id: Option<String>,
        change: VersionChange,
        now_ms: i64,
    },
    /// Set (or with `None` remove) the bucket's lifecycle rules.
    SetLifecycle {
        name: String,
        config: Option<LifecycleConfig>,
    },
    /// Set (or with `None` remove) the bucket's document of `kind` (`bucket_docs`).
    SetBucketDoc {
        bucket: String,
        kind: String,
        doc: Option<Vec<u8>>,
    },
    /// Add or replace a key record (refused when another key has its name).
    PutKeyRecord(Box<KeyRecord>),
    SetKeyEnabled {
        access_key: String,
        enabled: bool,
    },
    /// Delete a key and every grant to it.
    DeleteKey {
        access_key: String,
    },
    /// Set a key's grant on a bucket (no permission: remove it).
    SetGrant {
        bucket: String,
        access_key: String,
        permission: Permission,
    },
    /// Create a bucket owned by `owner` (an access key id), with settings if any.
    CreateBucketOwned {
        name: String,
        record: BucketRecord,
        config: Option<BucketConfig>,
        owner: String,
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
    GetVersion {
        bucket: String,
        key: String,
        version_id: Option<String>,
    },
    ListVersions {
        bucket: String,
        query: VersionListQuery,
    },
    BucketConfig {
        name: String,
    },
    /// Keys, versions and logical bytes of every bucket (a scan of the catalog).
    Usage,
    /// The bucket's document of `kind`.
    BucketDoc {
        bucket: String,
        kind: String,
    },
    /// Every key record and bucket access row.
    AccessState,
    KeyRecord {
        access_key: String,
    },
    BucketAccess {
        name: String,
    },
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
    /// A write's version id (in a versioned bucket).
    Written(Option<String>),
    Deleted(Vec<DeleteOutcome>),
    Version(Box<VersionView>),
    Versions(VersionPage),
    Config(BucketConfig),
    Usage(std::collections::BTreeMap<String, BucketUsage>),
    Doc(Option<Vec<u8>>),
    AccessState(Box<AccessState>),
    KeyRecord(Option<Box<KeyRecord>>),
    BucketAccess(Option<BucketAccess>),
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
            Q::GetVersion {
                bucket,
                key,
                version_id,
            } => R::Version(Box::new(self.get_version(
                bucket,
                key,
                version_id.as_deref(),
            )?)),
            Q::ListVersions { bucket, query } => R::Versions(self.list_versions(bucket, query)?),
            Q::BucketConfig { name } => R::Config(self.bucket_config(name)?),
            Q::Usage => R::Usage(self.bucket_usage()?),
            Q::BucketDoc { bucket, kind } => R::Doc(self.bucket_doc(bucket, kind)?),
            Q::AccessState => R::AccessState(Box::new(self.access_state()?)),
            Q::KeyRecord { access_key } => R::KeyRecord(self.key_record(access_key)?.map(Box::new)),
            Q::BucketAccess { name } => R::BucketAccess(self.bucket_access(name)?),
        })
    }
}

/// Runs a change in `txn`. Every change checks before it writes, so a refusal
/// (`Err` other than a storage failure) leaves `txn` as it was.
pub(super) fn apply_in(txn: &WriteTransaction, cmd: &CatalogCommand) -> Result<CatalogReply> {
    use CatalogCommand as C;
    use CatalogReply as R;
    let done = |r: Result<()>| r.map(|()| R::Done);
    match cmd {
        C::CreateBucket { name, record } => done(create_bucket_in(txn, name, record, None)),
        C::CreateBucketWith {
            name,
            record,
            config,
        } => done(create_bucket_in(txn, name, record, Some(config))),
        C::UpdateBucket { name, change } => done(update_bucket_in(txn, name, change)),
        C::ConfigureBucket { name, change } => done(configure_bucket_in(txn, name, change)),
        C::DeleteBucket { name } => done(delete_bucket_in(txn, name, false)),
        C::PutObject {
            bucket,
            key,
            record,
            cond,
        } => put_in(txn, bucket, key, record, cond, None).map(R::Written),
        C::PutObjectLocked {
            bucket,
            key,
            record,
            cond,
            lock,
        } => put_in(txn, bucket, key, record, cond, Some(lock)).map(R::Written),
        C::UpdateObject {
            bucket,
            key,
            change,
        } => done(update_object_in(txn, bucket, key, change)),
        C::UpdateVersion {
            bucket,
            key,
            version_id,
            change,
            now_ms,
        } => done(update_in(
            txn,
            bucket,
            key,
            version_id.as_deref(),
            change,
            *now_ms,
        )),
        C::DeleteObjects { bucket, keys } => done(delete_objects_in(txn, bucket, keys)),
        C::DeleteVersions {
            bucket,
            targets,
            now_ms,
            bypass_governance,
        } => delete_versions_in(txn, bucket, targets, *now_ms, *bypass_governance).map(R::Deleted),
        C::CreateUpload { upload_id, record } => {
            done(create_upload_in(txn, upload_id, record, None))
        }
        C::CreateUploadLocked {
            upload_id,
            record,
            lock,
        } => done(create_upload_in(txn, upload_id, record, Some(lock))),
        C::PutPart {
            upload_id,
            number,
            part,
        } => done(put_part_in(txn, upload_id, *number, part)),
        C::CompleteUpload {
            upload_id,
            bucket,
            key,
            record,
            cond,
        } => complete_upload_in(txn, upload_id, bucket, key, record, cond).map(R::Written),
        C::AbortUpload { upload_id } => done(remove_upload(txn, upload_id)),
        C::PutKey {
            access_key,
            secret_key,
        } => done(put_key_in(txn, access_key, secret_key)),
        C::SetClusterMap(map) => done(set_cluster_map_in(txn, map)),
        C::DeleteBucketAndUploads { name } => done(delete_bucket_in(txn, name, true)),
        C::SetLifecycle { name, config } => done(set_lifecycle_in(txn, name, config.as_ref())),
        C::SetBucketDoc { bucket, kind, doc } => done(super::bucket_docs::set_bucket_doc_in(
            txn,
            bucket,
            kind,
            doc.as_deref(),
        )),
        C::PutKeyRecord(record) => done(put_key_record_in(txn, record)),
        C::SetKeyEnabled {
            access_key,
            enabled,
        } => done(set_key_enabled_in(txn, access_key, *enabled)),
        C::DeleteKey { access_key } => done(delete_key_in(txn, access_key)),
        C::SetGrant {
            bucket,
            access_key,
            permission,
        } => done(set_grant_in(txn, bucket, access_key, *permission)),
        C::CreateBucketOwned {
            name,
            record,
            config,
            owner,
        } => done(
            create_bucket_in(txn, name, record, config.as_ref())
                .and_then(|()| set_owner_in(txn, name, owner)),
        ),
    }
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
