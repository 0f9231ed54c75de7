//! `/v1/buckets`: list and info (size, object count, owner, grants), grants
//! (`allow` adds permissions of a key on a bucket, `deny` takes them away), and
//! `/v1/cluster`, the cluster status of `cairn cluster status --json`.

use super::error::{ApiError, ApiJson, ErrorBody};
use super::keys::{find, rfc3339};
use super::ApiState;
use axum::extract::{Path, State};
use axum::Json;
use cairn_node::access::{AccessState, Permission};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BucketInfo {
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The owning key's name (`admin` for buckets made before owners).
    pub owner: String,
    /// Keys whose newest version is an object.
    pub objects: u64,
    /// Bytes of every version.
    pub size: u64,
    pub grants: Vec<GrantInfo>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantInfo {
    pub key: String,
    pub read: bool,
    pub write: bool,
    pub owner: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantChange {
    /// The key's name.
    pub key: String,
    #[serde(default)]
    pub read: bool,
    #[serde(default)]
    pub write: bool,
    #[serde(default)]
    pub owner: bool,
}

fn key_name(all: &AccessState, access_key: &str) -> String {
    all.keys
        .iter()
        .find(|k| k.access_key == access_key)
        .map_or_else(|| access_key.to_string(), |k| k.name.clone())
}

async fn infos(state: &ApiState, only: Option<&str>) -> Result<Vec<BucketInfo>, ApiError> {
    let node = &state.gateway.node;
    let all = node.access_state().await?;
    let usage = node.bucket_usage().await?;
    let mut out = Vec::new();
    for (name, rec) in node.list_buckets().await? {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let access = all.buckets.get(&name);
        let used = usage.get(&name).cloned().unwrap_or_default();
        out.push(BucketInfo {
            created: rfc3339(rec.created_ms),
            owner: access.map_or_else(
                || crate::keys::ADMIN_NAME.to_string(),
                |a| key_name(&all, &a.owner),
            ),
            objects: used.keys,
            size: used.logical_bytes,
            grants: access
                .map(|a| {
                    a.grants
                        .iter()
                        .map(|(k, p)| GrantInfo {
                            key: key_name(&all, k),
                            read: p.read,
                            write: p.write,
                            owner: p.owner,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[utoipa::path(get, path = "/v1/buckets", tag = "buckets",
    responses((status = 200, body = [BucketInfo]), (status = 401, body = ErrorBody)))]
pub async fn list_buckets(
    State(state): State<ApiState>,
) -> Result<Json<Vec<BucketInfo>>, ApiError> {
    Ok(Json(infos(&state, None).await?))
}

#[utoipa::path(get, path = "/v1/buckets/{bucket}", tag = "buckets",
    params(("bucket" = String, Path, description = "The bucket's name")),
    responses((status = 200, body = BucketInfo), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn bucket_info(
    State(state): State<ApiState>,
    Path(bucket): Path<String>,
) -> Result<Json<BucketInfo>, ApiError> {
    infos(&state, Some(&bucket))
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no bucket named {bucket:?}")))
}

async fn change(
    state: ApiState,
    bucket: String,
    body: GrantChange,
    add: bool,
) -> Result<Json<BucketInfo>, ApiError> {
    let asked = Permission {
        read: body.read,
        write: body.write,
        owner: body.owner,
    };
    if asked.is_none() {
        return Err(ApiError::BadRequest(
            "name at least one of read, write, owner".into(),
        ));
    }
    let (rec, all) = find(&state, &body.key).await?;
    if state.gateway.node.get_bucket(bucket.clone()).await.is_err() {
        return Err(ApiError::NotFound(format!("no bucket named {bucket:?}")));
    }
    let current = all
        .buckets
        .get(&bucket)
        .and_then(|a| a.grants.get(&rec.access_key))
        .copied()
        .unwrap_or_default();
    let next = if add {
        current.union(asked)
    } else {
        current.without(asked)
    };
    state
        .gateway
        .node
        .set_grant(bucket.clone(), rec.access_key, next)
        .await?;
    state.cache.reload().await?;
    tracing::info!(%bucket, key = %body.key, read = next.read, write = next.write, owner = next.owner, "grant changed");
    bucket_info(State(state), Path(bucket)).await
}

#[utoipa::path(post, path = "/v1/buckets/{bucket}/allow", tag = "buckets",
    params(("bucket" = String, Path, description = "The bucket's name")),
    request_body = GrantChange,
    responses((status = 200, body = BucketInfo), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn allow(
    State(state): State<ApiState>,
    Path(bucket): Path<String>,
    ApiJson(body): ApiJson<GrantChange>,
) -> Result<Json<BucketInfo>, ApiError> {
    change(state, bucket, body, true).await
}

#[utoipa::path(post, path = "/v1/buckets/{bucket}/deny", tag = "buckets",
    params(("bucket" = String, Path, description = "The bucket's name")),
    request_body = GrantChange,
    responses((status = 200, body = BucketInfo), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deny(
    State(state): State<ApiState>,
    Path(bucket): Path<String>,
    ApiJson(body): ApiJson<GrantChange>,
) -> Result<Json<BucketInfo>, ApiError> {
    change(state, bucket, body, false).await
}

/// The cluster status: `cairn cluster status --json` on a cluster gateway; in
/// `cairn server` its one node's capacity.
#[utoipa::path(get, path = "/v1/cluster", tag = "cluster",
    responses((status = 200, body = Object, description = "The cluster view"),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn cluster_status(
    State(state): State<ApiState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(cfg) = &state.cluster {
        let view = crate::admin::view::collect(cfg)
            .await
            .map_err(ApiError::Unavailable)?;
        return serde_json::to_value(&view)
            .map(Json)
            .map_err(|e| ApiError::Internal(e.to_string()));
    }
    let capacity = state.gateway.node.capacity().await?;
    Ok(Json(serde_json::json!({
        "name": "embedded",
        "nodes": [{"id": 1, "up": true, "capacity": capacity.total, "used": capacity.used}],
        "usable_capacity": capacity.available,
    })))
}
