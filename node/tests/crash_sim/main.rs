//! Seeded crash simulation: the real node (`Node::start`, one node, R=1) over a
//! simulated disk (`storage::disk::sim`), driven through the `NodeClient` the
//! gateway uses. Each round of a seed runs a seeded workload (inline and
//! multi-chunk PUTs, overwrites, DELETEs, multipart uploads, a versioned bucket;
//! garbage collection and Raft snapshots run meanwhile, both made frequent).
//!
//! Crash points of a round:
//! - cuts: the disk takes crash images at seeded operations while the round
//!   runs (what a power loss there would leave: the durable state, plus
//!   nothing, whole unsynced changes, or single dirty 4 KiB pages of what was
//!   not fsynced). Each image gets a node of its own, checked against the
//!   model as of that operation (acknowledged before it: must be there;
//!   begun, not acknowledged: in doubt; later: never happened). Some images
//!   lose their power again while the node recovers on them, and are checked
//!   after a second restart;
//! - the round's end: the disk fails a seeded write or fsync (EIO, ENOSPC),
//!   tears a write, or loses its power mid-operation; then the power goes,
//!   the node restarts over what was durable and the run goes on from there.
//!
//! After each restart: every acknowledged write is there, byte-identical,
//! every acknowledged delete stays, an unacknowledged write is wholly there or
//! wholly absent, every chunk of a committed record is readable, and the node
//! takes a new write. Seeds run on `CAIRN_SIM_THREADS` threads.
//!
//! Replay one seed: `CAIRN_SIM_SEED=N cargo test --release -p cairn-node --test
//! crash_sim -- --nocapture`. `CAIRN_SIM_SEEDS` (seed count, from
//! `CAIRN_SIM_FIRST`, default 0), `CAIRN_SIM_ROUNDS` (rounds per seed) and
//! `CAIRN_SIM_CUTS` (crash images per round) make longer runs. Seeds fix the
//! workload, the fault plan and the cut operations; the node's threads make
//! the exact interleaving vary, so a replay hits the same kind of point, not
//! always the same operation.

mod check;
mod workload;

use cairn_node::cluster::config::ClusterConfig;
use cairn_node::records::BucketRecord;
use cairn_node::storage::disk::faults::{FaultPlan, Keep};
use cairn_node::storage::disk::sim::SimDisk;
use cairn_node::storage::disk::Disk;
use cairn_node::versioning::{BucketConfig, Versioning};
use cairn_node::{Node, NodeClient, NodeOptions};
use check::{during, place, probe, verify, Tally};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workload::{apply, model_at, next_op, Logged, Mark, Model, PLAIN, VERSIONED};

const DATA: &str = "/sim/node1";

/// Operations some cuts are aimed at (by their description's text).
const TARGETS: &[&str] = &[
    "unlink /sim/node1/chunks/",
    "unlink /sim/node1/chunks/",
    "/sim/node1/snapshots/",
    "rename /sim/node1/snapshots/",
    "catalog.redb",
    "fsync /sim/node1/raft.wal",
];

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn cfg() -> ClusterConfig {
    let mut cfg = ClusterConfig::single_node(DATA.into());
    // One in-process node: short timers (a lone voter elects itself at once).
    cfg.raft.heartbeat_ms = 20;
    cfg.raft.election_min_ms = 60;
    cfg.raft.election_max_ms = 120;
    // Snapshots (and log purges behind them) every few entries.
    cfg.raft.snapshot_logs = 12;
    cfg.raft.keep_logs = 3;
    cfg
}

fn opts(disk: &Arc<SimDisk>) -> NodeOptions {
    NodeOptions {
        gc_grace: Duration::ZERO,
        gc_interval: Duration::from_millis(20),
        min_free: Some(0),
        drop_reply_keys: Vec::new(),
        lifecycle_interval: Duration::from_secs(3600),
        lifecycle_clock_offset_ms: 0,
        disk: Disk::Sim(disk.clone()),
        db_caches: Default::default(),
    }
}

struct Running {
    rt: tokio::runtime::Runtime,
    client: NodeClient,
}

impl Running {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// Starts a node over `disk`; gives up soon once the disk's power is gone.
fn start(disk: &Arc<SimDisk>) -> Result<Running, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let started = rt.block_on(async {
        let up = async {
            let node = Node::start(cfg(), 1, opts(disk)).await?;
            node.wait_for_catalog_leader(Duration::from_secs(20))
                .await?;
            Ok::<_, cairn_node::Error>(node)
        };
        let gone = async {
            while !disk.is_dead() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            node = tokio::time::timeout(Duration::from_secs(30), up) => match node {
                Ok(Ok(node)) => Ok(NodeClient::local(node)),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("start timed out".to_string()),
            },
            () = gone => Err("the disk lost its power".to_string()),
        }
    });
    match started {
        Ok(client) => Ok(Running { rt, client }),
        Err(e) => {
            rt.shutdown_background();
            Err(e)
        }
    }
}

/// Kills the node: every task of its runtime is dropped (blocking ones left
/// to fail on their own disk).
fn kill(run: Running) {
    let Running { rt, client } = run;
    drop(client);
    rt.shutdown_background();
}

fn keep(rng: &mut StdRng) -> Keep {
    match rng.gen_range(0..3) {
        0 => Keep::Durable,
        1 => Keep::Changes(rng.gen()),
        _ => Keep::Pages(rng.gen()),
    }
}

fn keep_name(keep: Keep) -> &'static str {
    match keep {
        Keep::Durable => "durable",
        Keep::Changes(_) => "changes",
        Keep::Pages(_) => "pages",
    }
}

/// What a round's end injects, and its name; `est` is the (operations,
/// writes, syncs) a round takes.
fn plan(rng: &mut StdRng, disk: &SimDisk, est: (u64, u64, u64)) -> (FaultPlan, &'static str) {
    let c = disk.counters();
    let (errno, name) = if rng.gen_bool(0.5) {
        (libc::EIO, "eio-write")
    } else {
        (libc::ENOSPC, "enospc-write")
    };
    let plan = FaultPlan::default();
    match rng.gen_range(0..10) {
        0..=1 => (
            FaultPlan {
                power_loss_at: Some(c.ops + rng.gen_range(0..est.0.max(1))),
                ..plan
            },
            "power-loss-mid-op",
        ),
        2..=4 => (
            FaultPlan {
                fail_write: Some((c.writes + rng.gen_range(0..est.1.max(1)), errno)),
                ..plan
            },
            name,
        ),
        5..=6 => (
            FaultPlan {
                fail_sync: Some((c.syncs + rng.gen_range(0..est.2.max(1)), libc::EIO)),
                ..plan
            },
            "eio-fsync",
        ),
        7..=8 => (
            FaultPlan {
                tear_write: Some((
                    c.writes + rng.gen_range(0..est.1.max(1)),
                    rng.gen_range(0..8192),
                )),
                ..plan
            },
            "torn-write",
        ),
        _ => (plan, "at-rest"),
    }
}

/// Checks a restarted node against `model`, then that it takes a new write.
fn check(run: &Running, model: &mut Model) -> Result<(), String> {
    let checked = run.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async {
            verify(&run.client, model).await?;
            probe(&run.client, model, "probe").await
        })
        .await
    });
    checked.unwrap_or_else(|_| Err("checking timed out".into()))
}

#[derive(Default)]
struct Stats {
    tally: Tally,
    acked: u64,
    failed: u64,
    disk_ops: u64,
}

struct Seed {
    rng: StdRng,
    /// Disk operations of one node start (where recovery cuts are placed).
    start_ops: u64,
    stats: Stats,
}

/// A crash image taken mid-round: start a node on it (now and then cutting
/// the power again while it recovers), check it against the model of then.
fn check_cut(
    s: &mut Seed,
    cap: cairn_node::storage::disk::sim::Capture,
    base: &Model,
    log: &[Logged],
) -> Result<(), String> {
    let mut model = model_at(base, log, cap.op);
    let what = format!(
        "cut before disk operation {} ({}, image keeps {:?})",
        cap.op, cap.what, cap.keep
    );
    let mut image = cap.image;
    let mut kind = format!("cut-{}", keep_name(cap.keep));
    if s.rng.gen_range(0..6) == 0 {
        let at = s.rng.gen_range(0..s.start_ops.max(1));
        image.set_plan(FaultPlan {
            power_loss_at: Some(at),
            ..FaultPlan::default()
        });
        if let Ok(run) = start(&image) {
            kill(run);
        }
        image.power_off();
        let again = keep(&mut s.rng);
        image = image.crash_image(again);
        kind = "cut-in-recovery".into();
    }
    let run = start(&image).map_err(|e| format!("{what}: the node does not start again: {e}"))?;
    let out = check(&run, &mut model).map_err(|e| format!("{what} [{kind}]: {e}"));
    kill(run);
    out?;
    s.stats
        .tally
        .add(&kind, Some(place(&cap.what)), during(log, cap.op));
    Ok(())
}

fn setup(run: &Running) -> Result<(), String> {
    run.block_on(async {
        let rec = BucketRecord {
            created_ms: cairn_node::now_ms(),
            location: "us-east-1".into(),
            ..BucketRecord::default()
        };
        run.client.create_bucket(PLAIN.into(), rec.clone()).await?;
        let config = BucketConfig {
            versioning: Versioning::Enabled,
            ..BucketConfig::default()
        };
        run.client
            .create_bucket_with(VERSIONED.into(), rec, config)
            .await
    })
    .map_err(|e| format!("setup: {e}"))
}

fn run_seed(seed: u64, rounds: u64, cuts: u64) -> Result<Stats, String> {
    let mut s = Seed {
        rng: StdRng::seed_from_u64(seed),
        start_ops: 200,
        stats: Stats::default(),
    };
    let mut disk = SimDisk::new(1 << 30);
    let mut run = start(&disk).map_err(|e| format!("first start: {e}"))?;
    setup(&run)?;
    let mut model = Model::default();
    // Disk operations, writes and syncs a round takes (measured as it goes).
    let mut est = (150u64, 30u64, 10u64);
    for round in 0..rounds {
        let base = model.clone();
        // Time goes by between rounds: the chunks earlier rounds left behind
        // are past GC's grace period (and its 1 s of slack) now.
        disk.age(Duration::from_secs(5));
        let before = disk.counters();
        let injected_before = disk.injected().len();
        let (plan, kind) = plan(&mut s.rng, &disk, est);
        disk.set_plan(plan);
        // Most cuts at seeded operations of the round, some at the Nth
        // operation of a kind (GC deleting a chunk, a snapshot being built
        // or switched, the catalog database, the WAL's fsync).
        for _ in 0..cuts {
            let k = keep(&mut s.rng);
            if s.rng.gen_bool(0.6) {
                disk.capture_at([(before.ops + s.rng.gen_range(0..est.0), k)]);
            } else {
                let pattern = TARGETS[s.rng.gen_range(0..TARGETS.len())];
                // A GC pass deletes few chunks: aim at its first deletion.
                let skip = if pattern.starts_with("unlink") {
                    0
                } else {
                    s.rng.gen_range(0..2)
                };
                disk.capture_on(pattern, skip, k);
            }
        }
        let rng_cell = std::cell::RefCell::new(&mut s.rng);
        let mut log = Vec::new();
        let mut failures_in_a_row = 0;
        let n_ops = rng_cell.borrow_mut().gen_range(6..14);
        for _ in 0..n_ops {
            let op = next_op(&mut rng_cell.borrow_mut());
            // A multipart completion: cut inside it now and then.
            let completing = || {
                let mut rng = rng_cell.borrow_mut();
                let at = disk.counters().ops + rng.gen_range(0..8);
                disk.capture_at([(at, keep(&mut rng))]);
            };
            let mark = Mark {
                ops: &|| disk.counters().ops,
                dead: &|| disk.is_dead(),
                completing: &completing,
                complete_at: std::cell::Cell::new(None),
            };
            let done = run.block_on(apply(&run.client, &mut model, &op, mark));
            failures_in_a_row = if done.acked { 0 } else { failures_in_a_row + 1 };
            log.push(done);
            // Once the fault fired, one failed write ends the round (a write
            // into a stopped group waits out its timeout).
            let fired = disk.injected().len() > injected_before;
            if disk.is_dead() || failures_in_a_row >= 2 || (fired && failures_in_a_row > 0) {
                break;
            }
        }
        let after = disk.counters();
        let caps = disk.take_captures();
        if std::env::var("CAIRN_SIM_TRACE").is_ok() {
            let whats: Vec<_> = caps.iter().map(|c| c.what.as_str()).collect();
            eprintln!(
                "seed {seed} round {round}: {} ops, cut at {whats:?}",
                log.len()
            );
        }
        let injected = disk.injected();
        let fired = injected.len() > injected_before;
        if !fired || log.len() >= 4 {
            est = (
                (after.ops - before.ops).max(20),
                (after.writes - before.writes).max(5),
                (after.syncs - before.syncs).max(2),
            );
        }
        s.stats.disk_ops += after.ops - before.ops;
        s.stats.acked += log.iter().filter(|l| l.acked).count() as u64;
        s.stats.failed += log.iter().filter(|l| !l.acked).count() as u64;
        // The round's end: the power goes; restart over what was durable.
        disk.power_off();
        let end_keep = keep(&mut s.rng);
        let image = disk.crash_image(end_keep);
        let what = format!(
            "round {round} ({}; image keeps {end_keep:?})",
            injected[injected_before..].join(", ")
        );
        kill(run);
        disk = image;
        let restart_at = disk.counters().ops;
        run = start(&disk).map_err(|e| format!("{what}: the node does not start again: {e}"))?;
        s.start_ops = disk.counters().ops - restart_at;
        check(&run, &mut model).map_err(|e| format!("{what}: {e}"))?;
        let kind = if fired { kind } else { "at-rest" };
        s.stats.tally.add(kind, None, "round-end");
        for cap in caps {
            check_cut(&mut s, cap, &base, &log).map_err(|e| format!("round {round}: {e}"))?;
        }
    }
    kill(run);
    Ok(s.stats)
}

#[test]
fn seeded_crash_points_keep_every_acknowledged_write() {
    let rounds = env("CAIRN_SIM_ROUNDS").unwrap_or(8);
    let cuts = env("CAIRN_SIM_CUTS").unwrap_or(10);
    let seeds: Vec<u64> = match env("CAIRN_SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let first = env("CAIRN_SIM_FIRST").unwrap_or(0);
            (first..first + env("CAIRN_SIM_SEEDS").unwrap_or(20)).collect()
        }
    };
    let threads = env("CAIRN_SIM_THREADS").unwrap_or(3).max(1) as usize;
    let t = Instant::now();
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Stats::default());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(seeds.len()) {
            scope.spawn(|| {
                while let Some(seed) = seeds.get(next.fetch_add(1, Ordering::SeqCst)) {
                    match run_seed(*seed, rounds, cuts) {
                        Ok(st) => {
                            let mut total = total.lock().unwrap_or_else(|p| p.into_inner());
                            total.tally.merge(st.tally);
                            total.acked += st.acked;
                            total.failed += st.failed;
                            total.disk_ops += st.disk_ops;
                        }
                        Err(e) => {
                            eprintln!(
                                "crash simulation: seed {seed} FAILED: {e}\n  replay: \
                                 CAIRN_SIM_SEED={seed} CAIRN_SIM_ROUNDS={rounds} \
                                 CAIRN_SIM_CUTS={cuts} cargo test --release -p cairn-node \
                                 --test crash_sim -- --nocapture"
                            );
                            failed.lock().unwrap_or_else(|p| p.into_inner()).push(*seed);
                        }
                    }
                }
            });
        }
    });
    let total = total.into_inner().unwrap_or_else(|p| p.into_inner());
    let failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    let secs = t.elapsed().as_secs_f64();
    println!(
        "crash_sim: {} points, {} seeds, kinds: {}, {secs:.1} s",
        total.tally.points,
        seeds.len(),
        total.tally.kinds()
    );
    println!(
        "crash_sim: cuts at: {}; during: {}; {} operations acknowledged, {} failed, {} disk \
         operations ({rounds} rounds x {cuts} cuts per seed, {threads} threads)",
        total.tally.places(),
        total.tally.during(),
        total.acked,
        total.failed,
        total.disk_ops
    );
    assert!(failed.is_empty(), "seeds that failed: {failed:?}");
}
