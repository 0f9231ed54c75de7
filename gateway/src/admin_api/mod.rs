//! The admin API: JSON over HTTP on its own listener (`--admin-listen`), every
//! endpoint under `/v1` behind the admin token (`Authorization: Bearer TOKEN`),
//! never the S3 keys. Keys (`keys`), grants and buckets (`buckets`), cluster
//! status; the OpenAPI document generated from these handlers is served at
//! `/v1/openapi.json` (without a token: it holds no data).

mod buckets;
pub mod error;
mod keys;
pub mod token;

use crate::access_cache::AccessCache;
use crate::state::Gateway;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cairn_node::cluster::config::ClusterConfig;
use error::ApiError;
use std::sync::Arc;
use utoipa::OpenApi;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub gateway: Gateway,
    pub cache: Arc<AccessCache>,
    token: Arc<str>,
    /// The cluster file of a cluster gateway (`None` in `cairn server`).
    pub cluster: Option<Arc<ClusterConfig>>,
}

impl ApiState {
    pub fn new(
        gateway: Gateway,
        cache: Arc<AccessCache>,
        token: String,
        cluster: Option<ClusterConfig>,
    ) -> Self {
        ApiState {
            gateway,
            cache,
            token: Arc::from(token.as_str()),
            cluster: cluster.map(Arc::new),
        }
    }
}

struct TokenAuth;

impl utoipa::Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Cairn admin API", version = "1", description = "Keys, grants, buckets and cluster status of a Cairn store."),
    paths(
        keys::list_keys, keys::create_key, keys::key_info, keys::disable_key,
        keys::enable_key, keys::delete_key, buckets::list_buckets, buckets::bucket_info,
        buckets::allow, buckets::deny, buckets::cluster_status
    ),
    components(schemas(
        error::ErrorBody, keys::KeyInfo, keys::CreateKey, keys::CreatedKey, keys::KeyGrant,
        keys::Deleted, buckets::BucketInfo, buckets::GrantInfo, buckets::GrantChange
    )),
    modifiers(&TokenAuth),
    security(("token" = []))
)]
pub struct ApiDoc;

/// The whole API.
pub fn router(state: ApiState) -> Router {
    let v1 = Router::new()
        .route("/keys", get(keys::list_keys).post(keys::create_key))
        .route("/keys/{name}", get(keys::key_info).delete(keys::delete_key))
        .route("/keys/{name}/disable", post(keys::disable_key))
        .route("/keys/{name}/enable", post(keys::enable_key))
        .route("/buckets", get(buckets::list_buckets))
        .route("/buckets/{bucket}", get(buckets::bucket_info))
        .route("/buckets/{bucket}/allow", post(buckets::allow))
        .route("/buckets/{bucket}/deny", post(buckets::deny))
        .route("/cluster", get(buckets::cluster_status))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .route("/openapi.json", get(openapi));
    Router::new()
        .nest("/v1", v1)
        .fallback(not_found)
        .with_state(state)
}

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn require_token(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if token::matches(&state.token, t) => Ok(next.run(req).await),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Serves the API on `listener` until the process stops.
pub async fn serve(listener: crate::tls::Listener, state: ApiState) {
    let app = router(state).layer(axum::extract::DefaultBodyLimit::max(error::MAX_BODY));
    if let Err(error) = axum::serve(crate::tls::for_axum(listener), app).await {
        tracing::error!(%error, "admin API stopped");
    }
}
