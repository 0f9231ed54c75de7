//! `/v1/keys`: create (the response holds the secret, the only time it is
//! shown), list, info (with the buckets the key owns or was granted), disable,
//! enable, delete. The admin keys cannot be disabled or deleted here.

use super::error::{ApiError, ApiJson, ErrorBody};
use super::ApiState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use cairn_node::access::KeyRecord;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub name: String,
    pub access_key: String,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339; absent: never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub enabled: bool,
    pub expired: bool,
    /// The admin-owner: every permission on every bucket.
    pub admin: bool,
    /// Buckets the key owns or was granted.
    pub buckets: Vec<KeyGrant>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyGrant {
    pub bucket: String,
    pub read: bool,
    pub write: bool,
    pub owner: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// 1–64 of letters, digits, '.', '_', '-'.
    pub name: String,
    /// An RFC 3339 instant or date (`2027-01-31`), or a duration from now
    /// (`90d`, `12h`, `30m`, `3600s`).
    #[serde(default)]
    pub expires: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub name: String,
    pub access_key: String,
    /// Shown in this response only: it is kept sealed and never shown again.
    pub secret_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: String,
}

pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `--expires`: an RFC 3339 instant, a date, or a duration from `now_ms`.
pub fn parse_expires(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("not a date or duration: {text:?} (e.g. 2027-01-31, 90d, 12h)");
    if let Some((num, unit)) = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&i| i > 0)
        .map(|i| text.split_at(i))
    {
        let n: i64 = num.parse().map_err(|_| bad())?;
        let unit_ms = match unit {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            _ => 0,
        };
        if unit_ms > 0 {
            return n
                .checked_mul(unit_ms)
                .and_then(|d| now_ms.checked_add(d))
                .ok_or_else(bad);
        }
    }
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &date_format).map_err(|_| bad())?;
    Ok(date.midnight().assume_utc().unix_timestamp() * 1000)
}

fn info(rec: &KeyRecord, state: &cairn_node::access::AccessState) -> KeyInfo {
    let now = cairn_node::now_ms();
    let buckets = state
        .buckets
        .iter()
        .filter_map(|(bucket, access)| {
            let p = access.permission_of(&rec.access_key);
            (!p.is_none()).then(|| KeyGrant {
                bucket: bucket.clone(),
                read: p.read,
                write: p.write,
                owner: p.owner,
            })
        })
        .collect();
    KeyInfo {
        name: rec.name.clone(),
        access_key: rec.access_key.clone(),
        created: rfc3339(rec.created_ms),
        expires: rec.expires_ms.map(rfc3339),
        enabled: rec.enabled,
        expired: rec.expires_ms.is_some_and(|t| t <= now),
        admin: rec.admin,
        buckets,
    }
}

/// The record of the key named `name`, and the state it was found in.
pub async fn find(
    state: &ApiState,
    name: &str,
) -> Result<(KeyRecord, cairn_node::access::AccessState), ApiError> {
    let all = state.gateway.node.access_state().await?;
    let rec = all
        .keys
        .iter()
        .find(|k| k.name == name)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no key named {name:?}")))?;
    Ok((rec, all))
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, body = [KeyInfo]), (status = 401, body = ErrorBody)))]
pub async fn list_keys(State(state): State<ApiState>) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    let all = state.gateway.node.access_state().await?;
    let mut out: Vec<KeyInfo> = all.keys.iter().map(|k| info(k, &all)).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_key(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    if !crate::keys::valid_name(&body.name) {
        return Err(ApiError::BadRequest(
            "a key name is 1-64 of letters, digits, '.', '_', '-'".into(),
        ));
    }
    let now = cairn_node::now_ms();
    let expires_ms = body
        .expires
        .as_deref()
        .map(|e| parse_expires(e, now))
        .transpose()
        .map_err(ApiError::BadRequest)?;
    if expires_ms.is_some_and(|t| t <= now) {
        return Err(ApiError::BadRequest("the expiry is in the past".into()));
    }
    let all = state.gateway.node.access_state().await?;
    if all.keys.iter().any(|k| k.name == body.name) {
        return Err(ApiError::Conflict(format!(
            "a key named {:?} exists",
            body.name
        )));
    }
    let (access_key, secret) = (crate::keys::new_access_key(), crate::keys::new_secret());
    let rec = crate::keys::record(
        state.cache.sealing(),
        &body.name,
        &access_key,
        &secret,
        expires_ms,
        false,
    );
    state.gateway.node.put_key_record(rec).await?;
    state.cache.reload().await?;
    tracing::info!(key = %body.name, %access_key, "access key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            name: body.name,
            access_key,
            secret_key: secret,
            expires: expires_ms.map(rfc3339),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/keys/{name}", tag = "keys",
    params(("name" = String, Path, description = "The key's name")),
    responses((status = 200, body = KeyInfo), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn key_info(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<KeyInfo>, ApiError> {
    let (rec, all) = find(&state, &name).await?;
    Ok(Json(info(&rec, &all)))
}

async fn set_enabled(
    state: ApiState,
    name: String,
    enabled: bool,
) -> Result<Json<KeyInfo>, ApiError> {
    let (rec, _) = find(&state, &name).await?;
    if rec.admin && !enabled {
        return Err(ApiError::Conflict("an admin key cannot be disabled".into()));
    }
    state
        .gateway
        .node
        .set_key_enabled(rec.access_key.clone(), enabled)
        .await?;
    state.cache.reload().await?;
    tracing::info!(key = %name, enabled, "access key changed");
    let (rec, all) = find(&state, &name).await?;
    Ok(Json(info(&rec, &all)))
}

#[utoipa::path(post, path = "/v1/keys/{name}/disable", tag = "keys",
    params(("name" = String, Path, description = "The key's name")),
    responses((status = 200, body = KeyInfo), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn disable_key(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<KeyInfo>, ApiError> {
    set_enabled(state, name, false).await
}

#[utoipa::path(post, path = "/v1/keys/{name}/enable", tag = "keys",
    params(("name" = String, Path, description = "The key's name")),
    responses((status = 200, body = KeyInfo), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn enable_key(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<KeyInfo>, ApiError> {
    set_enabled(state, name, true).await
}

#[utoipa::path(delete, path = "/v1/keys/{name}", tag = "keys",
    params(("name" = String, Path, description = "The key's name")),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_key(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    let (rec, _) = find(&state, &name).await?;
    if rec.admin {
        return Err(ApiError::Conflict("an admin key cannot be deleted".into()));
    }
    state.gateway.node.delete_key(rec.access_key).await?;
    state.cache.reload().await?;
    tracing::info!(key = %name, "access key deleted");
    Ok(Json(Deleted { deleted: name }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_forms() {
        assert_eq!(parse_expires("2d", 0), Ok(2 * 86_400_000));
        assert_eq!(parse_expires("90s", 5), Ok(90_005));
        assert_eq!(parse_expires("1970-01-02", 0), Ok(86_400_000));
        assert_eq!(parse_expires("1970-01-01T00:00:01Z", 0), Ok(1000));
        assert!(parse_expires("soon", 0).is_err());
        assert!(parse_expires("5y", 0).is_err());
    }
}
