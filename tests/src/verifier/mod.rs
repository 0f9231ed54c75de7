//! The verifying client of the fault suite: a few workers run random GET, PUT,
//! DELETE and conditional PUT (`If-None-Match: *`, `If-Match: ETAG`) requests on a
//! small set of keys through the gateway, each write with a value never used
//! before, and record every operation's invocation and completion time and result
//! in a history for [`crate::linearizability`]. Every body read is checked
//! byte for byte against the write it names. [`Verifier::finish`] reads every key
//! back and judges the run (see [`summary`]).

pub mod summary;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

use crate::linearizability::{Action, Expect, Op, ValueId};
use crate::{err_code, err_status, etag_of, payload, s3_config_builder, ACCESS_KEY, SECRET_KEY};

pub use summary::Summary;

/// What the workers do.
#[derive(Clone, Debug)]
pub struct VerifyOpts {
    pub bucket: String,
    /// Keys `k0..kN`, shared by all workers.
    pub keys: usize,
    pub workers: usize,
    /// Objects are small (inline, up to 60 KB) or `large` bytes (chunked), half each.
    pub large: std::ops::RangeInclusive<usize>,
    /// A request (with its body) that takes longer fails with an unknown outcome.
    pub op_timeout: Duration,
    /// Pause between a worker's requests.
    pub pause: Duration,
    pub seed: u64,
}

impl VerifyOpts {
    pub fn new(bucket: &str) -> Self {
        VerifyOpts {
            bucket: bucket.to_string(),
            keys: 8,
            workers: 4,
            large: 100 * 1024..=600 * 1024,
            op_timeout: Duration::from_secs(6),
            pause: Duration::from_millis(20),
            seed: 0xFA17,
        }
    }
}

/// Magic at the start of every value: `CFLT`, then the value id and the length
/// (little endian), then `payload(id, len - 20)`.
const MAGIC: &[u8; 4] = b"CFLT";
const HEADER: usize = 20;

/// The bytes of value `id` with total length `len` (at least [`HEADER`]).
pub fn value_bytes(id: ValueId, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&(len as u64).to_le_bytes());
    v.extend_from_slice(&payload(id, len.saturating_sub(HEADER)));
    v
}

/// Counts of one run.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub attempted: u64,
    /// Definite answers: 2xx, a GET's 404 NoSuchKey, a conditional PUT's 412 (or
    /// an `If-Match` PUT's 404 NoSuchKey).
    pub acknowledged: u64,
    /// Errors and timeouts (writes among them have an unknown outcome).
    pub failed: u64,
    /// Acknowledged PUTs, conditional PUTs and DELETEs.
    pub acked_writes: u64,
}

pub(crate) struct Shared {
    pub(crate) opts: VerifyOpts,
    start: Instant,
    stop: AtomicBool,
    next_value: AtomicU64,
    /// Length of every value a PUT was sent with.
    pub(crate) written: Mutex<HashMap<ValueId, usize>>,
    pub(crate) history: Mutex<Vec<Op>>,
    pub(crate) counts: Mutex<Counts>,
    /// Completion times of acknowledged writes (ns since the start).
    pub(crate) write_acks: Mutex<Vec<u64>>,
    /// Reads that returned bytes no write sent: always a failure.
    pub(crate) bad_reads: Mutex<Vec<String>>,
    /// The first errors, for the report (bounded).
    pub(crate) errors: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn error(&self, what: String) {
        lock(&self.counts).failed += 1;
        let mut e = lock(&self.errors);
        if e.len() < 40 {
            e.push(format!("{:.2}s {what}", self.now() as f64 / 1e9));
        }
    }

    fn record(&self, op: Op) {
        let mut c = lock(&self.counts);
        if op.ret.is_some() {
            c.acknowledged += 1;
        }
        let write_done = match op.action {
            Action::Write(_) => op.ret,
            Action::Cas {
                applied: Some(true),
                ..
            } => op.ret,
            _ => None,
        };
        if let Some(t) = write_done {
            c.acked_writes += 1;
            lock(&self.write_acks).push(t);
        }
        drop(c);
        lock(&self.history).push(op);
    }

    /// The value a read body names, checked byte for byte.
    fn decode(&self, key: &str, body: &[u8]) -> Option<ValueId> {
        let bad = |why: String| {
            lock(&self.bad_reads).push(format!("GET {key}: {why}"));
            None
        };
        if body.len() < HEADER || &body[..4] != MAGIC {
            return bad(format!(
                "{} bytes that no write sent (no header)",
                body.len()
            ));
        }
        let id = u64::from_le_bytes(body[4..12].try_into().unwrap_or_default());
        let Some(&len) = lock(&self.written).get(&id) else {
            return bad(format!("value {id:#x}, which was never written"));
        };
        if body.len() != len || body != value_bytes(id, len).as_slice() {
            return bad(format!(
                "value {id:#x}: {} bytes that differ from the {len} written",
                body.len()
            ));
        }
        Some(id)
    }
}

/// A client for the verifier: no retries (one result per request), short timeouts.
pub fn client(endpoint: &str, op_timeout: Duration) -> Client {
    let conf = s3_config_builder(endpoint, ACCESS_KEY, SECRET_KEY)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(op_timeout)
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// A running verifying workload.
pub struct Verifier {
    pub(crate) shared: Arc<Shared>,
    endpoint: String,
    tasks: Vec<JoinHandle<()>>,
    /// When the workers started and stopped (ns since the start).
    pub(crate) load: (u64, u64),
}

impl Verifier {
    /// Start `opts.workers` workers against `endpoint` (the bucket must exist).
    pub fn start(endpoint: &str, opts: VerifyOpts) -> Verifier {
        let shared = Arc::new(Shared {
            opts,
            start: Instant::now(),
            stop: AtomicBool::new(false),
            next_value: AtomicU64::new(1),
            written: Mutex::default(),
            history: Mutex::default(),
            counts: Mutex::default(),
            write_acks: Mutex::default(),
            bad_reads: Mutex::default(),
            errors: Mutex::default(),
        });
        let tasks = (0..shared.opts.workers)
            .map(|w| {
                let c = client(endpoint, shared.opts.op_timeout);
                tokio::spawn(worker(c, w, shared.clone()))
            })
            .collect();
        let load = (shared.now(), 0);
        Verifier {
            shared,
            endpoint: endpoint.to_string(),
            tasks,
            load,
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.shared.start.elapsed()
    }

    pub fn counts(&self) -> Counts {
        lock(&self.shared.counts).clone()
    }

    /// Acknowledged writes so far.
    pub fn acked_writes(&self) -> u64 {
        self.counts().acked_writes
    }

    /// Wait until `n` more writes have been acknowledged (panics after `limit`):
    /// the cluster takes writes again.
    pub async fn wait_writes(&self, n: u64, limit: Duration, what: &str) -> Duration {
        let start = Instant::now();
        let target = self.acked_writes() + n;
        while self.acked_writes() < target {
            assert!(
                start.elapsed() < limit,
                "{what}: fewer than {n} writes acknowledged within {limit:?}; errors: {:#?}",
                lock(&self.shared.errors)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        start.elapsed()
    }

    /// Stop the workers (they finish the request they are in).
    pub async fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.tasks.drain(..) {
            t.await.expect("verifier worker panicked");
        }
        self.load.1 = self.shared.now();
    }
}

/// Random operations until told to stop.
async fn worker(c: Client, w: usize, load: Arc<Shared>) {
    let opts = load.opts.clone();
    let mut rng = StdRng::seed_from_u64(opts.seed ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // The last value and ETag this worker read of each key (for If-Match).
    let mut seen: HashMap<String, (ValueId, String)> = HashMap::new();
    while !load.stop.load(Ordering::SeqCst) {
        let key = format!("k{}", rng.gen_range(0..opts.keys));
        let dice: u32 = rng.gen_range(0..100);
        if dice < 40 {
            match read(&c, &load, w, &key).await {
                Ok(Some(seen_now)) => seen.insert(key, seen_now),
                _ => seen.remove(&key),
            };
        } else if dice < 90 {
            let id = load.next_value.fetch_add(1, Ordering::SeqCst);
            let len = if rng.gen_bool(0.5) {
                rng.gen_range(HEADER..=60_000)
            } else {
                rng.gen_range(opts.large.clone())
            };
            lock(&load.written).insert(id, len);
            let data = Bytes::from(value_bytes(id, len));
            let (expect, etag) = match (dice, seen.get(&key)) {
                (0..=69, _) | (80.., None) => (None, None),
                (70..=79, _) => (Some(Expect::Absent), None),
                (_, Some((v, e))) => (Some(Expect::Value(*v)), Some(e.clone())),
            };
            write(&c, &load, w, &key, id, data, expect, etag).await;
        } else {
            delete(&c, &load, w, &key).await;
        }
        if !opts.pause.is_zero() {
            tokio::time::sleep(opts.pause).await;
        }
    }
}

/// A short description of an SDK error.
fn short<E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> String {
    match err_status(e) {
        0 => {
            let s = format!("{e:?}");
            s.chars().take(160).collect()
        }
        status => format!("{status} {}", err_code(e)),
    }
}

/// GET `key`, recorded; the value and its ETag if the key holds one, `Err` if the
/// GET failed (or returned bytes no write sent).
pub(crate) async fn read(
    c: &Client,
    load: &Shared,
    w: usize,
    key: &str,
) -> Result<Option<(ValueId, String)>, ()> {
    lock(&load.counts).attempted += 1;
    let call = load.now();
    let bucket = &load.opts.bucket;
    let res = tokio::time::timeout(load.opts.op_timeout, async {
        match c.get_object().bucket(bucket).key(key).send().await {
            Ok(r) => {
                let etag = r.e_tag().unwrap_or_default().to_string();
                match r.body.collect().await {
                    Ok(b) => Ok(Some((b.into_bytes(), etag))),
                    Err(e) => Err(format!("body: {e}")),
                }
            }
            Err(e) if err_code(&e) == "NoSuchKey" => Ok(None),
            Err(e) => Err(short(&e)),
        }
    })
    .await;
    let ret = load.now();
    let got = match res {
        Err(_) => {
            load.error(format!("GET {key}: timed out"));
            return Err(());
        }
        Ok(Err(e)) => {
            load.error(format!("GET {key}: {e}"));
            return Err(());
        }
        Ok(Ok(got)) => got,
    };
    let (value, etag) = match got {
        Some((body, etag)) => match load.decode(key, &body) {
            Some(id) => (Some(id), etag),
            // A bad body is recorded in bad_reads and fails the run.
            None => return Err(()),
        },
        None => (None, String::new()),
    };
    load.record(Op {
        key: key.to_string(),
        client: w,
        call,
        ret: Some(ret),
        action: Action::Read(value),
    });
    Ok(value.map(|v| (v, etag)))
}

/// PUT (or conditional PUT) of value `id`, recorded.
#[allow(clippy::too_many_arguments)]
async fn write(
    c: &Client,
    load: &Shared,
    w: usize,
    key: &str,
    id: ValueId,
    data: Bytes,
    expect: Option<Expect>,
    etag: Option<String>,
) {
    lock(&load.counts).attempted += 1;
    let want = etag_of(&data);
    let mut req = c
        .put_object()
        .bucket(&load.opts.bucket)
        .key(key)
        .body(crate::body(data));
    match (expect, &etag) {
        (Some(Expect::Absent), _) => req = req.if_none_match("*"),
        (Some(Expect::Value(_)), Some(e)) => req = req.if_match(e),
        _ => {}
    }
    let call = load.now();
    let res = tokio::time::timeout(load.opts.op_timeout, req.send()).await;
    let ret = load.now();
    let outcome: Result<(), Option<String>> = match res {
        Err(_) => Err(Some("timed out".into())),
        Ok(Ok(r)) if r.e_tag() == Some(want.as_str()) => Ok(()),
        Ok(Ok(r)) => {
            lock(&load.bad_reads).push(format!(
                "PUT {key} {id:#x}: ETag {:?}, not {want}",
                r.e_tag()
            ));
            Err(Some("wrong ETag".into()))
        }
        Ok(Err(e)) if expect.is_some() && err_status(&e) == 412 => Err(None),
        // If-Match on a key that holds nothing: refused, as S3 does (404).
        Ok(Err(e)) if matches!(expect, Some(Expect::Value(_))) && err_code(&e) == "NoSuchKey" => {
            Err(None)
        }
        Ok(Err(e)) => Err(Some(short(&e))),
    };
    let (ret, action) = match (expect, outcome) {
        (None, Ok(())) => (Some(ret), Action::Write(Some(id))),
        (None, Err(e)) => {
            load.error(format!("PUT {key}: {}", e.unwrap_or_default()));
            (None, Action::Write(Some(id)))
        }
        (Some(expect), res) => {
            let applied = match res {
                Ok(()) => Some(true),
                Err(None) => Some(false),
                Err(Some(e)) => {
                    load.error(format!("conditional PUT {key}: {e}"));
                    None
                }
            };
            let action = Action::Cas {
                expect,
                new: id,
                applied,
            };
            (applied.map(|_| ret), action)
        }
    };
    load.record(Op {
        key: key.to_string(),
        client: w,
        call,
        ret,
        action,
    });
}

/// DELETE `key`, recorded.
async fn delete(c: &Client, load: &Shared, w: usize, key: &str) {
    lock(&load.counts).attempted += 1;
    let call = load.now();
    let req = c.delete_object().bucket(&load.opts.bucket).key(key);
    let res = tokio::time::timeout(load.opts.op_timeout, req.send()).await;
    let ret = load.now();
    let ret = match res {
        Ok(Ok(_)) => Some(ret),
        Ok(Err(e)) => {
            load.error(format!("DELETE {key}: {}", short(&e)));
            None
        }
        Err(_) => {
            load.error(format!("DELETE {key}: timed out"));
            None
        }
    };
    load.record(Op {
        key: key.to_string(),
        client: w,
        call,
        ret,
        action: Action::Write(None),
    });
}
