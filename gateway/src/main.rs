//! The `cairn` binary: `cairn server` runs the embedded single-node store; `cairn
//! node` and `cairn gateway` run the processes of a cluster described by a cluster
//! file; `cairn cluster status` shows a running cluster; `cairn key` and `cairn
//! bucket` manage keys and grants through the admin API; `cairn bench` load-tests.

use cairn::cli_args::{parse_min_free, CacheArgs, LifecycleArgs, LimitArgs, ScrubArgs};
use cairn::server;
use cairn_node::cluster::config::{ClusterConfig, ScrubSettings};
use cairn_node::NodeOptions;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// jemalloc, configured in `.cargo/config.toml` to hand freed pages back within a
/// second: glibc's allocator keeps chunk-sized buffers in per-thread arenas (peak
/// RSS about twice the live set under load).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: a self-hosted, S3-compatible object store"
)]
struct Cli {
    /// Log lines as text (colours only on a terminal) or as one JSON object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "CAIRN_LOG_FORMAT"
    )]
    log_format: cairn::log_format::LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// The environment every command reads.
const ENV_COMMON: &str = "Environment:
  RUST_LOG            log filter (default: info, openraft warnings, s3s off), e.g. debug
  CAIRN_LOG_FORMAT    text or json, as --log-format";
const ENV_S3: &str = "Environment:
  CAIRN_ACCESS_KEY, CAIRN_SECRET_KEY
                      the S3 root key (both, or neither: then the key kept in the
                      store, else [s3] of the cluster file, else a generated one)
  RUST_LOG            log filter (default: info, openraft warnings, s3s off), e.g. debug
  CAIRN_LOG_FORMAT    text or json, as --log-format";

#[derive(Subcommand)]
enum Command {
    /// Run the embedded store: an S3 gateway and one storage node in one process.
    #[command(after_help = ENV_S3)]
    Server {
        /// Address the S3 endpoint listens on: HOST:PORT, the host a name
        /// (localhost:9000) or an IP address.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: String,
        /// Data directory (created if missing).
        #[arg(long, default_value = "./cairn-data")]
        data: PathBuf,
        /// Region reported to clients; SigV4 credential scopes must name it
        /// (others are refused with AuthorizationHeaderMalformed, as AWS does).
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Domain for virtual-hosted-style requests (BUCKET.DOMAIN).
        #[arg(long)]
        domain: Option<String>,
        /// Chunk size in bytes (at most 16 MiB).
        #[arg(long, default_value_t = 4 * 1024 * 1024)]
        chunk_size: usize,
        /// Seconds an unreferenced chunk is kept before it may be deleted.
        #[arg(long, default_value_t = 3600)]
        gc_grace: u64,
        /// Seconds between garbage collection passes.
        #[arg(long, default_value_t = 600)]
        gc_interval: u64,
        /// Free space to keep on the data directory's file system: a chunk write
        /// that would leave less is refused (507 InsufficientCapacity), and catalog
        /// writes are refused below half of it. Bytes or a size ("64MiB", "1GB");
        /// default: 64 MiB or 1% of the file system, whichever is smaller.
        #[arg(long, value_parser = parse_min_free)]
        min_free: Option<u64>,
        #[command(flatten)]
        lifecycle: LifecycleArgs,
        #[command(flatten)]
        scrub: ScrubArgs,
        #[command(flatten)]
        caches: CacheArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Address of the admin API (keys, grants, buckets), or "off". When the
        /// default address is taken the server starts without it (and says so).
        #[arg(long, default_value = DEFAULT_ADMIN, value_parser = parse_admin_listen)]
        admin_listen: AdminAddr,
        /// Address of the web console, or "off". When the default address is
        /// taken, the server starts without it.
        #[arg(long, default_value = cairn::console::DEFAULT_LISTEN, value_parser = parse_console_listen)]
        console_listen: AdminAddr,
        /// Tests only: seconds between samples of the console's charts.
        #[arg(long, hide = true, default_value_t = 10)]
        console_sample_secs: u64,
        /// File holding the admin token (else CAIRN_ADMIN_TOKEN, else one
        /// generated into DATA/admin.token, mode 0600).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
        #[command(flatten)]
        tls: cairn::tls::TlsArgs,
        /// Serve HTTPS with a self-signed certificate made once into DATA/tls/
        /// (for localhost, 127.0.0.1, this host's name and the --listen host);
        /// its SHA-256 fingerprint is printed at start.
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        tls_self_signed: bool,
    },
    /// Run storage node ID of the cluster described by the cluster file.
    #[command(after_help = ENV_COMMON)]
    Node {
        /// The cluster file.
        #[arg(long, default_value = "cluster.toml")]
        config: PathBuf,
        /// This node's id in the cluster file.
        #[arg(long)]
        id: u64,
        /// Address the RPC server binds (default: the node's `address` in the
        /// cluster file, which the other processes dial; e.g. 0.0.0.0:7001 in a
        /// container, or behind a relay).
        #[arg(long)]
        listen: Option<String>,
        /// Seconds an unreferenced chunk is kept before it may be deleted.
        #[arg(long, default_value_t = 3600)]
        gc_grace: u64,
        /// Seconds between garbage collection passes.
        #[arg(long, default_value_t = 600)]
        gc_interval: u64,
        /// Free space to keep on the data directory's file system: a chunk write
        /// that would leave less is refused (507 InsufficientCapacity), and catalog
        /// writes are refused below half of it. Bytes or a size ("64MiB", "1GB");
        /// default: 64 MiB or 1% of the file system, whichever is smaller.
        #[arg(long, value_parser = parse_min_free)]
        min_free: Option<u64>,
        /// Tests only: carry out the first catalog write of object KEY, then close
        /// the connection instead of replying (a lost reply). Repeatable.
        #[arg(long, hide = true, value_name = "KEY")]
        test_drop_reply_key: Vec<String>,
        #[command(flatten)]
        lifecycle: LifecycleArgs,
        #[command(flatten)]
        scrub: ScrubArgs,
        #[command(flatten)]
        caches: CacheArgs,
    },
    /// Run an S3 gateway of the cluster described by the cluster file.
    #[command(after_help = ENV_S3)]
    Gateway {
        /// The cluster file.
        #[arg(long, default_value = "cluster.toml")]
        config: PathBuf,
        /// Address the S3 endpoint listens on: HOST:PORT, the host a name
        /// (localhost:9000) or an IP address.
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: String,
        /// Domain for virtual-hosted-style requests (BUCKET.DOMAIN).
        #[arg(long)]
        domain: Option<String>,
        /// Chunk size in bytes (at most 16 MiB).
        #[arg(long, default_value_t = 4 * 1024 * 1024)]
        chunk_size: usize,
        #[command(flatten)]
        limits: LimitArgs,
        /// Address of this gateway's admin API (off unless given); needs
        /// CAIRN_ADMIN_TOKEN or --admin-token-file.
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// File holding the admin token (when CAIRN_ADMIN_TOKEN is not set).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
        #[command(flatten)]
        tls: cairn::tls::TlsArgs,
        /// Address of this gateway's web console (off unless given); its admin
        /// pages need --admin-listen.
        #[arg(long)]
        console_listen: Option<SocketAddr>,
        /// Tests only: seconds between samples of the console's charts.
        #[arg(long, hide = true, default_value_t = 10)]
        console_sample_secs: u64,
    },
    /// Operate a running cluster.
    #[command(after_help = ENV_COMMON)]
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Manage access keys through the admin API.
    Key {
        #[command(flatten)]
        target: cairn::admin_cli::AdminTarget,
        #[command(subcommand)]
        command: cairn::admin_cli::KeyCommand,
    },
    /// Manage bucket grants and see buckets through the admin API.
    Bucket {
        #[command(flatten)]
        target: cairn::admin_cli::AdminTarget,
        #[command(subcommand)]
        command: cairn::admin_cli::BucketCommand,
    },
    /// Load-test an S3 endpoint (any store, path-style SigV4): ops/s, MiB/s, latency.
    Bench(cairn::bench::BenchArgs),
    /// GET a /health URL; exit 0 only on 200 (for container health checks).
    Healthcheck(cairn::healthcheck::HealthcheckArgs),
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Make the cluster CA and a certificate for every node of the cluster file
    /// and for gateways, for `[tls]` (mutual TLS between the cluster's processes).
    Certs {
        /// The cluster file (its nodes' ids and addresses).
        #[arg(long, default_value = "cluster.toml")]
        config: PathBuf,
        /// Directory the files go to (kept files are not remade).
        #[arg(long)]
        out: PathBuf,
    },
    /// Show every node, every Raft group, the usable capacity and moves in progress.
    Status {
        /// The cluster file (its nodes are asked where the cluster is).
        #[arg(long, default_value = "cluster.toml")]
        config: PathBuf,
        /// One JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show what applying the cluster file would change (changes nothing).
    Plan {
        /// The edited cluster file.
        #[arg(long, default_value = "cluster.toml")]
        config: PathBuf,
        /// One JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Commit the cluster file as the next cluster map; the cluster moves itself.
    Apply {
        /// The edited cluster file.
        #[arg(long, default_value = "cluster.toml")]
        config: PathBuf,
        /// Wait, showing progress, until every move has finished (exit 0) or failed.
        #[arg(long)]
        wait: bool,
        /// Stop waiting after this many seconds (non-zero exit).
        #[arg(long)]
        timeout: Option<u64>,
        /// Print the plan (and with --wait the final status) as JSON lines.
        #[arg(long)]
        json: bool,
    },
}

/// A chunk travels in one RPC body (up to 8 in a replication batch).
fn check_chunk_size(chunk_size: usize) -> Result<(), String> {
    let max = cairn_node::node::rpc_server::MAX_CHUNK_SIZE;
    if chunk_size == 0 || chunk_size > max {
        return Err(format!(
            "--chunk-size must be between 1 and {max} bytes ({} MiB)",
            max >> 20
        ));
    }
    Ok(())
}

const DEFAULT_ADMIN: &str = "127.0.0.1:9002";

/// `--admin-listen`: an address, or "off"; whether it is the default.
#[derive(Clone, Debug)]
struct AdminAddr(Option<SocketAddr>, bool);

fn parse_admin_listen(s: &str) -> Result<AdminAddr, String> {
    parse_listen_or_off(s, DEFAULT_ADMIN)
}

/// `--console-listen` of `cairn server`: an address, or "off".
fn parse_console_listen(s: &str) -> Result<AdminAddr, String> {
    parse_listen_or_off(s, cairn::console::DEFAULT_LISTEN)
}

fn parse_listen_or_off(s: &str, default: &str) -> Result<AdminAddr, String> {
    if s == "off" {
        return Ok(AdminAddr(None, false));
    }
    s.parse()
        .map(|a| AdminAddr(Some(a), s == default))
        .map_err(|e| format!("not an address or \"off\": {s:?} ({e})"))
}

/// The console's options for a listener address.
fn console(
    listen: Option<SocketAddr>,
    required: bool,
    sample_secs: u64,
) -> Option<cairn::console::ConsoleOptions> {
    listen.map(|listen| cairn::console::ConsoleOptions {
        listen,
        required,
        sample_every: Duration::from_secs(sample_secs.max(1)),
    })
}

fn load(path: &std::path::Path) -> Result<ClusterConfig, String> {
    ClusterConfig::load(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Commands that print and exit end quietly when their reader goes away
/// (`cairn cluster status | head`), with the status a shell shows for SIGPIPE
/// (141), as other command-line tools do, instead of panicking in `println!`.
/// Servers are left alone (they print only at start).
fn quiet_on_broken_pipe(command: &Command) {
    if matches!(
        command,
        Command::Server { .. } | Command::Node { .. } | Command::Gateway { .. }
    ) {
        return;
    }
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    quiet_on_broken_pipe(&cli.command);
    cairn::log_format::init(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server {
                listen,
                data,
                region,
                domain,
                chunk_size,
                gc_grace,
                gc_interval,
                min_free,
                lifecycle,
                scrub,
                caches,
                limits,
                admin_listen,
                console_listen,
                console_sample_secs,
                admin_token_file,
                tls,
                tls_self_signed,
            } => {
                check_chunk_size(chunk_size)?;
                let limits = limits.limits()?;
                let tls = match tls.files() {
                    Some(files) => Some(cairn::tls::TlsSource::Files(files)),
                    None => tls_self_signed.then_some(cairn::tls::TlsSource::SelfSigned),
                };
                server::run_embedded(server::ServerOptions {
                    tls,
                    console: console(console_listen.0, !console_listen.1, console_sample_secs),
                    admin_listen: admin_listen.0,
                    admin_default: admin_listen.1,
                    admin_token_file,
                    listen,
                    data_dir: data,
                    region,
                    domain,
                    chunk_size,
                    gc_grace: Duration::from_secs(gc_grace),
                    gc_interval: Duration::from_secs(gc_interval),
                    min_free,
                    lifecycle_interval: Duration::from_secs(lifecycle.lifecycle_interval),
                    lifecycle_clock_offset_ms: lifecycle.offset_ms(),
                    scrub: scrub.apply(ScrubSettings::default()),
                    db_caches: caches.caches(),
                    limits,
                })
                .await
                .map_err(|e| e.to_string())
            }
            Command::Node {
                config,
                id,
                listen,
                gc_grace,
                gc_interval,
                min_free,
                test_drop_reply_key,
                lifecycle,
                scrub,
                caches,
            } => {
                let mut cfg = load(&config)?;
                cfg.scrub = scrub.apply(cfg.scrub);
                let opts = NodeOptions {
                    gc_grace: Duration::from_secs(gc_grace),
                    gc_interval: Duration::from_secs(gc_interval),
                    min_free,
                    drop_reply_keys: test_drop_reply_key,
                    lifecycle_interval: Duration::from_secs(lifecycle.lifecycle_interval),
                    lifecycle_clock_offset_ms: lifecycle.offset_ms(),
                    disk: cairn_node::storage::disk::Disk::Real,
                    db_caches: caches.caches(),
                };
                cairn::node_process::run_node(cfg, id, opts, listen).await
            }
            Command::Gateway {
                config,
                listen,
                domain,
                chunk_size,
                limits,
                admin_listen,
                admin_token_file,
                tls,
                console_listen,
                console_sample_secs,
            } => {
                check_chunk_size(chunk_size)?;
                let limits = limits.limits()?;
                let cfg = load(&config)?;
                let admin = match admin_listen {
                    Some(listen) => Some(
                        cairn::admin_api::token::admin_listen(
                            listen,
                            admin_token_file.as_deref(),
                            None,
                            true,
                        )
                        .map_err(|e| e.to_string())?,
                    ),
                    None => None,
                };
                let opts = server::GatewayOptions {
                    listen,
                    region: cfg.region.clone(),
                    domain,
                    chunk_size,
                    limits,
                    admin,
                    tls: tls.files(),
                    console: console(console_listen, true, console_sample_secs),
                };
                server::run_cluster_gateway(cfg, opts)
                    .await
                    .map_err(|e| e.to_string())
            }
            Command::Cluster { command } => match command {
                ClusterCommand::Certs { config, out } => {
                    let report = cairn::tls::cluster_certs::run(&load(&config)?, &out)
                        .map_err(|e| e.to_string())?;
                    println!("{report}");
                    Ok(())
                }
                ClusterCommand::Status { config, json } => {
                    let cfg = load(&config)?;
                    let view = cairn::admin::view::collect(&cfg).await?;
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string(&view).map_err(|e| e.to_string())?
                        );
                        return Ok(());
                    }
                    print!("{}", cairn::admin::status::render(&view));
                    let client = cairn_node::NodeClient::remote(&cfg).map_err(|e| e.to_string())?;
                    match (client.bucket_usage().await, client.capacity().await) {
                        (Ok(usage), Ok(capacity)) => {
                            print!("{}", cairn::usage::render(&usage, &capacity))
                        }
                        (Err(e), _) | (_, Err(e)) => println!("\nBUCKETS: cannot read usage: {e}"),
                    }
                    // On a terminal, a move in progress is followed with a live bar.
                    if !view.moves.done && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                        cairn::admin::apply::wait_for_moves(&cfg, view.epoch, None).await?;
                    }
                    Ok(())
                }
                ClusterCommand::Plan { config, json } => {
                    cairn::admin::apply::run_plan(&load(&config)?, json).await
                }
                ClusterCommand::Apply {
                    config,
                    wait,
                    timeout,
                    json,
                } => {
                    let opts = cairn::admin::apply::ApplyOptions {
                        wait,
                        json,
                        timeout: timeout.map(Duration::from_secs),
                    };
                    cairn::admin::apply::run_apply(&load(&config)?, opts).await
                }
            },
            Command::Bench(args) => cairn::bench::run_cli(args).await,
            Command::Healthcheck(args) => cairn::healthcheck::run(args).await,
            Command::Key { target, command } => cairn::admin_cli::run_key(target, command).await,
            Command::Bucket { target, command } => {
                cairn::admin_cli::run_bucket(target, command).await
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
