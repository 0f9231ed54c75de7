//! The HTTP server of a gateway: accepts connections (plain or TLS, TCP_NODELAY),
//! at most `max_connections` at once, and runs every request through `request`
//! (health, metrics, request ids, the s3s service). Also the two start-ups: the embedded
//! `cairn server` (a one-node cluster and a gateway in one process, the node reached
//! in-process) and `cairn gateway` (a gateway of a cluster, nodes reached by RPC).

use crate::access_cache::AccessCache;
use crate::auth::{Authorizer, KeyAuth};
use crate::cors::cache::CorsCache;
use crate::drain::BodyLimits;
use crate::keys::StartKey;
pub use crate::limits::Limits;
use crate::limits::{Activity, TimedIo};
use crate::metrics::METRICS;
use crate::s3::post_object::PostContext;
use crate::s3::S3Api;
use crate::sealing::SealingKey;
use crate::state::{Gateway, GatewayConfig};
use crate::tls::{CertFiles, Https, Listener, TlsSource};
use cairn_node::cluster::config::ClusterConfig;
use cairn_node::{Node, NodeClient, NodeOptions};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::service::{S3Service, S3ServiceBuilder};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// HOST:PORT (a name or an address).
    pub listen: String,
    pub data_dir: PathBuf,
    pub region: String,
    pub domain: Option<String>,
    pub chunk_size: usize,
    pub gc_grace: Duration,
    pub gc_interval: Duration,
    /// `--min-free`: see `NodeOptions::min_free`.
    pub min_free: Option<u64>,
    pub lifecycle_interval: Duration,
    pub lifecycle_clock_offset_ms: i64,
    /// `--scrub-interval`, `--scrub-bandwidth`.
    pub scrub: cairn_node::cluster::config::ScrubSettings,
    /// `--catalog-cache`, `--log-cache`.
    pub db_caches: cairn_node::storage::DbCaches,
    pub limits: Limits,
    /// `--admin-listen`, with `--admin-token-file` / `CAIRN_ADMIN_TOKEN`.
    pub admin_listen: Option<SocketAddr>,
    /// Whether `admin_listen` is the default (taken: start without the API).
    pub admin_default: bool,
    pub admin_token_file: Option<PathBuf>,
    /// `--tls-cert`/`--tls-key`, or `--tls-self-signed`.
    pub tls: Option<TlsSource>,
    /// `--console-listen` (the web console).
    pub console: Option<crate::console::ConsoleOptions>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("storage: {0}")]
    Node(#[from] cairn_node::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid --domain: {0}")]
    Domain(String),
    #[error("cluster file: {0}")]
    Config(#[from] cairn_node::cluster::config::ConfigError),
    #[error("{0}")]
    Seal(#[from] crate::sealing::SealError),
    #[error("admin token: {0}")]
    AdminToken(String),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// What a gateway serves besides its storage: where, which region and host names,
/// which chunk size.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// HOST:PORT (a name or an address).
    pub listen: String,
    pub region: String,
    pub domain: Option<String>,
    pub chunk_size: usize,
    pub limits: Limits,
    /// The admin API's listener and token, if it is served.
    pub admin: Option<AdminListen>,
    /// HTTPS certificate and key of the S3 endpoint and admin API.
    pub tls: Option<CertFiles>,
    /// The web console's listener, if it is served.
    pub console: Option<crate::console::ConsoleOptions>,
}

/// Where the admin API listens and the token it wants.
#[derive(Clone)]
pub struct AdminListen {
    pub listen: SocketAddr,
    pub token: String,
    /// Where the token came from, as printed at start (never the token).
    pub token_source: String,
    /// The cluster file, for the cluster status (`None` in `cairn server`).
    pub cluster: Option<ClusterConfig>,
    /// Whether a failure to listen stops the start (not for the default address).
    pub required: bool,
}

impl std::fmt::Debug for AdminListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminListen({}, {})", self.listen, self.token_source)
    }
}

/// Runs the embedded single-node store until the process is stopped.
pub async fn run_embedded(opts: ServerOptions) -> Result<(), ServerError> {
    // A busy port fails here, before the data directory is created.
    let listener = bind(&opts.listen).await?;
    let mut cfg = ClusterConfig::single_node(opts.data_dir.clone());
    cfg.scrub = opts.scrub.clone();
    let node = Node::start(
        cfg,
        1,
        NodeOptions {
            gc_grace: opts.gc_grace,
            gc_interval: opts.gc_interval,
            min_free: opts.min_free,
            drop_reply_keys: Vec::new(),
            lifecycle_interval: opts.lifecycle_interval,
            lifecycle_clock_offset_ms: opts.lifecycle_clock_offset_ms,
            disk: cairn_node::storage::disk::Disk::Real,
            db_caches: opts.db_caches,
        },
    )
    .await?;
    node.wait_for_catalog_leader(Duration::from_secs(60))
        .await?;
    let client = NodeClient::local(node.clone());
    let tls = match opts.tls {
        Some(source) => Some(source.files(&opts.data_dir, &opts.listen).await?),
        None => None,
    };
    let gateway_opts = GatewayOptions {
        tls,
        listen: opts.listen,
        region: opts.region.clone(),
        domain: opts.domain.clone(),
        chunk_size: opts.chunk_size,
        limits: opts.limits.clone(),
        admin: match opts.admin_listen {
            Some(listen) => Some(crate::admin_api::token::admin_listen(
                listen,
                opts.admin_token_file.as_deref(),
                Some(&opts.data_dir),
                !opts.admin_default,
            )?),
            None => None,
        },
        console: opts.console.clone(),
    };
    let sealing = SealingKey::load_or_create(&opts.data_dir)?;
    let where_ = format!("data in {}", opts.data_dir.display());
    run_gateway_with(client, listener, &gateway_opts, sealing, None, &where_).await?;
    node.shutdown().await;
    Ok(())
}

/// Binds the S3 listener on HOST:PORT (a name resolves to its addresses; the
/// first that binds is used).
async fn bind(listen: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: listen.to_string(),
            source,
        })
}

/// Runs a gateway of the cluster described by `cfg` until the process is stopped.
pub async fn run_cluster_gateway(
    cfg: ClusterConfig,
    mut opts: GatewayOptions,
) -> Result<(), ServerError> {
    let listener = bind(&opts.listen).await?;
    if let Some(admin) = &mut opts.admin {
        admin.cluster = Some(cfg.clone());
    }
    let client = NodeClient::remote(&cfg)?;
    let mut waited = 0u32;
    while let Err(error) = client.readiness().await {
        match &error {
            // A wrong cluster secret: say so (every 5 s), never "waiting".
            cairn_node::Error::Config(msg) if waited.is_multiple_of(10) => {
                tracing::error!("cannot reach the cluster: {msg}");
            }
            cairn_node::Error::Config(_) => {}
            _ if waited.is_multiple_of(10) => {
                tracing::info!(%error, "waiting for the catalog group to elect a leader")
            }
            _ => {}
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let configured = cfg.access_key.clone().zip(cfg.secret_key.clone());
    let where_ = format!("cluster {} ({} nodes)", cfg.name, cfg.nodes.len());
    spawn_cluster_metrics(cfg.clone());
    let sealing = SealingKey::from_cluster_secret(&cfg.secret);
    run_gateway_with(client, listener, &opts, sealing, configured, &where_).await
}

/// Refreshes the cluster section of `/metrics` (map, capacity, moves) every 10 s.
fn spawn_cluster_metrics(cfg: ClusterConfig) {
    tokio::spawn(async move {
        loop {
            match crate::admin::view::collect(&cfg).await {
                Ok(view) => METRICS.set_cluster(crate::admin::view::prometheus(&view)),
                Err(error) => tracing::debug!(%error, "cluster metrics refresh failed"),
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
}

async fn run_gateway_with(
    client: NodeClient,
    listener: TcpListener,
    opts: &GatewayOptions,
    sealing: SealingKey,
    configured_key: Option<(String, String)>,
    where_: &str,
) -> Result<(), ServerError> {
    let https = opts.tls.as_ref().map(Https::start).transpose()?;
    let listener = crate::tls::listener(https.as_ref(), listener);
    let from_env = std::env::var("CAIRN_ACCESS_KEY")
        .ok()
        .zip(std::env::var("CAIRN_SECRET_KEY").ok())
        .filter(|(a, s)| !a.is_empty() && !s.is_empty());
    let start_key = crate::keys::bootstrap(&client, &sealing, from_env.or(configured_key)).await?;
    let cache = AccessCache::start(client.clone(), sealing).await?;
    crate::usage::spawn_usage_metrics(client.clone(), opts.limits.usage_refresh);
    let gateway = Gateway::new(
        client,
        GatewayConfig::new(opts.region.clone(), opts.chunk_size),
    );
    let cors = gateway.cors.clone();
    let service = build_service_with(gateway.clone(), cache.clone(), opts.domain.as_deref())?;
    let post = Arc::new(PostContext::new(
        gateway.clone(),
        Authorizer::new(&gateway, cache.clone()),
        opts.region.clone(),
    ));
    if let Some(admin) = &opts.admin {
        match TcpListener::bind(admin.listen).await {
            Ok(listener) => {
                let state = crate::admin_api::ApiState::new(
                    gateway.clone(),
                    cache.clone(),
                    admin.token.clone(),
                    admin.cluster.clone(),
                );
                let listener = crate::tls::listener(https.as_ref(), listener);
                println!(
                    "Cairn admin API at {}://{}/v1 (token {})",
                    listener.scheme(),
                    admin.listen,
                    admin.token_source
                );
                tokio::spawn(crate::admin_api::serve(listener, state));
            }
            Err(source) if admin.required => {
                return Err(ServerError::Listen {
                    addr: admin.listen.to_string(),
                    source,
                })
            }
            Err(error) => {
                tracing::warn!(addr = %admin.listen, %error, "admin API not started (pass --admin-listen ADDR)");
            }
        }
    }
    if let Some(console) = &opts.console {
        let api = opts.admin.as_ref().map(|a| {
            crate::admin_api::ApiState::new(gateway, cache, a.token.clone(), a.cluster.clone())
        });
        crate::console::start(console, &opts.listen, &opts.region, api, https.as_ref()).await?;
    }
    let endpoint = format!("{}://{}", listener.scheme(), opts.listen);
    println!(
        "Cairn is serving S3 at {endpoint} (region {}), {where_}",
        opts.region
    );
    https.iter().for_each(Https::announce);
    announce_key(&start_key, &endpoint, &opts.region);
    let cx = ServeContext {
        service,
        region: opts.region.clone(),
        limits: opts.limits.clone(),
        cors,
        domain: opts.domain.clone(),
        post,
    };
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let signal = crate::shutdown::signalled().await;
        tracing::info!(
            signal,
            "shutting down: no new connections; finishing requests in flight"
        );
        let _ = stop.send(true);
    });
    serve_until(listener, cx, stopping).await;
    Ok(())
}

/// Prints the start-up key: its secret only when it was generated now (the one
/// time it is shown).
fn announce_key(key: &StartKey, endpoint: &str, region: &str) {
    match key {
        StartKey::Configured { access_key } => {
            println!("  admin access key: {access_key} (secret as configured)")
        }
        StartKey::Kept { access_key } => println!(
            "  admin access key: {access_key} (its secret was shown once, when it was created)"
        ),
        StartKey::Generated { access_key, secret } => {
            println!("  admin access key: {access_key}");
            println!("  secret key: {secret}  (shown this once: keep it now)");
            println!(
                "  try: AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY=<secret> AWS_DEFAULT_REGION={region} aws --endpoint-url {endpoint} s3 ls"
            );
        }
    }
}

/// The S3 service over a gateway whose keys are only those of the catalog (tests
/// and benches): the sealing key is random, so only keys this process adds open.
pub async fn build_service(
    gateway: Gateway,
    sealing: SealingKey,
    domain: Option<&str>,
) -> Result<S3Service, ServerError> {
    let cache = AccessCache::start(gateway.node.clone(), sealing).await?;
    build_service_with(gateway, cache, domain)
}

pub fn build_service_with(
    gateway: Gateway,
    cache: Arc<AccessCache>,
    domain: Option<&str>,
) -> Result<S3Service, ServerError> {
    let access = Authorizer::new(&gateway, cache.clone());
    let mut builder = S3ServiceBuilder::new(S3Api(gateway));
    builder.set_auth(KeyAuth::new(cache));
    builder.set_access(access);
    if let Some(domain) = domain {
        if domain.is_empty() || domain.contains(['/', ':', ' ']) {
            return Err(ServerError::Domain(domain.to_string()));
        }
        builder.set_host(crate::vhost::DomainHost::new(domain));
    }
    Ok(builder.build())
}

/// What the listener serves with: the S3 service, the region signatures must name,
/// and the connection limits.
#[derive(Clone)]
pub struct ServeContext {
    pub service: S3Service,
    pub region: String,
    pub limits: Limits,
    /// Buckets' CORS rules (shared with the S3 handlers that change them).
    pub cors: Arc<CorsCache>,
    /// The domain of virtual-hosted-style requests, if any.
    pub domain: Option<String>,
    /// POST object (browser form) uploads, answered before s3s.
    pub post: Arc<PostContext>,
}

/// Accepts connections forever, one task per connection, at most
/// `max_connections` at once (more are answered `503 SlowDown` and closed).
pub async fn serve(listener: TcpListener, cx: ServeContext) {
    let (_keep, never) = tokio::sync::watch::channel(false);
    serve_until(Listener::plain(listener), cx, never).await
}

/// Like `serve`, until `stop` turns true: then accepts nothing more, lets every
/// connection finish the request it is serving (keep-alive connections close
/// after it), and returns once all closed, or after `crate::shutdown::DRAIN`.
pub async fn serve_until(
    listener: Listener,
    cx: ServeContext,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let limits = Arc::new(cx.limits.clone());
    let shared = crate::request::Shared {
        service: cx.service,
        region: Arc::from(cx.region.as_str()),
        bodies: BodyLimits::new(limits.body_idle_timeout, limits.max_open_bodies),
        cors: cx.cors,
        domain: cx.domain.as_deref().map(Arc::from),
        post: cx.post,
    };
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    // Refusals in progress; past these, connections over the cap are just closed.
    let refusals = Arc::new(tokio::sync::Semaphore::new(64));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        let incoming = match accepted {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = incoming.tcp.set_nodelay(true);
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            crate::limits::warn_refused(limits.max_connections);
            // A TLS connection over the cap is just closed.
            if let (Ok(turn), false) = (refusals.clone().try_acquire_owned(), listener.is_tls()) {
                tokio::spawn(async move {
                    crate::limits::refuse(incoming.tcp).await;
                    drop(turn);
                });
            }
            continue;
        };
        let shared = shared.clone();
        let limits = limits.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let activity = Arc::new(Activity::default());
            let handshake_timeout = limits.header_timeout;
            let peer = incoming.peer();
            let secure = incoming.handshake.is_tls();
            let io = TimedIo::new(incoming.tcp, activity.clone(), limits);
            let tls = crate::tls::establish(incoming.handshake, io, handshake_timeout);
            let Some(io) = tls.await else { return };
            let conn_info = crate::policy::context::ConnInfo { peer, secure };
            let svc = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                req.extensions_mut().insert(conn_info);
                let in_flight = activity.begin();
                crate::request::handle(shared.clone(), in_flight, req)
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(io), svc);
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    let max = limits.max_connections.max(1);
    let open = max - connections.available_permits();
    tracing::info!(connections = open, "waiting for connections to finish");
    let drained = tokio::time::timeout(
        crate::shutdown::DRAIN,
        connections.acquire_many(u32::try_from(max).unwrap_or(u32::MAX)),
    )
    .await;
    match drained {
        Ok(_) => tracing::info!("every request finished; stopped"),
        Err(_) => tracing::warn!(
            connections = max - connections.available_permits(),
            secs = crate::shutdown::DRAIN.as_secs(),
            "stopped with connections still open after the drain period"
        ),
    }
}

/// Resolves once `stop` is true (or its sender is gone for good).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
