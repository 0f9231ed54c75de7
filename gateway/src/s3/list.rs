//! ListObjectsV2 and ListObjects (V1): prefix, delimiter with common prefixes,
//! max-keys paging by continuation token / start-after / marker, encoding-type=url,
//! the keys' owner (V1, and V2 with fetch-owner).

use super::error::OrS3;
use super::meta::{etag, timestamp};
use crate::state::Gateway;
use base64::Engine;
use cairn_node::storage::catalog::{ListPage, ListQuery};
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result};

const MAX_KEYS: i32 = 1000;

pub(super) fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(MAX_KEYS as usize),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must not be negative")),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
    }
}

/// Applies `encoding-type=url` to a key or prefix when asked: every byte of the
/// UTF-8 form is percent-encoded except the unreserved characters (`A-Z a-z 0-9
/// - . _ ~`) and `/`, as S3 does. Clients decode with form decoding (boto3's
/// `unquote_plus`) or plain percent decoding; both read `%20` as a space.
pub(super) fn encoder(encoding: Option<&EncodingType>) -> impl Fn(String) -> String {
    let url = encoding.is_some_and(|e| e.as_str() == "url");
    move |s: String| if url { url_encode(&s) } else { s }
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The delimiter that applies: an empty `delimiter=` is none at all.
pub(super) fn delimiter(d: Option<String>) -> Option<String> {
    d.filter(|d| !d.is_empty())
}

/// The listed keys; with their owner (the bucket's) when given (V1 always, V2
/// with `fetch-owner=true`).
fn contents(
    page: &ListPage,
    enc: &impl Fn(String) -> String,
    owner: Option<&Owner>,
) -> Vec<Object> {
    page.objects
        .iter()
        .map(|o| Object {
            owner: owner.cloned(),
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

/// One page of the bucket's listing. A page of at most zero keys is empty and not
/// truncated (`max-keys=0`), as S3 answers it.
async fn list_page(gw: &Gateway, bucket: &str, query: ListQuery) -> S3Result<ListPage> {
    let empty = query.max == 0;
    let mut page = gw
        .node
        .list_objects(bucket.to_string(), query)
        .await
        .or_s3()?;
    if empty {
        page.truncated = false;
        page.last = None;
    }
    Ok(page)
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
    let delim = delimiter(input.delimiter);
    let query = ListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: delim.clone(),
        start_after: after_token.or_else(|| input.start_after.clone()),
        max: max_keys(input.max_keys)?,
    };
    let page = list_page(gw, &input.bucket, query).await?;
    let enc = encoder(input.encoding_type.as_ref());
    let next_continuation_token = page
        .last
        .as_ref()
        .filter(|_| page.truncated)
        .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k));
    let owner = match input.fetch_owner {
        Some(true) => Some(super::acl::bucket_owner(gw, &input.bucket).await?),
        _ => None,
    };
    let out = ListObjectsV2Output {
        name: Some(input.bucket),
        key_count: i32::try_from(page.objects.len() + page.common_prefixes.len()).ok(),
        max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: Some(contents(&page, &enc, owner.as_ref())),
        common_prefixes: Some(common_prefixes(&page, &enc)),
        prefix: Some(enc(input.prefix.unwrap_or_default())),
        delimiter: delim.map(&enc),
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
    let delim = delimiter(input.delimiter);
    let query = ListQuery {
        prefix: input.prefix.clone().unwrap_or_default(),
        delimiter: delim.clone(),
        start_after: input.marker.clone().filter(|m| !m.is_empty()),
        max: max_keys(input.max_keys)?,
    };
    let page = list_page(gw, &input.bucket, query).await?;
    let enc = encoder(input.encoding_type.as_ref());
    let next_marker = page.last.clone().filter(|_| page.truncated).map(&enc);
    let owner = super::acl::bucket_owner(gw, &input.bucket).await?;
    let out = ListObjectsOutput {
        name: Some(input.bucket),
        max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: Some(contents(&page, &enc, Some(&owner))),
        common_prefixes: Some(common_prefixes(&page, &enc)),
        prefix: Some(enc(input.prefix.unwrap_or_default())),
        delimiter: delim.map(&enc),
        marker: Some(enc(input.marker.unwrap_or_default())),
        next_marker,
        encoding_type: input.encoding_type,
        ..Default::default()
    };
    Ok(S3Response::new(out))
}
