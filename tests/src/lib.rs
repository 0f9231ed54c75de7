//! Test harness for Cairn end-to-end tests.
//!
//! Every test starts its own `cairn server` process on a free loopback port
//! with its own temporary data directory, talks to it with `aws-sdk-s3` (or
//! raw `reqwest` for anonymous / presigned / virtual-hosted requests), and
//! kills it when the [`Server`] is dropped. With `CAIRN_TEST_CLUSTER=N` every
//! [`Server`] is instead a cluster of N `cairn node` processes behind a `cairn
//! gateway` (see [`cluster`]); fault tests use [`Cluster`] directly.
#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]

mod process;

pub mod cluster;
pub mod linearizability;
pub mod netns;
pub mod reconfig;
pub mod rot;
pub mod tls;
pub mod verifier;
pub mod workload;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use md5::{Digest, Md5};

pub use aws_sdk_s3;
pub use bytes::Bytes;
pub use cluster::{parse_status_groups, Cluster, ClusterOpts, GroupRow, Metrics, RaftTuning};
pub use workload::{Acked, Workload, WorkloadOpts};

use process::{wait_health, Proc};

/// Access key the test servers are started with.
pub const ACCESS_KEY: &str = "CAIRNTESTACCESSKEY01";
/// Secret key the test servers are started with.
pub const SECRET_KEY: &str = "cairn/test/secret/key/0123456789abcdefghij";
/// Admin API token the test servers are started with (`CAIRN_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "cairn-test-admin-token-0123456789abcdef";
/// Region the test servers are started with.
pub const REGION: &str = "us-east-1";

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * 1024;
/// Server default chunk size.
pub const DEFAULT_CHUNK: usize = 4 * MIB;

/// Options for starting a server.
#[derive(Clone, Debug, Default)]
pub struct ServerOpts {
    /// `--chunk-size BYTES`
    pub chunk_size: Option<usize>,
    /// `--domain DOMAIN` (virtual-hosted-style requests)
    pub domain: Option<String>,
    /// `--gc-grace SECS`
    pub gc_grace: Option<u64>,
    /// `--gc-interval SECS`
    pub gc_interval: Option<u64>,
    /// `--min-free SIZE` (the embedded server, or every node of a cluster)
    pub min_free: Option<String>,
    /// Put the data directory (every node's, in a cluster) under this directory
    /// instead of the server's temporary directory, e.g. on a small mount. The
    /// logs stay in the temporary directory.
    pub data_parent: Option<PathBuf>,
    /// Any further arguments.
    pub extra_args: Vec<String>,
    /// Arguments for the process that holds the data: `cairn server`, or every
    /// `cairn node` of a cluster (not its gateway).
    pub node_args: Vec<String>,
}

impl ServerOpts {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = Some(bytes);
        self
    }
    pub fn domain(mut self, domain: &str) -> Self {
        self.domain = Some(domain.to_string());
        self
    }
    pub fn min_free(mut self, size: &str) -> Self {
        self.min_free = Some(size.to_string());
        self
    }
    pub fn node_args(mut self, args: &[&str]) -> Self {
        self.node_args.extend(args.iter().map(|a| a.to_string()));
        self
    }
    pub fn data_parent(mut self, dir: &Path) -> Self {
        self.data_parent = Some(dir.to_path_buf());
        self
    }
    /// `--lifecycle-interval SECS --lifecycle-clock-offset-days DAYS` on the
    /// processes that run the lifecycle worker.
    pub fn lifecycle(mut self, interval_secs: u64, offset_days: i64) -> Self {
        self.node_args.extend([
            "--lifecycle-interval".to_string(),
            interval_secs.to_string(),
            "--lifecycle-clock-offset-days".to_string(),
            offset_days.to_string(),
        ]);
        self
    }
    pub fn gc(mut self, grace_secs: u64, interval_secs: u64) -> Self {
        self.gc_grace = Some(grace_secs);
        self.gc_interval = Some(interval_secs);
        self
    }
}

/// Path of the `cairn` binary under test.
pub fn cairn_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CAIRN_BIN") {
        return PathBuf::from(p);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf();
    let release = workspace.join("target/release/cairn");
    if release.exists() {
        return release;
    }
    let debug = workspace.join("target/debug/cairn");
    if debug.exists() {
        return debug;
    }
    panic!(
        "cairn binary not found: set CAIRN_BIN or build it (`cargo build --release -p cairn`); looked at {} and {}",
        release.display(),
        debug.display()
    );
}

/// `cairn server` listening on `addr` with its data in `data_dir`, in the test
/// region (the start of every test server's command line).
pub fn server_command(addr: std::net::SocketAddr, data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(cairn_bin());
    cmd.arg("server")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data")
        .arg(data_dir)
        .arg("--region")
        .arg(REGION);
    cmd
}

/// Ports handed out by [`free_port`]: below Linux's ephemeral range (32768-60999),
/// so the kernel never gives them to another socket bound to port 0 or to an
/// outgoing connection.
const PORT_RANGE: std::ops::Range<u32> = 20_000..32_000;

/// A loopback port nobody listens on now, never the same twice in this test
/// process. Servers keep their ports across restarts, and a cluster needs several:
/// ports from `bind(":0")` would be reused by the kernel for other tests' processes
/// while a server is down, or between picking a port and the server binding it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = PORT_RANGE.end - PORT_RANGE.start;
    // Concurrent test processes start at different offsets.
    let _ = NEXT.compare_exchange(
        0,
        1 + (std::process::id() * 97) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (PORT_RANGE.start + n % span) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {PORT_RANGE:?}");
}

/// A running (or stopped) Cairn under test, reached over S3 at `addr`.
///
/// By default this is one `cairn server` process (the embedded store). With
/// `CAIRN_TEST_CLUSTER=N` in the environment it is a [`Cluster`] of N `cairn node`
/// processes (replication min(3, N)) behind one `cairn gateway` listening on `addr`;
/// every method then acts on the whole cluster, and `data_dir` / `chunk_files` refer
/// to node 1.
pub struct Server {
    pub addr: SocketAddr,
    /// The admin API's address (`--admin-listen`).
    admin_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub opts: ServerOpts,
    backend: Backend,
    // Declared last so the directory outlives the child processes.
    _root: tempfile::TempDir,
}

enum Backend {
    /// `cairn server`
    Embedded(Proc),
    Cluster(Box<Cluster>),
}

/// `CAIRN_TEST_CLUSTER=N` (N >= 1): run [`Server`]s as N-node clusters.
pub fn test_cluster_size() -> Option<u64> {
    std::env::var("CAIRN_TEST_CLUSTER")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&n| n >= 1)
}

impl Server {
    /// Start a server with default options.
    pub async fn start_default() -> Server {
        Self::start(ServerOpts::default()).await
    }

    /// Start a server in a fresh temporary data dir on a free port, waiting until
    /// `/health` answers 200.
    pub async fn start(opts: ServerOpts) -> Server {
        let root = tempfile::Builder::new()
            .prefix("cairn-e2e-")
            .tempdir()
            .expect("create temp dir");
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port());
        let (backend, data_dir) = match test_cluster_size() {
            None => {
                let data_dir = opts
                    .data_parent
                    .as_deref()
                    .unwrap_or(root.path())
                    .join("data");
                std::fs::create_dir_all(&data_dir).expect("create data dir");
                let proc = Proc::new("cairn server", root.path().join("server.log"));
                (Backend::Embedded(proc), data_dir)
            }
            Some(nodes) => {
                let copts = ClusterOpts::new().nodes(nodes).server(opts.clone());
                let cluster = Cluster::create(root.path(), addr, copts);
                let data_dir = cluster.node_data_dir(1);
                (Backend::Cluster(Box::new(cluster)), data_dir)
            }
        };
        let admin_addr = match &backend {
            Backend::Cluster(c) => c.admin_addr(),
            Backend::Embedded(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port()),
        };
        let mut s = Server {
            addr,
            admin_addr,
            data_dir,
            opts,
            backend,
            _root: root,
        };
        s.spawn().await;
        s
    }

    /// The cluster behind this server, when running with `CAIRN_TEST_CLUSTER`.
    pub fn cluster(&self) -> Option<&Cluster> {
        match &self.backend {
            Backend::Cluster(c) => Some(c),
            Backend::Embedded(_) => None,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = server_command(self.addr, &self.data_dir);
        if let Some(c) = self.opts.chunk_size {
            cmd.arg("--chunk-size").arg(c.to_string());
        }
        if let Some(d) = &self.opts.domain {
            cmd.arg("--domain").arg(d);
        }
        if let Some(g) = self.opts.gc_grace {
            cmd.arg("--gc-grace").arg(g.to_string());
        }
        if let Some(i) = self.opts.gc_interval {
            cmd.arg("--gc-interval").arg(i.to_string());
        }
        if let Some(m) = &self.opts.min_free {
            cmd.arg("--min-free").arg(m);
        }
        cmd.arg("--admin-listen").arg(self.admin_addr.to_string());
        cmd.args(&self.opts.extra_args);
        cmd.args(&self.opts.node_args);
        cmd.env("CAIRN_ACCESS_KEY", ACCESS_KEY)
            .env("CAIRN_SECRET_KEY", SECRET_KEY)
            .env("CAIRN_ADMIN_TOKEN", ADMIN_TOKEN);
        cmd
    }

    /// Every log file of this server's processes (`*.log` under its directory).
    pub fn log_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "log") {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(self._root.path(), &mut out);
        out
    }

    /// `http://ADMIN_ADDR`: the admin API (token `ADMIN_TOKEN`).
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin_addr)
    }

    /// Start the process(es) with the current options and wait until ready.
    async fn spawn(&mut self) {
        let cmd = self.command();
        let banner = format!(
            "{} (data {}) opts {:?}",
            self.addr,
            self.data_dir.display(),
            self.opts
        );
        let addr = self.addr.to_string();
        match &mut self.backend {
            Backend::Embedded(proc) => {
                proc.spawn(cmd, &banner);
                if let Err(e) = wait_health(&addr, Duration::from_secs(20), &mut [proc]).await {
                    panic!("{e}\n--- server log ---\n{}", self.log_tail(64 * 1024));
                }
            }
            Backend::Cluster(c) => {
                c.opts.server = self.opts.clone();
                c.start_all().await;
            }
        }
    }

    /// `http://ADDR`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ADDR/PATH` (path must not start with '/').
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path)
    }

    /// Path-style SDK client with the right credentials.
    pub fn client(&self) -> Client {
        self.client_with(ACCESS_KEY, SECRET_KEY)
    }

    /// Path-style SDK client with arbitrary credentials.
    pub fn client_with(&self, access_key: &str, secret_key: &str) -> Client {
        Client::from_conf(self.config_builder(access_key, secret_key).build())
    }

    /// Path-style SDK client that never retries (so every result corresponds to
    /// exactly one request).
    pub fn client_no_retry(&self) -> Client {
        Client::from_conf(
            self.config_builder(ACCESS_KEY, SECRET_KEY)
                .retry_config(RetryConfig::disabled())
                .build(),
        )
    }

    /// SDK config builder (path-style, static credentials, us-east-1).
    pub fn config_builder(
        &self,
        access_key: &str,
        secret_key: &str,
    ) -> aws_sdk_s3::config::Builder {
        s3_config_builder(&self.endpoint(), access_key, secret_key)
    }

    /// Plain HTTP client (no auth).
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("reqwest client")
    }

    /// The status of an unsigned GET of `path` (an anonymous client).
    pub async fn anonymous_get_status(&self, path: &str) -> u16 {
        self.http()
            .get(self.url(path))
            .send()
            .await
            .expect("anonymous GET")
            .status()
            .as_u16()
    }

    /// Whether the S3 endpoint's process (server or gateway) is running.
    pub fn is_running(&self) -> bool {
        match &self.backend {
            Backend::Embedded(p) => p.is_running(),
            Backend::Cluster(c) => c.gateway_is_running(),
        }
    }

    /// Pid of the S3 endpoint's process (server or gateway).
    pub fn pid(&self) -> Option<u32> {
        match &self.backend {
            Backend::Embedded(p) => p.pid(),
            Backend::Cluster(c) => c.gateway_pid(),
        }
    }

    /// SIGKILL the server (every process of a cluster) and reap it.
    pub fn kill9(&mut self) {
        match &mut self.backend {
            Backend::Embedded(p) => p.kill9(),
            Backend::Cluster(c) => c.kill9_all(),
        }
    }

    /// SIGTERM the server (every process of a cluster), wait up to 10 s for it to
    /// exit, then SIGKILL.
    pub fn stop(&mut self) {
        match &mut self.backend {
            Backend::Embedded(p) => p.stop(),
            Backend::Cluster(c) => c.stop_all(),
        }
    }

    /// Gracefully stop (if running) and start again on the same data dir and port.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Stop (if running) and start again with different options, same data dir and port.
    pub async fn restart_with(&mut self, opts: ServerOpts) {
        self.stop();
        self.opts = opts;
        self.spawn().await;
    }

    /// Start again after [`Server::kill9`] (same data dir and port).
    pub async fn start_again(&mut self) {
        assert!(!self.is_running(), "server still running");
        self.spawn().await;
    }

    /// Log of the S3 endpoint's process (server or gateway).
    pub fn log_path(&self) -> &Path {
        match &self.backend {
            Backend::Embedded(p) => &p.log_path,
            Backend::Cluster(c) => c.gateway_log_path(),
        }
    }

    /// The last `max` bytes of the server log (of a cluster: the tails of every
    /// process's log, labelled, `max` bytes in all).
    pub fn log_tail(&self, max: u64) -> String {
        match &self.backend {
            Backend::Embedded(p) => p.log_tail(max),
            Backend::Cluster(c) => c.log_tail(max),
        }
    }

    /// `(count, total bytes)` of chunk files (64-hex names) under `DATA/chunks`.
    ///
    /// Of a cluster: node 1's, once every node has applied what the leaders have
    /// (a write is acknowledged when a majority has it, so node 1 may briefly lack
    /// the chunks of the last PUT; with R = 3 on 3 nodes it then has every chunk).
    pub fn chunk_files(&self) -> (usize, u64) {
        if let Backend::Cluster(c) = &self.backend {
            if !c.settle_blocking(Duration::from_secs(10)) {
                eprintln!("chunk_files: cluster replicas not in step after 10 s; counting anyway");
            }
        }
        chunk_files(&self.data_dir.join("chunks"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let states = match &mut self.backend {
                Backend::Embedded(p) => process::states([p]),
                Backend::Cluster(c) => c.process_states(),
            };
            eprintln!(
                "----- cairn server processes -----\n{states}----- cairn server log ({}) -----\n{}\n----- end of server log -----",
                self.log_path().display(),
                self.log_tail(32 * 1024)
            );
        }
        self.kill9();
        record_log_scan(&self.log_files());
    }
}

/// With `CAIRN_TEST_LOG_DIR` set (tests/run.sh sets it), notes in
/// `$CAIRN_TEST_LOG_DIR/e2e-log-scan.txt` each log file of a finished test server and
/// whether it holds the test secret key or admin token (`ok PATH` / `LEAK PATH`); the
/// last stage of tests/run.sh fails on any `LEAK` (the files themselves go with
/// their temporary directory).
fn record_log_scan(files: &[PathBuf]) {
    use std::io::Write;
    let Some(dir) = std::env::var_os("CAIRN_TEST_LOG_DIR") else {
        return;
    };
    let mut lines = String::new();
    for file in files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let leak = [SECRET_KEY, ADMIN_TOKEN].iter().any(|s| text.contains(s));
        lines.push_str(&format!(
            "{} {}\n",
            if leak { "LEAK" } else { "ok" },
            file.display()
        ));
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(&dir).join("e2e-log-scan.txt"))
    {
        let _ = f.write_all(lines.as_bytes());
    }
}

/// SDK config builder for `endpoint` (path-style, static credentials, us-east-1,
/// default retries, 120 s per attempt).
pub fn s3_config_builder(
    endpoint: &str,
    access_key: &str,
    secret_key: &str,
) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "cairn-tests",
        ))
        .force_path_style(true)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(120))
                .build(),
        )
}

/// Visit every file named by 64 hex chars (a chunk id) anywhere under `dir`.
fn walk_chunks(dir: &Path, mut f: impl FnMut(&str, &std::fs::DirEntry)) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                    f(&name, &entry);
                }
            }
        }
    }
}

/// `(count, total bytes)` of files named by 64 hex chars anywhere under `dir`.
pub fn chunk_files(dir: &Path) -> (usize, u64) {
    let mut count = 0;
    let mut bytes = 0;
    walk_chunks(dir, |_, entry| {
        count += 1;
        bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
    });
    (count, bytes)
}

/// The chunk ids (hex BLAKE3 of each `chunk_size` piece) of an object's bytes, as the
/// gateway stores a body larger than the inline limit.
pub fn chunk_ids_of(data: &[u8], chunk_size: usize) -> Vec<String> {
    data.chunks(chunk_size)
        .map(|piece| blake3::hash(piece).to_hex().to_string())
        .collect()
}

/// Placement group of a hex chunk id in a cluster of `pgs` placement groups.
pub fn chunk_pg(id_hex: &str, pgs: u32) -> u32 {
    let id = cairn_node::ChunkId::from_hex(id_hex)
        .unwrap_or_else(|| panic!("not a chunk id: {id_hex:?}"));
    cairn_node::cluster::placement::pg_of(&id, pgs)
}

/// Names (chunk ids) of the files named by 64 hex chars anywhere under `dir`.
pub fn chunk_ids(dir: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    walk_chunks(dir, |name, _| {
        ids.insert(name.to_string());
    });
    ids
}

// ---------------------------------------------------------------------------
// Data helpers
// ---------------------------------------------------------------------------

/// Deterministic pseudo-random payload: the BLAKE3 output stream of `seed`, so
/// `payload(s, n)` is a prefix of `payload(s, m)` for `n <= m`. (BLAKE3 rather than a
/// `rand` generator: it is fast even in unoptimised test builds, where a cluster
/// workload would otherwise spend its time making payloads.)
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    blake3::Hasher::new()
        .update(&seed.to_le_bytes())
        .finalize_xof()
        .fill(&mut v);
    v
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// `"<hex md5>"` — the S3 ETag of a single-PUT object.
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", md5_hex(data))
}

/// S3 multipart ETag: md5 of the concatenated binary part md5s, `-N`.
pub fn multipart_etag<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut outer = Md5::new();
    let mut n = 0;
    for p in parts {
        outer.update(Md5::digest(p));
        n += 1;
    }
    format!("\"{}-{}\"", hex::encode(outer.finalize()), n)
}

/// In-memory body: the SDK signs the payload and sends the checksum as a header.
pub fn body(data: impl Into<Bytes>) -> ByteStream {
    ByteStream::from(data.into())
}

/// Streaming body with known length: the SDK sends it `aws-chunked` with signed
/// chunks and a trailing checksum (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`).
pub fn streaming_body(data: impl Into<Bytes>) -> ByteStream {
    ByteStream::from_body_1_x(http_body_util::Full::new(data.into()))
}

/// GET an object and return its full body.
pub async fn get_bytes(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let resp = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {bucket}/{key} failed: {}", describe(&e)));
    resp.body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("reading body of {bucket}/{key}: {e}"))
        .into_bytes()
        .to_vec()
}

/// PUT an object from memory, returning its ETag.
pub async fn put(client: &Client, bucket: &str, key: &str, data: impl Into<Bytes>) -> String {
    let resp = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body(data))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {bucket}/{key} failed: {}", describe(&e)));
    resp.e_tag().unwrap_or_default().to_string()
}

pub async fn create_bucket(client: &Client, bucket: &str) {
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {bucket} failed: {}", describe(&e)));
}

/// Creates a bucket with ACLs enabled (object ownership ObjectWriter; new
/// buckets have them disabled) and, when `public`, a public-read bucket ACL.
pub async fn create_bucket_with_acls(client: &Client, bucket: &str, public: bool) {
    let acl = public.then_some(aws_sdk_s3::types::BucketCannedAcl::PublicRead);
    client
        .create_bucket()
        .bucket(bucket)
        .object_ownership(aws_sdk_s3::types::ObjectOwnership::ObjectWriter)
        .set_acl(acl)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {bucket} failed: {}", describe(&e)));
}

/// Puts an object anyone may read (canned ACL public-read).
pub async fn put_public(client: &Client, bucket: &str, key: &str, data: impl Into<Bytes>) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .body(body(data))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {bucket}/{key} failed: {}", describe(&e)));
}

/// All keys of a bucket (ListObjectsV2, following continuation tokens).
pub async fn list_keys(client: &Client, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = client
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListObjectsV2 {bucket} failed: {}", describe(&e)));
        keys.extend(
            resp.contents()
                .iter()
                .map(|o| o.key().unwrap_or_default().to_string()),
        );
        match resp.next_continuation_token() {
            Some(t) if resp.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    keys
}

// ---------------------------------------------------------------------------
// Error helpers
// ---------------------------------------------------------------------------

/// S3 error code of a failed SDK call ("" if none).
pub fn err_code<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> String {
    e.code().unwrap_or_default().to_string()
}

/// HTTP status of a failed SDK call (0 if no response was received).
pub fn err_status<E>(e: &SdkError<E, HttpResponse>) -> u16 {
    e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

/// Human-readable description of an SDK error (code, message, status, debug).
pub fn describe<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &SdkError<E, HttpResponse>,
) -> String {
    format!(
        "status={} code={:?} message={:?} err={:?}",
        err_status(e),
        e.code(),
        e.message(),
        e
    )
}

/// Assert that `res` failed with HTTP `status` and one of `codes` (empty = any code).
#[track_caller]
pub fn assert_err<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    res: Result<T, SdkError<E, HttpResponse>>,
    status: u16,
    codes: &[&str],
) {
    match res {
        Ok(v) => panic!("expected error {codes:?} (HTTP {status}), got success: {v:?}"),
        Err(e) => {
            let code = err_code(&e);
            let st = err_status(&e);
            assert!(
                st == status && (codes.is_empty() || codes.contains(&code.as_str())),
                "expected HTTP {status} {codes:?}, got {}",
                describe(&e)
            );
        }
    }
}

/// Extract `<Code>..</Code>` from an S3 XML error body.
pub fn xml_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body[start..].find("</Code>")? + start;
    Some(body[start..end].to_string())
}

// ---------------------------------------------------------------------------
// Raw signed requests (for protocol-level tests the SDK cannot produce)
// ---------------------------------------------------------------------------

/// Body hash mode for [`sign_request`].
pub enum PayloadMode<'a> {
    /// `x-amz-content-sha256: <sha256 of these bytes>`
    Bytes(&'a [u8]),
    /// `x-amz-content-sha256: UNSIGNED-PAYLOAD`
    Unsigned,
    /// `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`
    StreamingUnsignedTrailer,
    /// `x-amz-content-sha256: <this hex value>` (whatever the body is)
    Precomputed(&'a str),
}

/// SigV4-sign a request with the test credentials; returns the headers to add
/// (`authorization`, `x-amz-date`, `x-amz-content-sha256`). `headers` are the
/// extra headers that will be sent (and signed); `host` is derived from `url`.
pub fn sign_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: PayloadMode<'_>,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
    };
    use aws_sigv4::sign::v4;
    let identity =
        aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "cairn-tests")
            .into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let body = match payload {
        PayloadMode::Bytes(b) => SignableBody::Bytes(b),
        PayloadMode::Unsigned => SignableBody::UnsignedPayload,
        PayloadMode::StreamingUnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
        PayloadMode::Precomputed(sha) => SignableBody::Precomputed(sha.to_string()),
    };
    let signable =
        SignableRequest::new(method, url, headers.iter().copied(), body).expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("sign request").into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A SigV4 presigned URL for `url` (query auth, `host` signed, unsigned payload)
/// valid for `expires`, with a credential scope in `region`. Unlike the SDK's
/// presigner it signs any duration, so tests can send what the SDK refuses.
pub fn presign_url(method: &str, url: &str, expires: Duration, region: &str) -> String {
    use aws_sigv4::http_request::{
        sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    };
    use aws_sigv4::sign::v4;
    let identity =
        aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "cairn-tests")
            .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        std::iter::empty(),
        SignableBody::UnsignedPayload,
    )
    .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("presign").into_parts();
    const AWS: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let mut out = url.to_string();
    for (i, (k, v)) in instructions.params().iter().enumerate() {
        out.push(if i == 0 && !url.contains('?') {
            '?'
        } else {
            '&'
        });
        out.push_str(k);
        out.push('=');
        out.push_str(&percent_encoding::utf8_percent_encode(v, AWS).to_string());
    }
    out
}

/// Encode `data` as an unsigned `aws-chunked` body with `chunk`-byte chunks and
/// the given trailer lines (e.g. `("x-amz-checksum-crc32", "....")`).
pub fn aws_chunked_unsigned(data: &[u8], chunk: usize, trailers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / chunk.max(1) * 12 + 128);
    for piece in data.chunks(chunk.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for (k, v) in trailers {
        out.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}
