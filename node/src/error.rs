//! The node crate's error type: every failure the gateway may have to map to S3.

use crate::ChunkId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bucket does not exist")]
    NoSuchBucket,
    #[error("bucket already exists")]
    BucketExists,
    #[error("bucket is not empty")]
    BucketNotEmpty,
    #[error("object does not exist")]
    NoSuchKey,
    #[error("multipart upload does not exist")]
    NoSuchUpload,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("invalid part: {0}")]
    InvalidPart(String),
    #[error("chunk {0} is corrupt")]
    ChunkCorrupt(ChunkId),
    #[error("chunk {0} is missing")]
    ChunkMissing(ChunkId),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("catalog database: {0}")]
    Db(String),
    #[error("record encoding: {0}")]
    Codec(#[from] postcard::Error),
    #[error("background task failed: {0}")]
    Task(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! db_error_from {
    ($($t:ty),*) => {
        $(impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Db(e.to_string())
            }
        })*
    };
}
db_error_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
