//! A continuous S3 workload for cluster tests: workers PUT random objects and read
//! each back, optionally DELETE earlier ones (a GET must then say `NoSuchKey`), and
//! record every acknowledged object, every acknowledged deletion and every
//! client-visible error.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

use crate::{body, describe, err_code, etag_of, get_bytes, list_keys, payload};

/// What the workers do.
#[derive(Clone, Debug)]
pub struct WorkloadOpts {
    pub bucket: String,
    /// Object sizes in bytes, uniformly distributed.
    pub sizes: RangeInclusive<usize>,
    /// After each PUT, DELETE one of the worker's earlier objects with probability
    /// 1/n; `None`: never delete.
    pub delete_one_in: Option<u32>,
    /// Pause between a worker's iterations (paces the load); zero: none.
    pub pause: Duration,
    /// Worker `w` seeds its RNG with `seed | w`.
    pub seed: u64,
}

impl WorkloadOpts {
    /// PUT + GET of 1–9 MiB objects, no deletes, no pause.
    pub fn new(bucket: &str) -> Self {
        WorkloadOpts {
            bucket: bucket.to_string(),
            sizes: crate::MIB..=9 * crate::MIB,
            delete_one_in: None,
            pause: Duration::ZERO,
            seed: 0xC1 << 8,
        }
    }
    pub fn sizes(mut self, sizes: RangeInclusive<usize>) -> Self {
        self.sizes = sizes;
        self
    }
    pub fn delete_one_in(mut self, n: u32) -> Self {
        self.delete_one_in = Some(n);
        self
    }
    pub fn pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
}

/// An acknowledged PUT: its bytes are `payload(seed, len)`.
#[derive(Clone, Debug)]
pub struct Acked {
    pub key: String,
    pub seed: u64,
    pub len: usize,
}

impl Acked {
    pub fn data(&self) -> Vec<u8> {
        payload(self.seed, self.len)
    }
}

#[derive(Default)]
struct Record {
    acked: Vec<Acked>,
    /// Keys whose DELETE was acknowledged.
    deleted: BTreeSet<String>,
    /// Keys whose PUT or DELETE failed: they may or may not exist.
    uncertain: BTreeSet<String>,
    errors: Vec<String>,
}

struct Shared {
    opts: WorkloadOpts,
    start: Instant,
    stop: AtomicBool,
    record: Mutex<Record>,
}

impl Shared {
    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn error(&self, msg: String) {
        self.record().errors.push(msg);
    }

    fn uncertain(&self, key: &str, msg: String) {
        let mut r = self.record();
        r.uncertain.insert(key.to_string());
        r.errors.push(msg);
    }
}

/// A running workload; [`Workload::stop`] ends it.
pub struct Workload {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workload {
    /// A workload with no workers yet (see [`Workload::preload`], [`Workload::spawn`]).
    pub fn new(opts: WorkloadOpts) -> Self {
        Workload {
            shared: Arc::new(Shared {
                opts,
                start: Instant::now(),
                stop: AtomicBool::new(false),
                record: Mutex::default(),
            }),
            tasks: Vec::new(),
        }
    }

    /// PUT `count` objects `pre/I` of random sizes in `sizes` one after the other;
    /// panics on a failure. They count as acknowledged objects of the workload.
    pub async fn preload(&self, c: &Client, count: u64, sizes: RangeInclusive<usize>) {
        let opts = &self.shared.opts;
        let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x9E37_79B9);
        for i in 0..count {
            let a = Acked {
                key: format!("pre/{i}"),
                seed: (0xFFFF << 32) | i,
                len: rng.gen_range(sizes.clone()),
            };
            crate::put(c, &opts.bucket, &a.key, a.data()).await;
            self.shared.record().acked.push(a);
        }
    }

    /// Start one worker per client.
    pub fn spawn(&mut self, clients: impl IntoIterator<Item = Client>) {
        for c in clients {
            let w = self.tasks.len() as u64;
            self.tasks
                .push(tokio::spawn(worker(c, w, self.shared.clone())));
        }
    }

    /// Time since [`Workload::new`].
    pub fn elapsed(&self) -> Duration {
        self.shared.start.elapsed()
    }

    /// Tell the workers to stop and wait for them to finish their iteration.
    pub async fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.tasks.drain(..) {
            t.await.expect("workload worker panicked");
        }
    }

    /// Number of acknowledged PUTs so far.
    pub fn acked_count(&self) -> usize {
        self.shared.record().acked.len()
    }

    /// Every acknowledged PUT so far, in order.
    pub fn acked(&self) -> Vec<Acked> {
        self.shared.record().acked.clone()
    }

    /// Acknowledged objects that were not deleted and whose state is certain.
    pub fn live(&self) -> Vec<Acked> {
        let r = self.shared.record();
        r.acked
            .iter()
            .filter(|a| !r.deleted.contains(&a.key) && !r.uncertain.contains(&a.key))
            .cloned()
            .collect()
    }

    /// Number of acknowledged deletions so far.
    pub fn deleted_count(&self) -> usize {
        self.shared.record().deleted.len()
    }

    /// Every client-visible error so far, each with the time since the start.
    pub fn errors(&self) -> Vec<String> {
        self.shared.record().errors.clone()
    }

    /// Every live object reads back byte-identical, and the bucket lists exactly the
    /// live objects (plus any whose PUT or DELETE failed); panics otherwise.
    pub async fn check_readback(&self, c: &Client) {
        let bucket = &self.shared.opts.bucket;
        let live = self.live();
        for a in &live {
            assert!(
                get_bytes(c, bucket, &a.key).await == a.data(),
                "{} ({} B) reads back different bytes",
                a.key,
                a.len
            );
        }
        let uncertain = self.shared.record().uncertain.clone();
        let mut want: Vec<String> = live.into_iter().map(|a| a.key).collect();
        want.sort();
        let listed: Vec<String> = list_keys(c, bucket)
            .await
            .into_iter()
            .filter(|k| !uncertain.contains(k))
            .collect();
        assert_eq!(listed, want, "listing of {bucket} after the workload");
    }
}

/// PUT random objects and read each back (then maybe DELETE an earlier one) until
/// told to stop.
async fn worker(c: Client, w: u64, load: Arc<Shared>) {
    let opts = &load.opts;
    let bucket = opts.bucket.as_str();
    let mut rng = StdRng::seed_from_u64(opts.seed | w);
    // This worker's live keys, the candidates for deletion.
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0u64;
    while !load.stop.load(Ordering::SeqCst) {
        if n > 0 && !opts.pause.is_zero() {
            tokio::time::sleep(opts.pause).await;
        }
        let len = rng.gen_range(opts.sizes.clone());
        let seed = (w << 32) | n;
        let key = format!("w{w}/{n}");
        n += 1;
        let data = Bytes::from(payload(seed, len));
        let t = load.secs();
        match c
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(body(data.clone()))
            .send()
            .await
        {
            Ok(r) if r.e_tag() == Some(etag_of(&data).as_str()) => {}
            Ok(r) => {
                load.uncertain(
                    &key,
                    format!(
                        "{t:.1}s PUT {key}: etag {:?} != {}",
                        r.e_tag(),
                        etag_of(&data)
                    ),
                );
                continue;
            }
            Err(e) => {
                let took = load.secs() - t;
                load.uncertain(
                    &key,
                    format!(
                        "{t:.1}s (+{took:.1}s) PUT {key} ({len} B): {}",
                        describe(&e)
                    ),
                );
                continue;
            }
        }
        load.record().acked.push(Acked {
            key: key.clone(),
            seed,
            len,
        });
        mine.push(key.clone());
        get_and_compare(&c, &load, &key, &data).await;

        let Some(one_in) = opts.delete_one_in else {
            continue;
        };
        // An earlier object, not the one just written.
        if mine.len() < 2 || rng.gen_range(0..one_in) != 0 {
            continue;
        }
        let victim = mine.swap_remove(rng.gen_range(0..mine.len() - 1));
        delete_and_check(&c, &load, &victim).await;
    }
}

async fn get_and_compare(c: &Client, load: &Shared, key: &str, data: &Bytes) {
    let t = load.secs();
    match c
        .get_object()
        .bucket(&load.opts.bucket)
        .key(key)
        .send()
        .await
    {
        Ok(resp) => match resp.body.collect().await {
            Ok(b) => {
                let got = b.into_bytes();
                if got != *data {
                    load.error(format!(
                        "{t:.1}s GET {key}: {} bytes differ from the {} written",
                        got.len(),
                        data.len()
                    ));
                }
            }
            Err(e) => load.error(format!("{t:.1}s GET {key} body: {e}")),
        },
        Err(e) => load.error(format!("{t:.1}s GET {key}: {}", describe(&e))),
    }
}

async fn delete_and_check(c: &Client, load: &Shared, key: &str) {
    let bucket = &load.opts.bucket;
    let t = load.secs();
    if let Err(e) = c.delete_object().bucket(bucket).key(key).send().await {
        load.uncertain(key, format!("{t:.1}s DELETE {key}: {}", describe(&e)));
        return;
    }
    load.record().deleted.insert(key.to_string());
    let t = load.secs();
    match c.get_object().bucket(bucket).key(key).send().await {
        Err(e) if err_code(&e) == "NoSuchKey" => {}
        Err(e) => load.error(format!(
            "{t:.1}s GET {key} after DELETE: {} (expected NoSuchKey)",
            describe(&e)
        )),
        Ok(_) => load.error(format!(
            "{t:.1}s GET {key} after an acknowledged DELETE returned the object"
        )),
    }
}
