//! Seeded crash simulation: the real node (`Node::start`, one node, R=1) over a
//! simulated disk (`storage::disk::sim`), driven through the `NodeClient` the
//! gateway uses. Each round runs a seeded workload (inline and multi-chunk PUTs,
//! overwrites, DELETEs, multipart uploads, a versioned bucket; garbage collection
//! and Raft snapshots run meanwhile, both made frequent) while the disk cuts the
//! power at a seeded operation, or fails a write or fsync (EIO, ENOSPC) or tears
//! a write and the power goes later. Then the runtime is dropped (every task of
//! the node dies), a node starts over the disk's `durable_image` (sometimes with
//! a seeded part of the unsynced writes kept), and the checks run: every
//! acknowledged write is there, byte-identical, every acknowledged delete stays,
//! an unacknowledged write is wholly there or wholly absent, every chunk of a
//! committed record is readable, and the node takes the next round's writes.
//!
//! Replay one seed: `CAIRN_SIM_SEED=N cargo test --release -p cairn-node --test
//! crash_sim -- --nocapture`. `CAIRN_SIM_SEEDS` (seed count, from
//! `CAIRN_SIM_FIRST`, default 0) and `CAIRN_SIM_ROUNDS` (crash points per seed)
//! make longer runs. Seeds fix the workload and the fault plan; the node's
//! threads make the exact interleaving vary, so a replay hits the same kind of
//! point, not always the same operation.

mod workload;

use cairn_node::cluster::config::ClusterConfig;
use cairn_node::records::BucketRecord;
use cairn_node::storage::disk::faults::FaultPlan;
use cairn_node::storage::disk::sim::SimDisk;
use cairn_node::storage::disk::Disk;
use cairn_node::versioning::{BucketConfig, Versioning};
use cairn_node::{Node, NodeClient, NodeOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{apply, next_op, read, read_record, Model, Val, PLAIN, VERSIONED};

const DATA: &str = "/sim/node1";

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn cfg() -> ClusterConfig {
    let mut cfg = ClusterConfig::single_node(DATA.into());
    cfg.raft.heartbeat_ms = 50;
    cfg.raft.election_min_ms = 150;
    cfg.raft.election_max_ms = 300;
    // Snapshots (and log purges behind them) every few entries.
    cfg.raft.snapshot_logs = 12;
    cfg.raft.keep_logs = 3;
    cfg
}

fn opts(disk: &Arc<SimDisk>) -> NodeOptions {
    NodeOptions {
        gc_grace: Duration::ZERO,
        gc_interval: Duration::from_millis(100),
        min_free: Some(0),
        drop_reply_keys: Vec::new(),
        lifecycle_interval: Duration::from_secs(3600),
        lifecycle_clock_offset_ms: 0,
        disk: Disk::Sim(disk.clone()),
    }
}

struct Running {
    rt: tokio::runtime::Runtime,
    client: NodeClient,
}

fn start(disk: &Arc<SimDisk>) -> Result<Running, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let started = rt.block_on(async {
        let node = tokio::time::timeout(Duration::from_secs(30), async {
            let node = Node::start(cfg(), 1, opts(disk)).await?;
            node.wait_for_catalog_leader(Duration::from_secs(20))
                .await?;
            Ok::<_, cairn_node::Error>(node)
        })
        .await;
        match node {
            Ok(Ok(node)) => Ok(NodeClient::local(node)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("start timed out".to_string()),
        }
    });
    match started {
        Ok(client) => Ok(Running { rt, client }),
        Err(e) => {
            rt.shutdown_timeout(Duration::from_secs(2));
            Err(e)
        }
    }
}

/// Kills the node: every task of its runtime is dropped.
fn kill(run: Running) {
    let Running { rt, client } = run;
    drop(client);
    rt.shutdown_timeout(Duration::from_secs(2));
}

#[derive(Default)]
struct Stats {
    crash_points: u64,
    power_losses: u64,
    faults: u64,
    quiet_rounds: u64,
    acked: u64,
    failed: u64,
    disk_ops: u64,
}

/// What a round injects.
fn plan(rng: &mut StdRng, disk: &SimDisk, est: (u64, u64, u64)) -> FaultPlan {
    let c = disk.counters();
    let errno = if rng.gen_bool(0.5) {
        libc::EIO
    } else {
        libc::ENOSPC
    };
    match rng.gen_range(0..10) {
        0..=5 => FaultPlan {
            power_loss_at: Some(c.ops + rng.gen_range(0..est.0.max(1))),
            ..FaultPlan::default()
        },
        6..=7 => FaultPlan {
            fail_write: Some((c.writes + rng.gen_range(0..est.1.max(1)), errno)),
            ..FaultPlan::default()
        },
        8 => FaultPlan {
            fail_sync: Some((c.syncs + rng.gen_range(0..est.2.max(1)), libc::EIO)),
            ..FaultPlan::default()
        },
        _ => FaultPlan {
            tear_write: Some((
                c.writes + rng.gen_range(0..est.1.max(1)),
                rng.gen_range(0..8192),
            )),
            ..FaultPlan::default()
        },
    }
}

/// After a restart: every key holds its acknowledged state or one it was being
/// written to, whole; acknowledged versions are all there. In-doubt states are
/// settled to what was found.
async fn verify(client: &NodeClient, model: &mut Model) -> Result<(), String> {
    for ((bucket, key), st) in model.keys.iter_mut() {
        let got = read(client, bucket, key).await?;
        if got != st.acked && !st.doubt.contains(&got) {
            return Err(format!(
                "{bucket}/{key} holds {}; last acknowledged: {}; in doubt: [{}]",
                got.describe(),
                st.acked.describe(),
                st.doubt
                    .iter()
                    .map(Val::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        st.acked = got;
        st.doubt.clear();
        for (id, bytes) in &st.versions {
            let view = client
                .get_version(bucket.clone(), key.clone(), Some(id.clone()))
                .await
                .map_err(|e| format!("{bucket}/{key} acknowledged version {id}: {e}"))?;
            let rec = view
                .row
                .record
                .ok_or_else(|| format!("{bucket}/{key} version {id} became a delete marker"))?;
            if read_record(client, &rec).await? != *bytes {
                return Err(format!("{bucket}/{key} version {id}: other bytes"));
            }
        }
    }
    Ok(())
}

fn setup(run: &Running) -> Result<(), String> {
    run.rt
        .block_on(async {
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

fn run_seed(seed: u64, rounds: u64, stats: &mut Stats) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut disk = SimDisk::new(1 << 30);
    let mut run = start(&disk).map_err(|e| format!("first start: {e}"))?;
    setup(&run)?;
    let mut model = Model::default();
    // Disk operations, writes and syncs a round takes (measured as it goes).
    let mut est = (150u64, 30u64, 10u64);
    for round in 0..rounds {
        let before = disk.counters();
        let injected_before = disk.injected().len();
        disk.set_plan(plan(&mut rng, &disk, est));
        let (acked0, failed0) = (model.acked_ops, model.failed_ops);
        let mut failures_in_a_row = 0;
        for _ in 0..rng.gen_range(4..12) {
            let op = next_op(&mut rng);
            if run.rt.block_on(apply(&run.client, &mut model, &op)) {
                failures_in_a_row = 0;
            } else {
                failures_in_a_row += 1;
            }
            if disk.is_dead() || failures_in_a_row >= 2 {
                break;
            }
        }
        let after = disk.counters();
        let fired = disk.injected().len() > injected_before;
        if !fired {
            stats.quiet_rounds += 1;
            est = (
                (after.ops - before.ops).max(20),
                (after.writes - before.writes).max(5),
                (after.syncs - before.syncs).max(2),
            );
        }
        if disk.is_dead() {
            stats.power_losses += 1;
        } else if fired {
            stats.faults += 1;
        }
        stats.disk_ops += after.ops - before.ops;
        stats.acked += model.acked_ops - acked0;
        stats.failed += model.failed_ops - failed0;
        disk.power_off();
        let keep = rng.gen_bool(0.5).then(|| rng.gen());
        let image = disk.durable_image(keep);
        let what = format!(
            "round {round} ({}; image keeps unsynced writes: {keep:?})",
            disk.injected().join(", ")
        );
        kill(run);
        disk = image;
        run = start(&disk).map_err(|e| format!("{what}: the node does not start again: {e}"))?;
        stats.crash_points += 1;
        let checked = run.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), verify(&run.client, &mut model)).await
        });
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("{what}: {e}")),
            Err(_) => return Err(format!("{what}: checking timed out")),
        }
    }
    // The node still takes writes after the last crash.
    let probe = workload::Op::Put {
        bucket: PLAIN,
        key: "probe".into(),
        data: vec![42; 20_000],
        chunk: 8192,
    };
    let taken = run.rt.block_on(apply(&run.client, &mut model, &probe));
    let back = run.rt.block_on(read(&run.client, PLAIN, "probe"));
    kill(run);
    if !taken || back != Ok(Val::Bytes(vec![42; 20_000])) {
        return Err(format!(
            "the node refuses new writes after the crashes: {back:?}"
        ));
    }
    Ok(())
}

#[test]
fn seeded_crash_points_keep_every_acknowledged_write() {
    let rounds = env("CAIRN_SIM_ROUNDS").unwrap_or(5);
    let seeds: Vec<u64> = match env("CAIRN_SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let first = env("CAIRN_SIM_FIRST").unwrap_or(0);
            (first..first + env("CAIRN_SIM_SEEDS").unwrap_or(10)).collect()
        }
    };
    let t = Instant::now();
    let mut stats = Stats::default();
    let mut failed = Vec::new();
    for seed in &seeds {
        if let Err(e) = run_seed(*seed, rounds, &mut stats) {
            eprintln!(
                "crash simulation: seed {seed} FAILED: {e}\n  replay: CAIRN_SIM_SEED={seed} \
                 CAIRN_SIM_ROUNDS={rounds} cargo test --release -p cairn-node --test crash_sim \
                 -- --nocapture"
            );
            failed.push(*seed);
        }
    }
    println!(
        "crash simulation: {} seeds, {} crash points ({} power losses mid-workload, {} \
         write/fsync faults, {} quiet rounds cut at rest), {} operations acknowledged, {} \
         failed, {} disk operations, in {:.1} s",
        seeds.len(),
        stats.crash_points,
        stats.power_losses,
        stats.faults,
        stats.quiet_rounds,
        stats.acked,
        stats.failed,
        stats.disk_ops,
        t.elapsed().as_secs_f64()
    );
    assert!(failed.is_empty(), "seeds that failed: {failed:?}");
}
