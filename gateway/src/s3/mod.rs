//! The S3 API: the `s3s::S3` trait implemented as a thin dispatch to one file per
//! family of operations. Operations not listed answer `NotImplemented`.

mod acl;
mod attributes;
mod bucket;
mod copy;
mod cors;
mod delete;
pub mod error;
mod get;
mod lifecycle;
mod list;
pub(crate) mod meta;
mod multipart;
mod multipart_checksum;
mod object_lock;
mod ownership;
mod policy;
pub mod post_object;
mod public_access;
mod put;
pub(crate) mod refuse;
mod tagging;
mod veeam;
mod versions;

use crate::state::Gateway;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, S3};

/// The S3 front end of a gateway.
pub struct S3Api(pub Gateway);

macro_rules! dispatch {
    ($($op:ident => $module:ident),* $(,)?) => {
        #[async_trait::async_trait]
        impl S3 for S3Api {
            $(
                #[tracing::instrument(level = "debug", skip_all, fields(op = stringify!($op)))]
                async fn $op(
                    &self,
                    req: S3Request<paste_input!($op)>,
                ) -> S3Result<S3Response<paste_output!($op)>> {
                    $module::$op(&self.0, req).await
                }
            )*
        }
    };
}

// Input and output type names of each operation, as s3s names them.
macro_rules! paste_input {
    (put_bucket_ownership_controls) => {
        PutBucketOwnershipControlsInput
    };
    (get_bucket_ownership_controls) => {
        GetBucketOwnershipControlsInput
    };
    (delete_bucket_ownership_controls) => {
        DeleteBucketOwnershipControlsInput
    };
    (put_bucket_cors) => {
        PutBucketCorsInput
    };
    (get_bucket_cors) => {
        GetBucketCorsInput
    };
    (delete_bucket_cors) => {
        DeleteBucketCorsInput
    };
    (put_bucket_lifecycle_configuration) => {
        PutBucketLifecycleConfigurationInput
    };
    (get_bucket_lifecycle_configuration) => {
        GetBucketLifecycleConfigurationInput
    };
    (delete_bucket_lifecycle) => {
        DeleteBucketLifecycleInput
    };
    (put_bucket_versioning) => {
        PutBucketVersioningInput
    };
    (get_bucket_versioning) => {
        GetBucketVersioningInput
    };
    (list_object_versions) => {
        ListObjectVersionsInput
    };
    (put_object_lock_configuration) => {
        PutObjectLockConfigurationInput
    };
    (get_object_lock_configuration) => {
        GetObjectLockConfigurationInput
    };
    (put_object_retention) => {
        PutObjectRetentionInput
    };
    (get_object_retention) => {
        GetObjectRetentionInput
    };
    (put_object_legal_hold) => {
        PutObjectLegalHoldInput
    };
    (get_object_legal_hold) => {
        GetObjectLegalHoldInput
    };
    (create_bucket) => {
        CreateBucketInput
    };
    (head_bucket) => {
        HeadBucketInput
    };
    (delete_bucket) => {
        DeleteBucketInput
    };
    (list_buckets) => {
        ListBucketsInput
    };
    (get_bucket_location) => {
        GetBucketLocationInput
    };
    (put_bucket_tagging) => {
        PutBucketTaggingInput
    };
    (get_bucket_tagging) => {
        GetBucketTaggingInput
    };
    (delete_bucket_tagging) => {
        DeleteBucketTaggingInput
    };
    (put_bucket_acl) => {
        PutBucketAclInput
    };
    (get_bucket_acl) => {
        GetBucketAclInput
    };
    (put_bucket_policy) => {
        PutBucketPolicyInput
    };
    (get_bucket_policy) => {
        GetBucketPolicyInput
    };
    (get_bucket_policy_status) => {
        GetBucketPolicyStatusInput
    };
    (delete_public_access_block) => {
        DeletePublicAccessBlockInput
    };
    (get_public_access_block) => {
        GetPublicAccessBlockInput
    };
    (put_public_access_block) => {
        PutPublicAccessBlockInput
    };
    (delete_bucket_policy) => {
        DeleteBucketPolicyInput
    };
    (put_object) => {
        PutObjectInput
    };
    (get_object) => {
        GetObjectInput
    };
    (head_object) => {
        HeadObjectInput
    };
    (get_object_attributes) => {
        GetObjectAttributesInput
    };
    (delete_object) => {
        DeleteObjectInput
    };
    (delete_objects) => {
        DeleteObjectsInput
    };
    (copy_object) => {
        CopyObjectInput
    };
    (get_object_acl) => {
        GetObjectAclInput
    };
    (put_object_acl) => {
        PutObjectAclInput
    };
    (put_object_tagging) => {
        PutObjectTaggingInput
    };
    (get_object_tagging) => {
        GetObjectTaggingInput
    };
    (delete_object_tagging) => {
        DeleteObjectTaggingInput
    };
    (list_objects) => {
        ListObjectsInput
    };
    (list_objects_v2) => {
        ListObjectsV2Input
    };
    (create_multipart_upload) => {
        CreateMultipartUploadInput
    };
    (upload_part) => {
        UploadPartInput
    };
    (upload_part_copy) => {
        UploadPartCopyInput
    };
    (complete_multipart_upload) => {
        CompleteMultipartUploadInput
    };
    (abort_multipart_upload) => {
        AbortMultipartUploadInput
    };
    (list_parts) => {
        ListPartsInput
    };
    (list_multipart_uploads) => {
        ListMultipartUploadsInput
    };
}

macro_rules! paste_output {
    (put_bucket_ownership_controls) => {
        PutBucketOwnershipControlsOutput
    };
    (get_bucket_ownership_controls) => {
        GetBucketOwnershipControlsOutput
    };
    (delete_bucket_ownership_controls) => {
        DeleteBucketOwnershipControlsOutput
    };
    (put_bucket_cors) => {
        PutBucketCorsOutput
    };
    (get_bucket_cors) => {
        GetBucketCorsOutput
    };
    (delete_bucket_cors) => {
        DeleteBucketCorsOutput
    };
    (put_bucket_lifecycle_configuration) => {
        PutBucketLifecycleConfigurationOutput
    };
    (get_bucket_lifecycle_configuration) => {
        GetBucketLifecycleConfigurationOutput
    };
    (delete_bucket_lifecycle) => {
        DeleteBucketLifecycleOutput
    };
    (put_bucket_versioning) => {
        PutBucketVersioningOutput
    };
    (get_bucket_versioning) => {
        GetBucketVersioningOutput
    };
    (list_object_versions) => {
        ListObjectVersionsOutput
    };
    (put_object_lock_configuration) => {
        PutObjectLockConfigurationOutput
    };
    (get_object_lock_configuration) => {
        GetObjectLockConfigurationOutput
    };
    (put_object_retention) => {
        PutObjectRetentionOutput
    };
    (get_object_retention) => {
        GetObjectRetentionOutput
    };
    (put_object_legal_hold) => {
        PutObjectLegalHoldOutput
    };
    (get_object_legal_hold) => {
        GetObjectLegalHoldOutput
    };
    (create_bucket) => {
        CreateBucketOutput
    };
    (head_bucket) => {
        HeadBucketOutput
    };
    (delete_bucket) => {
        DeleteBucketOutput
    };
    (list_buckets) => {
        ListBucketsOutput
    };
    (get_bucket_location) => {
        GetBucketLocationOutput
    };
    (put_bucket_tagging) => {
        PutBucketTaggingOutput
    };
    (get_bucket_tagging) => {
        GetBucketTaggingOutput
    };
    (delete_bucket_tagging) => {
        DeleteBucketTaggingOutput
    };
    (put_bucket_acl) => {
        PutBucketAclOutput
    };
    (get_bucket_acl) => {
        GetBucketAclOutput
    };
    (put_bucket_policy) => {
        PutBucketPolicyOutput
    };
    (get_bucket_policy) => {
        GetBucketPolicyOutput
    };
    (get_bucket_policy_status) => {
        GetBucketPolicyStatusOutput
    };
    (delete_public_access_block) => {
        DeletePublicAccessBlockOutput
    };
    (get_public_access_block) => {
        GetPublicAccessBlockOutput
    };
    (put_public_access_block) => {
        PutPublicAccessBlockOutput
    };
    (delete_bucket_policy) => {
        DeleteBucketPolicyOutput
    };
    (put_object) => {
        PutObjectOutput
    };
    (get_object) => {
        GetObjectOutput
    };
    (head_object) => {
        HeadObjectOutput
    };
    (get_object_attributes) => {
        GetObjectAttributesOutput
    };
    (delete_object) => {
        DeleteObjectOutput
    };
    (delete_objects) => {
        DeleteObjectsOutput
    };
    (copy_object) => {
        CopyObjectOutput
    };
    (get_object_acl) => {
        GetObjectAclOutput
    };
    (put_object_acl) => {
        PutObjectAclOutput
    };
    (put_object_tagging) => {
        PutObjectTaggingOutput
    };
    (get_object_tagging) => {
        GetObjectTaggingOutput
    };
    (delete_object_tagging) => {
        DeleteObjectTaggingOutput
    };
    (list_objects) => {
        ListObjectsOutput
    };
    (list_objects_v2) => {
        ListObjectsV2Output
    };
    (create_multipart_upload) => {
        CreateMultipartUploadOutput
    };
    (upload_part) => {
        UploadPartOutput
    };
    (upload_part_copy) => {
        UploadPartCopyOutput
    };
    (complete_multipart_upload) => {
        CompleteMultipartUploadOutput
    };
    (abort_multipart_upload) => {
        AbortMultipartUploadOutput
    };
    (list_parts) => {
        ListPartsOutput
    };
    (list_multipart_uploads) => {
        ListMultipartUploadsOutput
    };
}

dispatch! {
    put_bucket_lifecycle_configuration => lifecycle,
    get_bucket_lifecycle_configuration => lifecycle,
    delete_bucket_lifecycle => lifecycle,
    put_bucket_cors => cors,
    get_bucket_cors => cors,
    delete_bucket_cors => cors,
    put_bucket_versioning => versions,
    get_bucket_versioning => versions,
    list_object_versions => versions,
    put_object_lock_configuration => object_lock,
    get_object_lock_configuration => object_lock,
    put_object_retention => object_lock,
    get_object_retention => object_lock,
    put_object_legal_hold => object_lock,
    get_object_legal_hold => object_lock,
    create_bucket => bucket,
    head_bucket => bucket,
    delete_bucket => bucket,
    list_buckets => bucket,
    get_bucket_location => bucket,
    put_bucket_tagging => tagging,
    get_bucket_tagging => tagging,
    delete_bucket_tagging => tagging,
    put_bucket_acl => acl,
    put_bucket_ownership_controls => ownership,
    get_bucket_ownership_controls => ownership,
    delete_bucket_ownership_controls => ownership,
    get_bucket_acl => acl,
    put_bucket_policy => policy,
    get_bucket_policy => policy,
    get_bucket_policy_status => policy,
    delete_bucket_policy => policy,
    put_public_access_block => public_access,
    get_public_access_block => public_access,
    delete_public_access_block => public_access,
    put_object => put,
    get_object => get,
    head_object => get,
    get_object_attributes => attributes,
    delete_object => delete,
    delete_objects => delete,
    copy_object => copy,
    get_object_acl => acl,
    put_object_acl => acl,
    put_object_tagging => tagging,
    get_object_tagging => tagging,
    delete_object_tagging => tagging,
    list_objects => list,
    list_objects_v2 => list,
    create_multipart_upload => multipart,
    upload_part => multipart,
    upload_part_copy => multipart,
    complete_multipart_upload => multipart,
    abort_multipart_upload => multipart,
    list_parts => multipart,
    list_multipart_uploads => multipart,
}
