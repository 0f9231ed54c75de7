//! The node crate's error type: every failure the gateway may have to map to S3, and
//! `WireError`, its form on the internal RPC wire.

use crate::ids::ChunkId;
use serde::{Deserialize, Serialize};

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
    #[error("the specified version does not exist")]
    NoSuchVersion,
    /// A request argument is malformed (S3 `InvalidArgument`).
    #[error("{0}")]
    InvalidArgument(String),
    /// Refused by object lock (S3 `AccessDenied`).
    #[error("{0}")]
    AccessDenied(String),
    /// The bucket's state forbids this (S3 `InvalidBucketState`).
    #[error("{0}")]
    InvalidBucketState(String),
    /// Not valid for this bucket or object (S3 `InvalidRequest`).
    #[error("{0}")]
    InvalidRequest(String),
    #[error("chunk {0} is corrupt")]
    ChunkCorrupt(ChunkId),
    #[error("chunk {0} is missing")]
    ChunkMissing(ChunkId),
    /// A cluster map change was based on an older epoch than the committed one.
    #[error("the cluster map changed meanwhile (committed epoch {committed}); plan again")]
    StaleMap { committed: u64 },
    /// No room for a write on the nodes that must hold it.
    #[error("insufficient capacity: {0}")]
    InsufficientCapacity(String),
    /// This node does not lead the group; the leader and its address, if known.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        leader: Option<u64>,
        address: Option<String>,
    },
    /// The cluster cannot serve this now (no quorum, nodes unreachable); retryable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A failure reported by another node.
    #[error("remote: {0}")]
    Remote(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("i/o: {0}")]
    Io(std::io::Error),
    #[error("catalog database: {0}")]
    Db(String),
    #[error("record encoding: {0}")]
    Codec(#[from] postcard::Error),
    #[error("background task failed: {0}")]
    Task(String),
}

/// How every refusal for a full disk begins its message; a storage failure that
/// stopped a Raft group carries it on in the group's error.
pub const DISK_FULL: &str = "the disk is full";

/// Whether `e` says the file system is out of space (`ENOSPC`) or quota (`EDQUOT`).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
        || matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
}

/// A full disk is a refusal for lack of room (HTTP 507), not a failure.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if is_disk_full(&e) {
            Error::InsufficientCapacity(format!("{DISK_FULL}: {e}"))
        } else {
            Error::Io(e)
        }
    }
}

impl Error {
    /// Worth retrying elsewhere or later: the request was not carried out.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::NotLeader { .. } | Error::Unavailable(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An `Error` as it crosses the internal RPC wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum WireError {
    NoSuchBucket,
    BucketExists,
    BucketNotEmpty,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
    InvalidPart(String),
    NoSuchVersion,
    InvalidArgument(String),
    AccessDenied(String),
    InvalidBucketState(String),
    InvalidRequest(String),
    ChunkCorrupt(ChunkId),
    ChunkMissing(ChunkId),
    StaleMap(u64),
    InsufficientCapacity(String),
    NotLeader(Option<u64>, Option<String>),
    Unavailable(String),
    Other(String),
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        match e {
            Error::NoSuchBucket => WireError::NoSuchBucket,
            Error::BucketExists => WireError::BucketExists,
            Error::BucketNotEmpty => WireError::BucketNotEmpty,
            Error::NoSuchKey => WireError::NoSuchKey,
            Error::NoSuchUpload => WireError::NoSuchUpload,
            Error::PreconditionFailed => WireError::PreconditionFailed,
            Error::InvalidPart(s) => WireError::InvalidPart(s),
            Error::NoSuchVersion => WireError::NoSuchVersion,
            Error::InvalidArgument(s) => WireError::InvalidArgument(s),
            Error::AccessDenied(s) => WireError::AccessDenied(s),
            Error::InvalidBucketState(s) => WireError::InvalidBucketState(s),
            Error::InvalidRequest(s) => WireError::InvalidRequest(s),
            Error::ChunkCorrupt(id) => WireError::ChunkCorrupt(id),
            Error::ChunkMissing(id) => WireError::ChunkMissing(id),
            Error::StaleMap { committed } => WireError::StaleMap(committed),
            Error::InsufficientCapacity(s) => WireError::InsufficientCapacity(s),
            Error::NotLeader { leader, address } => WireError::NotLeader(leader, address),
            Error::Unavailable(s) => WireError::Unavailable(s),
            other => WireError::Other(other.to_string()),
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        match e {
            WireError::NoSuchBucket => Error::NoSuchBucket,
            WireError::BucketExists => Error::BucketExists,
            WireError::BucketNotEmpty => Error::BucketNotEmpty,
            WireError::NoSuchKey => Error::NoSuchKey,
            WireError::NoSuchUpload => Error::NoSuchUpload,
            WireError::PreconditionFailed => Error::PreconditionFailed,
            WireError::InvalidPart(s) => Error::InvalidPart(s),
            WireError::NoSuchVersion => Error::NoSuchVersion,
            WireError::InvalidArgument(s) => Error::InvalidArgument(s),
            WireError::AccessDenied(s) => Error::AccessDenied(s),
            WireError::InvalidBucketState(s) => Error::InvalidBucketState(s),
            WireError::InvalidRequest(s) => Error::InvalidRequest(s),
            WireError::ChunkCorrupt(id) => Error::ChunkCorrupt(id),
            WireError::ChunkMissing(id) => Error::ChunkMissing(id),
            WireError::StaleMap(committed) => Error::StaleMap { committed },
            WireError::InsufficientCapacity(s) => Error::InsufficientCapacity(s),
            WireError::NotLeader(leader, address) => Error::NotLeader { leader, address },
            WireError::Unavailable(s) => Error::Unavailable(s),
            WireError::Other(s) => Error::Remote(s),
        }
    }
}

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
