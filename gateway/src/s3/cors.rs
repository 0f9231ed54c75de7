//! Put/Get/DeleteBucketCors: a bucket's CORS rules, validated as AWS validates them
//! (`cors::rules`) and kept as a catalog bucket document. The listener evaluates
//! them (`cors::respond`).

use super::error::OrS3;
use crate::cors::rules::{CorsConfig, DOC_KIND};
use crate::state::Gateway;
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

pub async fn put_bucket_cors(
    gw: &Gateway,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let input = req.input;
    let config = CorsConfig::from_dto(input.cors_configuration).map_err(|e| {
        S3Error::with_message(
            S3ErrorCode::from_bytes(e.code.as_bytes()).unwrap_or(S3ErrorCode::InvalidRequest),
            e.message,
        )
    })?;
    let bucket = input.bucket;
    let result = gw
        .node
        .set_bucket_doc(bucket.clone(), DOC_KIND, Some(config.encode()))
        .await;
    gw.cors.forget(&bucket);
    result.or_s3()?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

pub async fn get_bucket_cors(
    gw: &Gateway,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let doc = gw
        .node
        .bucket_doc(req.input.bucket, DOC_KIND)
        .await
        .or_s3()?;
    let Some(config) = doc.as_deref().and_then(CorsConfig::decode) else {
        return Err(s3_error!(
            NoSuchCORSConfiguration,
            "The CORS configuration does not exist"
        ));
    };
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(config.to_dto()),
    }))
}

pub async fn delete_bucket_cors(
    gw: &Gateway,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    let bucket = req.input.bucket;
    let result = gw.node.set_bucket_doc(bucket.clone(), DOC_KIND, None).await;
    gw.cors.forget(&bucket);
    result.or_s3()?;
    Ok(S3Response::new(DeleteBucketCorsOutput {}))
}
