//! `cairn bench`: a lean S3 load generator for any path-style S3 endpoint.
//!
//! Options ([`BenchArgs`]) and the runner: makes the bucket if missing, populates the
//! objects a read/list/delete workload needs (unmeasured), then runs `--objects`
//! operations (or, with `--duration`, as many as fit, cycling over the objects) with
//! `--concurrency` in flight, and reports ops/s, MiB/s, latency percentiles, errors
//! and the client's own CPU time ([`report`]). Requests are signed by [`sigv4`];
//! bodies are zero-copy views of a random pool ([`payload`]).

mod ops;
pub mod payload;
mod policy;
pub mod report;
pub mod sigv4;

pub(crate) use ops::error_chain;
use ops::S3Client;
use payload::{Payload, WyRand};
use report::{fmt_size, CpuTime, Measured, Report};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workload.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// PutObject of each object.
    Put,
    /// GetObject of each object (ranged GETs in parallel with --part-size).
    Get,
    /// 70% GET / 30% PUT over random objects.
    Mixed,
    /// ListObjectsV2 pages (up to 1000 keys) starting at successive objects.
    List,
    /// ListObjectVersions pages (up to 1000 versions and delete markers) starting at
    /// successive objects (`key-marker`): for buckets with versioning.
    ListVersions,
    /// DeleteObject of each object.
    Delete,
    /// CreateMultipartUpload + parts + CompleteMultipartUpload per object.
    Multipart,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Mixed => "mixed",
            Op::List => "list",
            Op::ListVersions => "list-versions",
            Op::Delete => "delete",
            Op::Multipart => "multipart",
        }
    }
}

/// `cairn bench` options.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// S3 endpoint (http://host:port), path-style.
    #[arg(long, env = "S3_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Access key id.
    #[arg(long, env = "S3_KEY", hide_env_values = true)]
    pub access_key: String,
    /// Secret access key.
    #[arg(long, env = "S3_SECRET", hide_env_values = true)]
    pub secret_key: String,
    /// Region to sign for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Bucket (created if missing).
    #[arg(long, default_value = "cairn-bench")]
    pub bucket: String,
    /// Workload.
    #[arg(long, value_enum, default_value = "put")]
    pub op: Op,
    /// Object size: N, NKiB, NMiB, NGiB (binary units; K/KB/M/MB/G/GB mean the same).
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub size: u64,
    /// Number of objects (and of operations, without --duration).
    #[arg(long, default_value_t = 100)]
    pub objects: u64,
    /// Operations in flight.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Run for this long (e.g. 30s, 500ms, 2m), cycling over the objects.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Part size of `multipart` (default 8MiB); with `get`, read objects larger than
    /// this as parallel ranged GETs of this size.
    #[arg(long, value_parser = parse_size)]
    pub part_size: Option<u64>,
    /// Parts (or ranges) in flight per object.
    #[arg(long, default_value_t = 8)]
    pub part_concurrency: usize,
    /// Key prefix; keys are PREFIX/00000000, PREFIX/00000001, ... (default
    /// cairn-bench/<size>).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Seed of the payload and of `mixed`'s choices (default: time-based, so each run
    /// writes new content).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON line on stdout (the table then goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Put this bucket policy (a JSON file) on the bucket before the run; `none`
    /// removes the bucket's policy.
    #[arg(long, value_name = "FILE|none")]
    pub policy: Option<String>,
}

const DEFAULT_PART: u64 = 8 << 20;
const MAX_PARTS: u64 = 10_000;
const MIXED_GET_SHARE: f64 = 0.7;

/// Splits `"1.5GiB"` into `1.5` and `"GiB"`.
fn split_number(s: &str) -> Result<(f64, &str), ()> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    num.parse().map(|v| (v, unit)).map_err(|_| ())
}

/// Parses `4KiB`, `1MiB`, `256MiB`, `1.5GiB`, `4096`, `4k`, `4KB` (all binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (value, unit) =
        split_number(s).map_err(|_| format!("bad size {s:?} (e.g. 4KiB, 1MiB, 256MiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("bad size unit in {s:?} (use B, KiB, MiB, GiB)")),
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("size {s:?} out of range"));
    }
    Ok(bytes.round() as u64)
}

/// Parses `30s`, `500ms`, `2m`, `1h`, `1.5s` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (value, unit) =
        split_number(s).map_err(|_| format!("bad duration {s:?} (e.g. 30s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

/// Runs the benchmark and prints its report; fails if any operation failed.
pub async fn run_cli(args: BenchArgs) -> Result<(), String> {
    let json = args.json;
    let report = run(args).await?;
    if json {
        eprint!("{}", report.table());
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    if report.errors > 0 {
        return Err(format!(
            "{} operation(s) failed; first: {}",
            report.errors,
            report.first_error.as_deref().unwrap_or("?")
        ));
    }
    Ok(())
}

/// Everything a worker needs.
struct Ctx {
    client: S3Client,
    payload: Option<Payload>,
    op: Op,
    size: u64,
    objects: u64,
    prefix: String,
    part_size: Option<u64>,
    part_concurrency: usize,
    seed: u64,
}

impl Ctx {
    fn key(&self, i: u64) -> String {
        format!("{}/{i:08}", self.prefix)
    }

    fn payload(&self) -> Result<&Payload, String> {
        self.payload
            .as_ref()
            .ok_or_else(|| "internal: no payload".to_string())
    }

    async fn get(&self, obj: u64) -> Result<u64, String> {
        let key = self.key(obj);
        match self.part_size {
            Some(part) if self.size > part => {
                self.client
                    .get_ranged(&key, self.size, part, self.part_concurrency)
                    .await
            }
            _ => self.client.get(&key, None, self.size).await,
        }
    }

    /// Operation number `n`: (bytes moved, keys listed).
    async fn run_op(&self, n: u64) -> Result<(u64, u64), String> {
        let obj = n % self.objects;
        match self.op {
            Op::Put => {
                let b = self
                    .client
                    .put(&self.key(obj), self.payload()?, obj)
                    .await?;
                Ok((b, 0))
            }
            Op::Get => Ok((self.get(obj).await?, 0)),
            Op::Mixed => {
                let mut rng = WyRand(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let is_get = rng.unit() < MIXED_GET_SHARE;
                let obj = rng.next() % self.objects;
                let b = if is_get {
                    self.get(obj).await?
                } else {
                    self.client
                        .put(&self.key(obj), self.payload()?, obj)
                        .await?
                };
                Ok((b, 0))
            }
            Op::List => {
                let start_after = (obj > 0).then(|| self.key(obj - 1));
                let list_prefix = format!("{}/", self.prefix);
                let page = self
                    .client
                    .list_page(&list_prefix, start_after.as_deref(), None, 1000, false)
                    .await?;
                if page.count == 0 {
                    return Err(format!(
                        "ListObjectsV2 prefix {list_prefix} after {start_after:?}: no keys"
                    ));
                }
                Ok((page.bytes, page.count))
            }
            Op::ListVersions => {
                let marker = (obj > 0).then(|| self.key(obj - 1));
                let list_prefix = format!("{}/", self.prefix);
                let page = self
                    .client
                    .list_versions_page(&list_prefix, marker.as_deref(), 1000)
                    .await?;
                if page.count == 0 {
                    return Err(format!(
                        "ListObjectVersions prefix {list_prefix} after {marker:?}: no versions"
                    ));
                }
                Ok((page.bytes, page.count))
            }
            Op::Delete => {
                self.client.delete(&self.key(obj)).await?;
                Ok((0, 0))
            }
            Op::Multipart => {
                let b = self
                    .client
                    .multipart(
                        &self.key(obj),
                        self.payload()?,
                        obj,
                        self.part_size.unwrap_or(DEFAULT_PART),
                        self.part_concurrency,
                    )
                    .await?;
                Ok((b, 0))
            }
        }
    }
}

#[derive(Default)]
struct Shared {
    next: AtomicU64,
    ops: AtomicU64,
    bytes: AtomicU64,
    keys: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(e);
        }
    }
}

fn default_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Runs a benchmark and returns its report (also when operations failed).
pub async fn run(args: BenchArgs) -> Result<Report, String> {
    if args.objects == 0 {
        return Err("--objects must be at least 1".into());
    }
    if args.concurrency == 0 || args.part_concurrency == 0 {
        return Err("--concurrency and --part-concurrency must be at least 1".into());
    }
    if args.part_size == Some(0) {
        return Err("--part-size must be positive".into());
    }
    if args.op == Op::Multipart {
        let part = args.part_size.unwrap_or(DEFAULT_PART);
        if args.size.div_ceil(part) > MAX_PARTS {
            return Err(format!(
                "{} in parts of {} is more than {MAX_PARTS} parts",
                fmt_size(args.size),
                fmt_size(part)
            ));
        }
    }
    let prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| format!("cairn-bench/{}", fmt_size(args.size)))
        .trim_end_matches('/')
        .to_string();
    let seed = args.seed.unwrap_or_else(default_seed);
    let multi = args.op == Op::Multipart || (args.op == Op::Get && args.part_size.is_some());
    let max_conn = args.concurrency * if multi { args.part_concurrency } else { 1 } + 4;
    let client = S3Client::new(
        &args.endpoint,
        &args.access_key,
        &args.secret_key,
        &args.region,
        &args.bucket,
        max_conn,
    )?;
    client.ensure_bucket().await?;
    if let Some(arg) = &args.policy {
        client.set_policy(policy::read_policy(arg)?).await?;
    }

    let mut ctx = Ctx {
        client,
        payload: None,
        op: args.op,
        size: args.size,
        objects: args.objects,
        prefix,
        part_size: args.part_size,
        part_concurrency: args.part_concurrency,
        seed,
    };
    let writes = matches!(args.op, Op::Put | Op::Mixed | Op::Multipart);
    let missing = if matches!(
        args.op,
        Op::Get | Op::Mixed | Op::List | Op::ListVersions | Op::Delete
    ) {
        missing_objects(&ctx).await?
    } else {
        Vec::new()
    };
    if writes || !missing.is_empty() {
        ctx.payload = Some(Payload::new(args.size, args.objects, seed));
    }
    let ctx = Arc::new(ctx);
    if !missing.is_empty() {
        populate(&ctx, &missing, args.concurrency).await?;
    }

    let limit = if args.duration.is_some() {
        None
    } else {
        Some(args.objects)
    };
    let shared = Arc::new(Shared::default());
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| spawn_progress(shared.clone(), args.op));

    let cpu0 = CpuTime::now();
    let started = Instant::now();
    let deadline = args.duration.map(|d| started + d);
    let mut workers = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let ctx = ctx.clone();
        let shared = shared.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = shared.next.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|l| n >= l) {
                    break;
                }
                let t0 = Instant::now();
                match ctx.run_op(n).await {
                    Ok((bytes, keys)) => {
                        lat.push(t0.elapsed().as_nanos() as u64);
                        shared.ops.fetch_add(1, Ordering::Relaxed);
                        shared.bytes.fetch_add(bytes, Ordering::Relaxed);
                        shared.keys.fetch_add(keys, Ordering::Relaxed);
                    }
                    Err(e) => shared.error(e),
                }
            }
            lat
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        match w.await {
            Ok(lat) => latencies.extend(lat),
            Err(e) => shared.error(format!("worker failed: {e}")),
        }
    }
    let wall = started.elapsed();
    let cpu = match (CpuTime::now(), cpu0) {
        (Some(now), Some(then)) => Some(now.since(then)),
        _ => None,
    };
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[2K");
    }

    let first_error = shared.first_error.lock().ok().and_then(|g| g.clone());
    let measured = Measured {
        latencies_ns: latencies,
        errors: shared.errors.load(Ordering::Relaxed),
        first_error,
        bytes: shared.bytes.load(Ordering::Relaxed),
        wall,
        cpu,
        keys_listed: matches!(args.op, Op::List | Op::ListVersions)
            .then(|| shared.keys.load(Ordering::Relaxed)),
    };
    let (part_size, part_concurrency) = match args.op {
        Op::Multipart => (
            Some(args.part_size.unwrap_or(DEFAULT_PART)),
            Some(args.part_concurrency),
        ),
        Op::Get | Op::Mixed if args.part_size.is_some_and(|p| args.size > p) => {
            (args.part_size, Some(args.part_concurrency))
        }
        _ => (None, None),
    };
    let base = Report {
        endpoint: args.endpoint.clone(),
        bucket: args.bucket.clone(),
        prefix: ctx.prefix.clone(),
        op: args.op.name().to_string(),
        size: args.size,
        size_human: fmt_size(args.size),
        objects: args.objects,
        concurrency: args.concurrency,
        part_size,
        part_concurrency,
        ops: 0,
        errors: 0,
        first_error: None,
        bytes: 0,
        wall_s: 0.0,
        ops_s: 0.0,
        mib_s: 0.0,
        p50_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        p999_ms: 0.0,
        max_ms: 0.0,
        mean_ms: 0.0,
        cpu_user_s: None,
        cpu_sys_s: None,
        keys_listed: None,
    };
    Ok(measured.into_report(base))
}

/// Indices of the objects not present under the prefix with the right size.
async fn missing_objects(ctx: &Ctx) -> Result<Vec<u64>, String> {
    let present: HashMap<String, u64> = ctx
        .client
        .list_all(&format!("{}/", ctx.prefix))
        .await?
        .into_iter()
        .collect();
    Ok((0..ctx.objects)
        .filter(|&i| present.get(&ctx.key(i)) != Some(&ctx.size))
        .collect())
}

/// Writes the missing objects (unmeasured): single PUTs, or multipart uploads when a
/// part size smaller than the objects is given.
async fn populate(ctx: &Arc<Ctx>, missing: &[u64], concurrency: usize) -> Result<(), String> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    eprintln!(
        "cairn bench: writing {} missing object(s) of {} under {}/ first (not measured)",
        missing.len(),
        fmt_size(ctx.size),
        ctx.prefix
    );
    let payload = ctx.payload()?;
    stream::iter(missing.iter().copied())
        .map(|obj| async move {
            let key = ctx.key(obj);
            match ctx.part_size {
                Some(part) if ctx.size > part => ctx
                    .client
                    .multipart(&key, payload, obj, part, ctx.part_concurrency)
                    .await
                    .map(|_| ()),
                _ => ctx.client.put(&key, payload, obj).await.map(|_| ()),
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
        .map_err(|e| format!("populating: {e}"))
}

/// Prints ops, rates and errors to stderr once a second.
fn spawn_progress(shared: Arc<Shared>, op: Op) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let (mut last_ops, mut last_bytes) = (0u64, 0u64);
        loop {
            tick.tick().await;
            let ops = shared.ops.load(Ordering::Relaxed);
            let bytes = shared.bytes.load(Ordering::Relaxed);
            let errors = shared.errors.load(Ordering::Relaxed);
            eprint!(
                "\r\x1b[2K[{:>4}s] {} ops {ops}  {} ops/s  {:.1} MiB/s  errors {errors}",
                start.elapsed().as_secs(),
                op.name(),
                ops - last_ops,
                (bytes - last_bytes) as f64 / (1u64 << 20) as f64,
            );
            (last_ops, last_bytes) = (ops, bytes);
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5MiB").unwrap(), 3 << 19);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size(" 4k ").unwrap(), 4096);
        assert_eq!(parse_size("8MB").unwrap(), 8 << 20);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("4XiB").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn arguments() {
        let cli = Cli::try_parse_from([
            "cairn",
            "--endpoint",
            "http://127.0.0.1:9000",
            "--access-key",
            "K",
            "--secret-key",
            "S",
            "--op",
            "multipart",
            "--size",
            "256MiB",
            "--objects",
            "3",
            "--concurrency",
            "2",
            "--part-size",
            "8MiB",
            "--part-concurrency",
            "4",
            "--duration",
            "10s",
            "--json",
        ])
        .unwrap();
        let b = cli.bench;
        assert_eq!(b.op, Op::Multipart);
        assert_eq!(b.size, 256 << 20);
        assert_eq!(b.objects, 3);
        assert_eq!(b.concurrency, 2);
        assert_eq!(b.part_size, Some(8 << 20));
        assert_eq!(b.part_concurrency, 4);
        assert_eq!(b.duration, Some(Duration::from_secs(10)));
        assert!(b.json);
        assert_eq!(b.bucket, "cairn-bench");
        assert_eq!(b.region, "us-east-1");
        assert!(Cli::try_parse_from([
            "cairn",
            "--access-key",
            "K",
            "--secret-key",
            "S",
            "--size",
            "lots"
        ])
        .is_err());
    }
}
