//! A Cairn cluster on loopback for tests: a generated `cluster.toml`, N `cairn node`
//! processes and one `cairn gateway`, each with its own log file.
//!
//! [`crate::Server`] delegates to a [`Cluster`] when `CAIRN_TEST_CLUSTER=N` is set,
//! so the e2e suite runs unchanged against a cluster; fault tests use [`Cluster`]
//! directly (kill and restart single nodes, find leaders, read metrics and status);
//! reconfiguration tests grow and shrink it by rewriting the cluster file
//! ([`Cluster::add_node`], [`Cluster::set_drain`], [`Cluster::forget_node`]) and
//! driving `cairn cluster plan|apply|status --json`. With `CAIRN_TEST_KEEP=1` a
//! cluster's directory (cluster file, node data, logs) outlives the test. With
//! [`ClusterOpts::tls`] its processes talk mutual TLS (`cairn cluster certs`
//! into `DIR/certs`); [`ClusterOpts::relay`] puts a recording relay in front of
//! one node.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use std::sync::Arc;

use aws_sdk_s3::Client;

use crate::netns::{Host, Hosts};

use crate::process::{labelled_tails, states, wait_health, wait_health_with, Proc};
use crate::reconfig::{json_lines, parse_line, Applied, ClusterStatus, Plan};
use crate::{
    cairn_bin, chunk_files, chunk_ids, free_port, s3_config_builder, ServerOpts, ACCESS_KEY,
    REGION, SECRET_KEY,
};

/// How long nodes and the gateway may take to answer `/health` after a start.
const NODE_READY: Duration = Duration::from_secs(20);
const GATEWAY_READY: Duration = Duration::from_secs(30);
/// How long `cairn cluster status` / `plan` may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `cairn cluster apply --wait` may take.
const APPLY_TIMEOUT: Duration = Duration::from_secs(180);

/// The optional `[raft]` table of the cluster file; `None` keeps the product default.
#[derive(Clone, Debug, Default)]
pub struct RaftTuning {
    pub heartbeat_ms: Option<u64>,
    pub election_min_ms: Option<u64>,
    pub election_max_ms: Option<u64>,
    pub snapshot_logs: Option<u64>,
    pub keep_logs: Option<u64>,
}

/// Shape of a test cluster.
#[derive(Clone, Debug)]
pub struct ClusterOpts {
    /// Number of storage nodes (ids 1..=nodes).
    pub nodes: u64,
    /// `capacity` of every node in the cluster file, e.g. "10GiB".
    pub capacity: String,
    /// Replication factor R.
    pub replication: u64,
    /// Number of placement groups (a power of two).
    pub placement_groups: u32,
    pub raft: RaftTuning,
    /// Chunk size, domain and extra arguments go to the gateway; GC options,
    /// `min_free`, `data_parent` and `node_args` to the nodes.
    pub server: ServerOpts,
    /// `[tls]`: mutual TLS between every process.
    pub tls: bool,
    /// A node whose address in the cluster file is a [`crate::tls::Relay`] to it.
    pub relay_node: Option<u64>,
    /// Run every process in its own network namespace (see [`crate::netns`]);
    /// `None`: everything on loopback.
    pub hosts: Option<Arc<Hosts>>,
}

impl Default for ClusterOpts {
    fn default() -> Self {
        ClusterOpts {
            nodes: 3,
            capacity: "10GiB".to_string(),
            replication: 3,
            placement_groups: 8,
            raft: RaftTuning::default(),
            server: ServerOpts::default(),
            tls: false,
            relay_node: None,
            hosts: None,
        }
    }
}

impl ClusterOpts {
    pub fn new() -> Self {
        Self::default()
    }
    /// `nodes` nodes with R = min(3, nodes).
    pub fn nodes(mut self, nodes: u64) -> Self {
        self.nodes = nodes;
        self.replication = nodes.min(3);
        self
    }
    /// Every node's `capacity` in the cluster file, e.g. "1GiB".
    pub fn capacity(mut self, capacity: &str) -> Self {
        self.capacity = capacity.to_string();
        self
    }
    pub fn replication(mut self, r: u64) -> Self {
        self.replication = r;
        self
    }
    pub fn placement_groups(mut self, pgs: u32) -> Self {
        self.placement_groups = pgs;
        self
    }
    pub fn raft(mut self, raft: RaftTuning) -> Self {
        self.raft = raft;
        self
    }
    pub fn server(mut self, server: ServerOpts) -> Self {
        self.server = server;
        self
    }
    /// Mutual TLS between the cluster's processes.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }
    /// Node `id` is reached through a recording relay ([`Cluster::relay`]).
    pub fn relay(mut self, id: u64) -> Self {
        self.relay_node = Some(id);
        self
    }
    /// Run the processes on separate network namespaces with a node per id.
    pub fn hosts(mut self, hosts: Arc<Hosts>) -> Self {
        self.hosts = Some(hosts);
        self
    }

    /// Where `host` listens for `port` (the S3 port 9000, admin API 9002, node RPC
    /// 7000): its own address, or a fresh loopback port.
    fn addr(&self, host: Host, port: u16) -> SocketAddr {
        match &self.hosts {
            Some(h) => SocketAddr::new(IpAddr::V4(h.ip(host)), port),
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), free_port()),
        }
    }

    /// `cmd` as run on `host`.
    fn command(&self, host: Host, cmd: Command) -> Command {
        match &self.hosts {
            Some(h) => h.wrap(host, cmd),
            None => cmd,
        }
    }
}

/// One line of the RAFT GROUPS table of `cairn cluster status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRow {
    /// "catalog", "pg 0", "pg 1", ...
    pub name: String,
    pub leader: Option<u64>,
    pub term: u64,
    pub voters: Vec<u64>,
    pub last_log: u64,
    pub applied: u64,
    pub log_len: u64,
}

/// Parse the RAFT GROUPS table of `cairn cluster status` output: columns group,
/// leader, term, voters (`1,2,3`, learners after a `+`: `1,2,3+4`), target (if the
/// header has it: `=` or node ids), last log, applied, log len, lag.
pub fn parse_status_groups(status: &str) -> Vec<GroupRow> {
    let mut rows = Vec::new();
    let mut in_groups = false;
    // Columns between voters and last log.
    let mut skip = 0;
    for line in status.lines() {
        if line.starts_with("RAFT GROUPS") {
            in_groups = true;
            continue;
        }
        if !in_groups {
            continue;
        }
        if line.starts_with("group") {
            skip = usize::from(line.split_whitespace().any(|w| w == "target"));
            continue;
        }
        if line.trim().is_empty() {
            break;
        }
        // The name is one word ("catalog") or two ("pg 3").
        let mut words = line.split_whitespace();
        let mut name = words.next().unwrap_or_default().to_string();
        if name == "pg" {
            name = format!("pg {}", words.next().unwrap_or_default());
        }
        let f: Vec<&str> = words.collect();
        if f.len() < 6 + skip {
            continue;
        }
        let num = |s: &str| s.parse::<u64>().unwrap_or(0);
        let voters = f[2].split('+').next().unwrap_or_default();
        rows.push(GroupRow {
            name,
            leader: f[0].parse().ok(),
            term: num(f[1]),
            voters: voters.split(',').filter_map(|v| v.parse().ok()).collect(),
            last_log: num(f[3 + skip]),
            applied: num(f[4 + skip]),
            log_len: num(f[5 + skip]),
        });
    }
    rows
}

/// A node's `/metrics` page: `series -> value`, where series is the metric name with
/// its labels as printed, e.g. `cairn_raft_is_leader{group="0"}`.
#[derive(Clone, Debug, Default)]
pub struct Metrics(pub BTreeMap<String, f64>);

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut m = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            if let Some((series, value)) = line.rsplit_once(' ') {
                if let Ok(v) = value.trim().parse::<f64>() {
                    m.insert(series.trim().to_string(), v);
                }
            }
        }
        Metrics(m)
    }
    /// An unlabelled metric.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }
    /// A per-Raft-group metric (group 0 is the catalog, group g >= 1 is PG g-1).
    pub fn group(&self, name: &str, group: u64) -> Option<f64> {
        self.0.get(&format!("{name}{{group=\"{group}\"}}")).copied()
    }
    /// Every group this node reports `name` for.
    pub fn groups(&self, name: &str) -> BTreeMap<u64, f64> {
        let prefix = format!("{name}{{group=\"");
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let g = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                Some((g.parse().ok()?, *v))
            })
            .collect()
    }
}

struct NodeProc {
    id: u64,
    addr: SocketAddr,
    /// Where it listens when not at `addr` (behind a relay).
    listen: Option<SocketAddr>,
    data_dir: PathBuf,
    /// `capacity` of its `[[node]]` entry.
    capacity: String,
    /// `drain` of its `[[node]]` entry.
    drain: bool,
    /// Whether the cluster file has a `[[node]]` entry for it (false after
    /// [`Cluster::forget_node`]; the process and data dir stay).
    in_config: bool,
    proc: Proc,
}

impl NodeProc {
    /// Node `id` with data in `data_root/nID` and its log in `root/nodeID.log`, on
    /// its host's address (or a free loopback port); not started.
    fn new(root: &Path, opts: &ClusterOpts, id: u64) -> NodeProc {
        let data_dir = data_root(root, opts).join(format!("n{id}"));
        std::fs::create_dir_all(&data_dir).expect("create node data dir");
        NodeProc {
            id,
            addr: opts.addr(Host::Node(id), 7000),
            listen: None,
            data_dir,
            capacity: opts.capacity.clone(),
            drain: false,
            in_config: true,
            proc: Proc::new(format!("node {id}"), root.join(format!("node{id}.log"))),
        }
    }
}

/// Where the nodes' data directories go: `ServerOpts::data_parent`, else `root`.
fn data_root<'a>(root: &'a Path, opts: &'a ClusterOpts) -> &'a Path {
    opts.server.data_parent.as_deref().unwrap_or(root)
}

/// A cluster of `cairn node` processes and one `cairn gateway`.
pub struct Cluster {
    pub opts: ClusterOpts,
    root: PathBuf,
    config_path: PathBuf,
    /// The cluster secret, the same in every rewrite of the cluster file.
    secret: String,
    gateway_addr: SocketAddr,
    /// The gateway's admin API (`--admin-listen`, token `ADMIN_TOKEN`).
    admin_addr: SocketAddr,
    nodes: Vec<NodeProc>,
    gateway: Proc,
    relay: Option<crate::tls::Relay>,
    // Declared last so the directory outlives the processes.
    _root: Option<tempfile::TempDir>,
}

impl Cluster {
    /// Start a cluster in a fresh temporary directory; returns once the gateway
    /// answers `/health`.
    pub async fn start(opts: ClusterOpts) -> Cluster {
        let mut c = Cluster::new_stopped(opts);
        c.start_all().await;
        c
    }

    /// Write the cluster file in a fresh temporary directory, start nothing (e.g. to
    /// mount something on a node's data directory first; then [`Cluster::start_all`]).
    pub fn new_stopped(opts: ClusterOpts) -> Cluster {
        let root = tempfile::Builder::new()
            .prefix("cairn-cluster-")
            .tempdir()
            .expect("create temp dir");
        let gateway_addr = opts.addr(Host::Gateway, 9000);
        let mut c = Cluster::create(root.path(), gateway_addr, opts);
        c._root = Some(root);
        c
    }

    /// Write the cluster file under `root` (node data in `root/nID`, logs in
    /// `root/*.log`); starts nothing.
    pub(crate) fn create(root: &Path, gateway_addr: SocketAddr, opts: ClusterOpts) -> Cluster {
        assert!(opts.nodes >= 1, "a cluster needs a node");
        let mut nodes: Vec<NodeProc> = (1..=opts.nodes)
            .map(|id| NodeProc::new(root, &opts, id))
            .collect();
        for n in nodes.iter_mut().filter(|n| Some(n.id) == opts.relay_node) {
            n.listen = Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                free_port(),
            ));
        }
        let admin_addr = opts.addr(Host::Gateway, 9002);
        let c = Cluster {
            root: root.to_path_buf(),
            config_path: root.join("cluster.toml"),
            secret: format!("cairn-test-secret-{:016x}", rand::random::<u64>()),
            opts,
            gateway_addr,
            admin_addr,
            nodes,
            gateway: Proc::new("gateway", root.join("gateway.log")),
            relay: None,
            _root: None,
        };
        c.write_config();
        if c.opts.tls {
            crate::tls::cluster_certs(&c.config_path, &root.join("certs"));
        }
        c
    }

    /// Rewrite the cluster file from the options and the node entries.
    pub fn write_config(&self) {
        std::fs::write(
            &self.config_path,
            cluster_toml(
                &self.opts,
                &self.secret,
                &self.nodes,
                self.tls_ca().as_deref(),
            ),
        )
        .unwrap_or_else(|e| panic!("write {}: {e}", self.config_path.display()));
    }

    // ------------------------------------------------------------------
    // Whole-cluster lifecycle
    // ------------------------------------------------------------------

    /// Start every process that is not running: nodes first (waiting for their
    /// `/health`), then the gateway (waiting for its `/health`).
    pub async fn start_all(&mut self) {
        let relayed = self.nodes.iter().find_map(|n| Some((n.addr, n.listen?)));
        if let (Some((addr, target)), None) = (relayed, &self.relay) {
            self.relay = Some(crate::tls::Relay::start(addr, target).await);
        }
        for id in self.node_ids() {
            if !self.node(id).proc.is_running() {
                self.spawn_node(id);
            }
        }
        for id in self.node_ids() {
            self.wait_node_ready(id).await;
        }
        if !self.gateway.is_running() {
            self.start_gateway().await;
        }
    }

    /// SIGKILL every process.
    pub fn kill9_all(&mut self) {
        self.gateway.kill9();
        for n in &mut self.nodes {
            n.proc.kill9();
        }
    }

    /// SIGTERM the gateway, then every node; wait up to 10 s each, then SIGKILL.
    pub fn stop_all(&mut self) {
        self.gateway.stop();
        for n in &self.nodes {
            n.proc.term();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for n in &mut self.nodes {
            n.proc.wait_or_kill(deadline);
        }
    }

    /// Stop everything and start it again on the same data and ports.
    pub async fn restart_all(&mut self) {
        self.stop_all();
        self.start_all().await;
    }

    /// Stop everything and start it again with other gateway/GC options.
    pub async fn restart_with(&mut self, server: ServerOpts) {
        self.stop_all();
        self.opts.server = server;
        self.start_all().await;
    }

    // ------------------------------------------------------------------
    // Single processes
    // ------------------------------------------------------------------

    /// Ids of the nodes in the cluster file, ascending (not necessarily contiguous
    /// once nodes were forgotten).
    pub fn node_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.in_config)
            .map(|n| n.id)
            .collect()
    }

    fn node(&self, id: u64) -> &NodeProc {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in this cluster"))
    }

    fn node_mut(&mut self, id: u64) -> &mut NodeProc {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in this cluster"))
    }

    /// The cluster secret (the `x-cairn-secret` of internal RPC).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn node_addr(&self, id: u64) -> SocketAddr {
        self.node(id).addr
    }

    pub fn node_data_dir(&self, id: u64) -> PathBuf {
        self.node(id).data_dir.clone()
    }

    pub fn node_log_path(&self, id: u64) -> &Path {
        &self.node(id).proc.log_path
    }

    pub fn node_is_running(&self, id: u64) -> bool {
        self.node(id).proc.is_running()
    }

    pub fn node_pid(&self, id: u64) -> Option<u32> {
        self.node(id).proc.pid()
    }

    /// SIGKILL node `id`.
    pub fn kill9_node(&mut self, id: u64) {
        self.node_mut(id).proc.kill9();
    }

    /// SIGTERM node `id` (SIGKILL after 10 s).
    pub fn stop_node(&mut self, id: u64) {
        self.node_mut(id).proc.stop();
    }

    /// Start node `id` again and wait for its `/health`.
    pub async fn start_node(&mut self, id: u64) {
        self.spawn_node(id);
        self.wait_node_ready(id).await;
    }

    // ------------------------------------------------------------------
    // Membership (edits of the cluster file)
    // ------------------------------------------------------------------

    /// Add node `max id + 1` (ids are never reused) to the cluster file with the
    /// options' capacity, a free port, data in `root/nID` and its log in
    /// `root/nodeID.log`; start it and wait for its `/health`. Does not apply the
    /// change (see [`Cluster::apply_wait_json`]).
    pub async fn add_node(&mut self) -> u64 {
        let id = self.nodes.iter().map(|n| n.id).max().unwrap_or(0) + 1;
        self.nodes.push(NodeProc::new(&self.root, &self.opts, id));
        self.write_config();
        self.start_node(id).await;
        id
    }

    /// Set `drain` of node `id` in the cluster file.
    pub fn set_drain(&mut self, id: u64, drain: bool) {
        self.node_mut(id).drain = drain;
        self.write_config();
    }

    /// Remove node `id`'s entry from the cluster file. Its process (if running) and
    /// data dir stay: stop it with [`Cluster::stop_node`] / [`Cluster::kill9_node`];
    /// [`Cluster::node_chunk_ids`] still inspects its data dir.
    pub fn forget_node(&mut self, id: u64) {
        self.node_mut(id).in_config = false;
        self.write_config();
    }

    fn spawn_node(&mut self, id: u64) {
        let mut cmd = Command::new(cairn_bin());
        cmd.arg("node")
            .arg("--config")
            .arg(&self.config_path)
            .arg("--id")
            .arg(id.to_string());
        if let Some(g) = self.opts.server.gc_grace {
            cmd.arg("--gc-grace").arg(g.to_string());
        }
        if let Some(i) = self.opts.server.gc_interval {
            cmd.arg("--gc-interval").arg(i.to_string());
        }
        if let Some(m) = &self.opts.server.min_free {
            cmd.arg("--min-free").arg(m);
        }
        if let Some(listen) = self.node(id).listen {
            cmd.arg("--listen").arg(listen.to_string());
        }
        cmd.args(&self.opts.server.node_args);
        let banner = format!("{} opts {:?}", self.node(id).addr, self.opts.server);
        let cmd = self.opts.command(Host::Node(id), cmd);
        self.node_mut(id).proc.spawn(cmd, &banner);
    }

    async fn wait_node_ready(&mut self, id: u64) {
        let url = format!("{}/health", self.node_url(id));
        let http = self.node_http();
        let res =
            wait_health_with(&url, &http, NODE_READY, &mut [&mut self.node_mut(id).proc]).await;
        if let Err(e) = res {
            panic!("node {id}: {e}\n{}", self.log_tail(64 * 1024));
        }
    }

    pub fn gateway_is_running(&self) -> bool {
        self.gateway.is_running()
    }

    pub fn gateway_pid(&self) -> Option<u32> {
        self.gateway.pid()
    }

    pub fn gateway_log_path(&self) -> &Path {
        &self.gateway.log_path
    }

    pub fn kill9_gateway(&mut self) {
        self.gateway.kill9();
    }

    /// Start the gateway and wait for its `/health` (it answers once the catalog
    /// group has a leader).
    pub async fn start_gateway(&mut self) {
        let s = &self.opts.server;
        let mut cmd = Command::new(cairn_bin());
        cmd.arg("gateway")
            .arg("--config")
            .arg(&self.config_path)
            .arg("--listen")
            .arg(self.gateway_addr.to_string());
        if let Some(c) = s.chunk_size {
            cmd.arg("--chunk-size").arg(c.to_string());
        }
        if let Some(d) = &s.domain {
            cmd.arg("--domain").arg(d);
        }
        cmd.arg("--admin-listen").arg(self.admin_addr.to_string());
        cmd.args(&s.extra_args);
        cmd.env("CAIRN_ACCESS_KEY", ACCESS_KEY)
            .env("CAIRN_SECRET_KEY", SECRET_KEY)
            .env("CAIRN_ADMIN_TOKEN", crate::ADMIN_TOKEN);
        let banner = format!("{} opts {:?}", self.gateway_addr, self.opts.server);
        let cmd = self.opts.command(Host::Gateway, cmd);
        self.gateway.spawn(cmd, &banner);
        let addr = self.gateway_addr.to_string();
        let res = {
            let mut watched: Vec<&mut Proc> = vec![&mut self.gateway];
            watched.extend(self.nodes.iter_mut().map(|n| &mut n.proc));
            wait_health(&addr, GATEWAY_READY, &mut watched).await
        };
        if let Err(e) = res {
            panic!("{e}\n{}", self.log_tail(64 * 1024));
        }
    }

    // ------------------------------------------------------------------
    // S3 access
    // ------------------------------------------------------------------

    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway_addr
    }

    /// The gateway's admin API address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// `http://GATEWAY`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.gateway_addr)
    }

    /// Path-style SDK client of the gateway (default retries, 120 s attempt timeout).
    pub fn client(&self) -> Client {
        Client::from_conf(s3_config_builder(&self.endpoint(), ACCESS_KEY, SECRET_KEY).build())
    }

    pub fn config_builder(&self) -> aws_sdk_s3::config::Builder {
        s3_config_builder(&self.endpoint(), ACCESS_KEY, SECRET_KEY)
    }

    // ------------------------------------------------------------------
    // Observation
    // ------------------------------------------------------------------

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Chunk ids (file names) in node `id`'s chunk store.
    pub fn node_chunk_ids(&self, id: u64) -> BTreeSet<String> {
        chunk_ids(&self.node(id).data_dir.join("chunks"))
    }

    /// `(count, total bytes)` of the chunk files in node `id`'s chunk store.
    pub fn node_chunk_files(&self, id: u64) -> (usize, u64) {
        chunk_files(&self.node(id).data_dir.join("chunks"))
    }

    /// Which nodes of the cluster file hold each chunk id.
    pub fn chunk_holders(&self) -> BTreeMap<String, Vec<u64>> {
        let mut holders: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for id in self.node_ids() {
            for chunk in self.node_chunk_ids(id) {
                holders.entry(chunk).or_default().push(id);
            }
        }
        holders
    }

    /// Peak resident set size (VmHWM) of node `id`'s process in KiB, if it runs.
    pub fn node_peak_rss_kib(&self, id: u64) -> Option<u64> {
        peak_rss_kib(self.node(id).proc.pid()?)
    }

    /// Peak resident set size (VmHWM) of the gateway process in KiB, if it runs.
    pub fn gateway_peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.gateway.pid()?)
    }

    /// Size of node `id`'s `raft.redb`, 0 if missing.
    pub fn node_raft_log_bytes(&self, id: u64) -> u64 {
        std::fs::metadata(self.node(id).data_dir.join("raft.redb"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Node `id`'s `/metrics`, `None` if it does not answer.
    pub async fn node_metrics(&self, id: u64) -> Option<Metrics> {
        let url = format!("{}/metrics", self.node_url(id));
        let resp = self.node_http().get(&url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        Some(Metrics::parse(&resp.text().await.ok()?))
    }

    /// `http://NODE` or, with TLS, `https://NODE`.
    pub fn node_url(&self, id: u64) -> String {
        let scheme = if self.opts.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.node(id).addr)
    }

    /// A client of the nodes' `/health` and `/metrics` (trusting the cluster CA).
    fn node_http(&self) -> reqwest::Client {
        crate::tls::node_client(self.tls_ca().as_deref())
    }

    /// The cluster CA's certificate (`certs/ca.crt`) when the cluster has TLS.
    pub fn tls_ca(&self) -> Option<PathBuf> {
        self.opts
            .tls
            .then(|| self.root.join("certs").join("ca.crt"))
    }

    /// The relay in front of [`ClusterOpts::relay_node`], once started.
    pub fn relay(&self) -> Option<&crate::tls::Relay> {
        self.relay.as_ref()
    }

    /// The directory holding the cluster file, certificates, data and logs.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The node whose metrics say it leads the catalog group (group 0), if exactly
    /// one running node says so.
    pub async fn catalog_leader(&self) -> Option<u64> {
        let mut leaders = Vec::new();
        for n in &self.nodes {
            if !n.proc.is_running() {
                continue;
            }
            if let Some(m) = self.node_metrics(n.id).await {
                if m.group("cairn_raft_is_leader", 0) == Some(1.0) {
                    leaders.push(n.id);
                }
            }
        }
        match leaders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Poll [`Cluster::catalog_leader`] until there is one.
    pub async fn wait_catalog_leader(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.catalog_leader().await {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no catalog leader after {timeout:?}\n{}",
                self.log_tail(32 * 1024)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until node `id` has applied, in every group it is in, as far as the most
    /// advanced running member of that group (call it when writes have stopped).
    /// Returns the time it took; panics after `timeout` with the last metrics.
    pub async fn wait_caught_up(&self, id: u64, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let mut all = BTreeMap::new();
            for n in self.running_node_ids() {
                if let Some(m) = self.node_metrics(n).await {
                    all.insert(n, m);
                }
            }
            let last = match behind(id, &all) {
                Some(b) if b.is_empty() => return start.elapsed(),
                Some(b) => b.join(", "),
                None => format!("node {id} does not answer /metrics"),
            };
            assert!(
                start.elapsed() < timeout,
                "node {id} not caught up after {timeout:?}: {last}\n{}",
                self.status().await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Block (no async: usable from sync helpers) until every running node has
    /// applied every group it is in as far as the group's most advanced member, so
    /// each replica holds every acknowledged chunk; false if that takes longer than
    /// `timeout`.
    pub fn settle_blocking(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let ids = self.running_node_ids();
            let all: BTreeMap<u64, Metrics> = ids
                .iter()
                .filter_map(|&n| Some((n, metrics_blocking(self.node(n).addr)?)))
                .collect();
            let settled = all.len() == ids.len()
                && ids
                    .iter()
                    .all(|&n| behind(n, &all).is_some_and(|b| b.is_empty()));
            if settled {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn running_node_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|n| n.proc.is_running())
            .map(|n| n.id)
            .collect()
    }

    // ------------------------------------------------------------------
    // The cluster CLI
    // ------------------------------------------------------------------

    /// `cairn ARGS --config CLUSTER_FILE`
    fn cli_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cairn_bin());
        cmd.args(args)
            .arg("--config")
            .arg(&self.config_path)
            .env("NO_COLOR", "1");
        cmd
    }

    /// Run `cairn ARGS --config CLUSTER_FILE` to completion (blocking).
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_command(args)
            .output()
            .unwrap_or_else(|e| panic!("run cairn {args:?}: {e}"))
    }

    /// [`Cluster::cli`] without blocking the runtime; kills the command and panics
    /// (with `cairn cluster status` and the logs) if it runs longer than `timeout`.
    pub async fn cli_async(&self, args: &[&str], timeout: Duration) -> Output {
        let mut cmd = tokio::process::Command::from(self.cli_command(args));
        cmd.kill_on_drop(true);
        match tokio::time::timeout(timeout, cmd.output()).await {
            Ok(out) => out.unwrap_or_else(|e| panic!("run cairn {args:?}: {e}")),
            Err(_) => {
                let status = if args.first() == Some(&"cluster") && args.get(1) == Some(&"status") {
                    String::new()
                } else {
                    Box::pin(self.status()).await
                };
                panic!(
                    "cairn {args:?} still running after {timeout:?}\n{status}\n{}",
                    self.log_tail(48 * 1024)
                )
            }
        }
    }

    /// [`Cluster::cli_async`]; panics with its output unless it exits 0.
    async fn cli_ok(&self, args: &[&str], timeout: Duration) -> (String, String) {
        let out = self.cli_async(args, timeout).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "cairn {args:?} exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        (stdout, stderr)
    }

    /// Output of `cairn cluster status` (stdout, plus stderr if it failed).
    pub async fn status(&self) -> String {
        let out = self.cli_async(&["cluster", "status"], CLI_TIMEOUT).await;
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let _ = write!(
                s,
                "\n[cairn cluster status exited with {}]\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        s
    }

    /// `cairn cluster status --json`; panics unless it succeeds with one JSON line.
    pub async fn status_json(&self) -> ClusterStatus {
        let args = ["cluster", "status", "--json"];
        let (stdout, _) = self.cli_ok(&args, CLI_TIMEOUT).await;
        let lines = json_lines(&stdout);
        assert_eq!(lines.len(), 1, "cairn {args:?} printed:\n{stdout}");
        parse_line("cairn cluster status --json", lines[0])
    }

    /// `cairn cluster plan --json` for the current cluster file; panics unless it
    /// succeeds with one JSON line.
    pub async fn plan_json(&self) -> Plan {
        let args = ["cluster", "plan", "--json"];
        let (stdout, _) = self.cli_ok(&args, CLI_TIMEOUT).await;
        let lines = json_lines(&stdout);
        assert_eq!(lines.len(), 1, "cairn {args:?} printed:\n{stdout}");
        parse_line("cairn cluster plan --json", lines[0])
    }

    /// `cairn cluster apply --wait --json` for the current cluster file: the plan
    /// line, the final status line and how long it took. Panics unless it exits 0.
    pub async fn apply_wait_json(&self) -> Applied {
        let args = ["cluster", "apply", "--wait", "--json"];
        let start = Instant::now();
        let (stdout, stderr) = self.cli_ok(&args, APPLY_TIMEOUT).await;
        let elapsed = start.elapsed();
        let lines = json_lines(&stdout);
        assert!(
            !lines.is_empty() && lines.len() <= 2,
            "cairn {args:?} printed (expected the plan line and a final status line):\n{stdout}"
        );
        Applied {
            plan: parse_line("cairn cluster apply --json (plan line)", lines[0]),
            last: lines
                .get(1)
                .map(|l| parse_line("cairn cluster apply --wait --json (last line)", l)),
            elapsed,
            stdout,
            stderr,
        }
    }

    /// The RAFT GROUPS table of [`Cluster::status`].
    pub async fn status_groups(&self) -> Vec<GroupRow> {
        parse_status_groups(&self.status().await)
    }

    /// The tails of every process's log (gateway, then nodes), labelled, `max` bytes
    /// in all.
    pub fn log_tail(&self, max: u64) -> String {
        labelled_tails(
            std::iter::once(&self.gateway).chain(self.nodes.iter().map(|n| &n.proc)),
            max,
        )
    }

    /// One line per process (gateway, nodes): running, not running, or how it
    /// exited on its own.
    pub fn process_states(&mut self) -> String {
        states(std::iter::once(&mut self.gateway).chain(self.nodes.iter_mut().map(|n| &mut n.proc)))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() && self._root.is_some() {
            eprintln!(
                "----- cairn cluster processes -----\n{}----- cairn cluster logs -----\n{}----- end of cluster logs -----",
                self.process_states(),
                self.log_tail(48 * 1024)
            );
        }
        self.kill9_all();
        // CAIRN_TEST_KEEP=1 keeps the cluster's directory (data, cluster file, logs).
        if std::env::var_os("CAIRN_TEST_KEEP").is_some() {
            if let Some(root) = self._root.take() {
                eprintln!("cairn cluster kept in {}", root.keep().display());
            }
        }
    }
}

/// The groups in which node `id` has applied less than the most advanced other node
/// in `all` (node -> metrics), as "group G: mine < best"; `None` without `id`'s
/// metrics.
fn behind(id: u64, all: &BTreeMap<u64, Metrics>) -> Option<Vec<String>> {
    const APPLIED: &str = "cairn_raft_applied_index";
    let mine = all.get(&id)?.groups(APPLIED);
    if mine.is_empty() {
        return Some(vec![format!("node {id} reports no groups")]);
    }
    let mut best: BTreeMap<u64, f64> = BTreeMap::new();
    for (n, m) in all {
        if *n != id {
            for (g, v) in m.groups(APPLIED) {
                let e = best.entry(g).or_insert(0.0);
                *e = e.max(v);
            }
        }
    }
    Some(
        mine.iter()
            .filter_map(|(g, v)| {
                let b = best.get(g).copied().unwrap_or(0.0);
                (*v < b).then(|| format!("group {g}: {v} < {b}"))
            })
            .collect(),
    )
}

/// `GET /metrics` of a node with a plain blocking HTTP/1.0 request.
fn metrics_blocking(addr: SocketAddr) -> Option<Metrics> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    conn.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| Metrics::parse(body))
}

/// VmHWM of `/proc/PID/status` in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// The cluster file for `opts`, `secret` and the entries of the nodes in it
/// (absolute data dirs).
fn cluster_toml(opts: &ClusterOpts, secret: &str, nodes: &[NodeProc], ca: Option<&Path>) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "name = \"e2e\"");
    let _ = writeln!(t, "replication = {}", opts.replication);
    let _ = writeln!(t, "placement_groups = {}", opts.placement_groups);
    let _ = writeln!(t, "secret = \"{secret}\"");
    let _ = writeln!(t, "\n[s3]\nregion = \"{REGION}\"");
    if let Some(ca) = ca {
        let _ = writeln!(
            t,
            "\n[tls]\nca = \"{}\"",
            toml_escape(&ca.display().to_string())
        );
    }
    let r = &opts.raft;
    let raft: Vec<(&str, Option<u64>)> = vec![
        ("heartbeat_ms", r.heartbeat_ms),
        ("election_min_ms", r.election_min_ms),
        ("election_max_ms", r.election_max_ms),
        ("snapshot_logs", r.snapshot_logs),
        ("keep_logs", r.keep_logs),
    ];
    if raft.iter().any(|(_, v)| v.is_some()) {
        let _ = writeln!(t, "\n[raft]");
        for (k, v) in raft {
            if let Some(v) = v {
                let _ = writeln!(t, "{k} = {v}");
            }
        }
    }
    for n in nodes.iter().filter(|n| n.in_config) {
        let _ = writeln!(
            t,
            "\n[[node]]\nid = {}\naddress = \"{}\"\ndata_dir = \"{}\"\ncapacity = \"{}\"",
            n.id,
            n.addr,
            toml_escape(&n.data_dir.display().to_string()),
            toml_escape(&n.capacity)
        );
        if n.drain {
            let _ = writeln!(t, "drain = true");
        }
    }
    t
}

fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
