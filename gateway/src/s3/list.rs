//! ListObjectsV2 and ListObjects (V1): prefix, delimiter with common prefixes,
//! max-keys paging by continuation token / start-after / marker, encoding-type=url.

use super::error::OrS3;
use super::meta::{etag, timestamp};
use crate::state::Gateway;
use base64::Engine;
use cairn_node::storage::catalog::{ListPage, ListQuery};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

const MAX_KEYS: i32 = 1000;

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(MAX_KEYS as usize),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must not be negative")),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
    }
}

/// Applies `encoding-type=url` to a key or prefix when asked.
fn encoder(encoding: Option<&EncodingType>) -> impl Fn(String) -> String {
    let url = encoding.is_some_and(|e| e.as_str() == "url");
    move |s: String| {
        if url {
            urlencoding::encode(&s).into_owned()
        } else {
            s
        }
    }
}

fn contents(page: &ListPage, enc: &impl Fn(String) -> String) -> Vec<Object> {
    page.objects
        .iter()
        .map(|o| Object {
            key: Some(enc(o.key.clone())),
            size: i64::try_from(o.size).ok(),
            e_tag: Some(etag(&o.etag)),
            last_modified: Some(timestamp(o.last_modified_ms)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Default::default()
        })
        .collect()
}

fn common_prefixes(page: &ListPage, enc: &impl Fn(String) -> String) -> Vec<CommonPrefix> {
    page.common_prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p.clone())),
        })
        .collect()
}

pub async fn list_objects_v2(
    gw: &Gateway,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let after_token = match &input.continuation_token {
        Some(t) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .map_err(|_| s3_error!(InvalidArgument, "bad continuation token"))?;
            Some(
                String::from_utf8(raw)
                    .map_err(|_| s3_error!(InvalidArgument, "bad continuation token"))?,
            )
        }
        None => None,
    };
    let query = ListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        start_after: after_token.or_else(|| input.start_after.clone()),
        max: max_keys(input.max_keys)?,
    };
    let page = gw
        .node
        .list_objects(input.bucket.clone(), query)
        .await
        .or_s3()?;
    let enc = encoder(input.encoding_type.as_ref());
    let next_continuation_token = page
        .last
        .as_ref()
        .filter(|_| page.truncated)
        .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k));
    let out = ListObjectsV2Output {
        name: Some(input.bucket),
        key_count: i32::try_from(page.objects.len() + page.common_prefixes.len()).ok(),
        max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: Some(contents(&page, &enc)),
        common_prefixes: Some(common_prefixes(&page, &enc)),
        prefix: Some(enc(input.prefix.unwrap_or_default())),
        delimiter: input.delimiter.map(&enc),
        start_after: input.start_after.map(&enc),
        continuation_token: input.continuation_token,
        next_continuation_token,
        encoding_type: input.encoding_type,
        ..Default::default()
    };
    Ok(S3Response::new(out))
}

pub async fn list_objects(
    gw: &Gateway,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let query = ListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: input.delimiter.clone(),
        start_after: input.marker.clone().filter(|m| !m.is_empty()),
        max: max_keys(input.max_keys)?,
    };
    let page = gw
        .node
        .list_objects(input.bucket.clone(), query)
        .await
        .or_s3()?;
    let enc = encoder(input.encoding_type.as_ref());
    let next_marker = page.last.clone().filter(|_| page.truncated).map(&enc);
    let out = ListObjectsOutput {
        name: Some(input.bucket),
        max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: Some(contents(&page, &enc)),
        common_prefixes: Some(common_prefixes(&page, &enc)),
        prefix: Some(enc(input.prefix.unwrap_or_default())),
        delimiter: input.delimiter.map(&enc),
        marker: Some(input.marker.unwrap_or_default()),
        next_marker,
        encoding_type: input.encoding_type,
        ..Default::default()
    };
    Ok(S3Response::new(out))
}
