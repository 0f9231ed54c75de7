//! The one mapping from internal errors to S3 error codes.

use cairn_node::Error;
use s3s::{s3_error, S3Error, S3ErrorCode};

/// Maps a node error to the S3 error a client should see.
pub fn from_node(e: Error) -> S3Error {
    match e {
        Error::NoSuchBucket => s3_error!(NoSuchBucket),
        Error::BucketExists => s3_error!(BucketAlreadyOwnedByYou),
        Error::BucketNotEmpty => s3_error!(BucketNotEmpty),
        Error::NoSuchKey => s3_error!(NoSuchKey),
        Error::NoSuchUpload => s3_error!(NoSuchUpload),
        Error::PreconditionFailed => s3_error!(PreconditionFailed),
        Error::InvalidPart(msg) => S3Error::with_message(S3ErrorCode::InvalidPart, msg),
        other => {
            tracing::error!(error = %other, "storage failure");
            S3Error::with_message(S3ErrorCode::InternalError, other.to_string())
        }
    }
}

/// `?`-friendly conversion of node results.
pub trait OrS3<T> {
    fn or_s3(self) -> s3s::S3Result<T>;
}

impl<T> OrS3<T> for cairn_node::Result<T> {
    fn or_s3(self) -> s3s::S3Result<T> {
        self.map_err(from_node)
    }
}
