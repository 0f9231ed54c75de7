//! The web console: a listener of its own (`--console-listen`; on by default at
//! 127.0.0.1:9001 in `cairn server`, off on gateways) serving the page and its
//! scripts (`assets`, embedded), `/config.json` (region, whether the admin pages
//! work), `/history.json` (the charts' samples, `history`), `/api/...` (the admin
//! API's own handlers, behind the admin token as on its listener) and `/s3/...`
//! (forwarded to this process's S3 listener, `proxy`). The browser signs its own
//! S3 requests with the key the operator logged in with; the server keeps no
//! session.

pub mod assets;
pub mod history;
pub mod proxy;

use crate::admin_api::ApiState;
use crate::server::ServerError;
use crate::tls::Https;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use history::History;
use proxy::S3Proxy;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The default address in `cairn server`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9001";

/// Where the console listens.
#[derive(Clone, Debug)]
pub struct ConsoleOptions {
    pub listen: SocketAddr,
    /// Whether a failure to listen stops the start (not for the default address).
    pub required: bool,
    /// How often the charts' history takes a sample (10 s).
    pub sample_every: Duration,
}

#[derive(Clone)]
struct ConsoleState {
    proxy: S3Proxy,
    history: Arc<History>,
    config: Arc<str>,
}

/// Binds the console's listener and serves it in the background; `s3_listen` is
/// the S3 listener's HOST:PORT, `api` the admin API's state when it is served.
pub async fn start(
    opts: &ConsoleOptions,
    s3_listen: &str,
    region: &str,
    api: Option<ApiState>,
    https: Option<&Https>,
) -> Result<(), ServerError> {
    let listener = match tokio::net::TcpListener::bind(opts.listen).await {
        Ok(l) => l,
        Err(source) if opts.required => {
            return Err(ServerError::Listen {
                addr: opts.listen.to_string(),
                source,
            })
        }
        Err(error) => {
            tracing::warn!(addr = %opts.listen, %error, "web console not started (pass --console-listen ADDR)");
            return Ok(());
        }
    };
    let config = serde_json::json!({
        "region": region,
        "admin": api.is_some(),
        "cluster": api.as_ref().is_some_and(|a| a.cluster.is_some()),
        "sample_interval_s": opts.sample_every.as_secs_f64(),
    });
    let state = ConsoleState {
        proxy: S3Proxy::new(s3_listen, https.map(Https::client_of_self).transpose()?),
        history: History::spawn(opts.sample_every),
        config: Arc::from(config.to_string().as_str()),
    };
    let listener = crate::tls::listener(https, listener);
    println!(
        "Cairn web console at {}://{}/",
        listener.scheme(),
        opts.listen
    );
    let app = router(state, api);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(crate::tls::for_axum(listener), app).await {
            tracing::error!(%error, "web console stopped");
        }
    });
    Ok(())
}

fn router(state: ConsoleState, api: Option<ApiState>) -> Router {
    let api_router = match api {
        Some(api) => crate::admin_api::router(api).layer(axum::extract::DefaultBodyLimit::max(
            crate::admin_api::error::MAX_BODY,
        )),
        None => Router::new().fallback(no_admin_api),
    };
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/assets/{name}", get(asset))
        .route("/config.json", get(config))
        .route("/history.json", get(history))
        .nest_service("/api", api_router)
        .fallback(fallback)
        .with_state(state)
}

fn file(name: &str) -> Response {
    match assets::get(name) {
        Some((content_type, bytes)) => (
            [
                (http::header::CONTENT_TYPE, content_type),
                (http::header::CACHE_CONTROL, "no-cache"),
                (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (http::header::CONTENT_SECURITY_POLICY, assets::CSP),
            ],
            bytes,
        )
            .into_response(),
        None => (http::StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

async fn index() -> Response {
    file("index.html")
}

async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}

fn json(text: String) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "application/json"),
            (http::header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

async fn config(State(s): State<ConsoleState>) -> Response {
    json(s.config.to_string())
}

async fn history(State(s): State<ConsoleState>) -> Response {
    json(s.history.json())
}

async fn no_admin_api() -> Response {
    let body = serde_json::json!({
        "error": "NotEnabled",
        "message": "this server does not serve the admin API (start it with --admin-listen and a token)",
    });
    let mut resp = json(body.to_string());
    *resp.status_mut() = http::StatusCode::NOT_FOUND;
    resp
}

/// `/s3` and `/s3/...` go to the S3 listener; anything else is not here.
async fn fallback(State(s): State<ConsoleState>, req: Request) -> Response {
    let path = req.uri().path();
    if path == proxy::PREFIX || path.starts_with("/s3/") {
        return s.proxy.forward(req).await;
    }
    let mut resp = Response::new(Body::from("no such page"));
    *resp.status_mut() = http::StatusCode::NOT_FOUND;
    resp
}
