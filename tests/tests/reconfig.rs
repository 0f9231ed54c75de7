#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]
//! Reconfiguration of a live cluster by editing its cluster file and running
//! `cairn cluster plan|apply --wait`: grow by two nodes, drain one, remove it, remove
//! a dead node, all under a continuous S3 workload; remove the live catalog leader;
//! refusal of writes past the usable capacity; refusal of invalid changes.
//!
//! Figures for reports are printed on stderr lines starting with `RECONFIG`
//! (`cargo test --test reconfig -- --nocapture 2>&1 | grep RECONFIG`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::Client;
use cairn_tests::reconfig::{
    expected_placement, load_config, placement_violations, sorted, usable_capacity, Applied,
    ClusterStatus, Plan,
};
use cairn_tests::*;

const R: u64 = 3;
const PGS: u32 = 16;
/// Small chunks, so that every object is several chunks spread over the PGs.
const CHUNK: usize = MIB;
const WORKERS: usize = 3;
/// Pause between a workload worker's iterations: keeps the data written during the
/// test well below the final usable capacity (1 GiB) and the moves short.
const PAUSE: Duration = Duration::from_millis(250);
/// How long chunk cleanup and GC may take to reach the final placement.
const SETTLE: Duration = Duration::from_secs(30);

/// What a step's plan must say about membership.
struct Expect {
    added: Vec<u64>,
    removed: Vec<u64>,
    /// Checked when `Some`.
    drained: Option<Vec<u64>>,
}

impl Expect {
    fn added(id: u64) -> Self {
        Expect {
            added: vec![id],
            removed: vec![],
            drained: None,
        }
    }
    fn removed(id: u64) -> Self {
        Expect {
            added: vec![],
            removed: vec![id],
            drained: None,
        }
    }
    fn drained(id: u64) -> Self {
        Expect {
            added: vec![],
            removed: vec![],
            drained: Some(vec![id]),
        }
    }
}

/// What the cluster file says now: its placement table and usable capacity.
struct Target {
    table: Vec<Vec<u64>>,
    usable: u64,
    /// Node id -> drain, of the nodes in the file.
    drain: BTreeMap<u64, bool>,
}

impl Target {
    fn of(cluster: &Cluster) -> Self {
        let cfg = load_config(cluster.config_path());
        Target {
            table: expected_placement(&cfg),
            usable: usable_capacity(&cfg),
            drain: cfg.nodes.iter().map(|n| (n.id, n.drain)).collect(),
        }
    }
}

/// `plan` (from `plan --json` or the first line of `apply --json`) against the
/// status before the step and the cluster file.
fn check_plan(step: &str, plan: &Plan, before: &ClusterStatus, target: &Target, expect: &Expect) {
    let ctx = || format!("{step}: plan {plan:?}");
    assert_eq!(plan.epoch, before.epoch, "{}: committed epoch", ctx());
    assert_eq!(plan.next_epoch, before.epoch + 1, "{}: next epoch", ctx());
    assert_eq!(plan.added, expect.added, "{}: added", ctx());
    assert_eq!(plan.removed, expect.removed, "{}: removed", ctx());
    if let Some(drained) = &expect.drained {
        assert_eq!(&plan.drained, drained, "{}: drained", ctx());
    }
    assert_eq!(
        plan.usable_capacity_before,
        before.usable_capacity,
        "{}: usable capacity before vs status",
        ctx()
    );
    assert_eq!(
        plan.usable_capacity_after,
        target.usable,
        "{}: usable capacity after vs the file",
        ctx()
    );
    // Exactly the PGs whose voters differ from the file's placement move, from
    // their voters to that placement.
    let voters = before.voters();
    let want: BTreeMap<u32, (Vec<u64>, Vec<u64>)> = voters
        .iter()
        .filter(|(pg, v)| **v != target.table[**pg as usize])
        .map(|(pg, v)| (*pg, (v.clone(), target.table[*pg as usize].clone())))
        .collect();
    let got: BTreeMap<u32, (Vec<u64>, Vec<u64>)> = plan
        .moves
        .iter()
        .map(|m| (m.pg, (m.from.clone(), m.to.clone())))
        .collect();
    assert_eq!(got.len(), plan.moves.len(), "{}: a PG moves twice", ctx());
    assert_eq!(got, want, "{}: moves (pg -> (from, to))", ctx());
    assert_eq!(
        plan.bytes_to_move,
        plan.moves.iter().map(|m| m.bytes).sum::<u64>(),
        "{}: bytes_to_move is not the sum of the moves' bytes",
        ctx()
    );
}

/// A status with every PG on exactly the file's placement and no move pending.
fn check_settled(step: &str, status: &ClusterStatus, target: &Target) {
    let ctx = || format!("{step}: status {status:?}");
    assert_eq!(status.replication, R, "{}: replication", ctx());
    assert_eq!(status.pgs.len(), PGS as usize, "{}: PG count", ctx());
    for p in &status.pgs {
        let want = &target.table[p.pg as usize];
        assert_eq!(&sorted(&p.target), want, "{}: pg {} target", ctx(), p.pg);
        assert_eq!(&sorted(&p.voters), want, "{}: pg {} voters", ctx(), p.pg);
        assert!(p.learners.is_empty(), "{}: pg {} learners", ctx(), p.pg);
        assert!(
            p.leader.is_some_and(|l| want.contains(&l)),
            "{}: pg {} leader",
            ctx(),
            p.pg
        );
    }
    let m = &status.moves;
    assert!(
        m.done && m.failed.is_empty() && m.pgs_done == m.pgs_total,
        "{}: moves not done",
        ctx()
    );
    assert_eq!(
        status.usable_capacity,
        target.usable,
        "{}: usable capacity vs Σ capacity of non-draining nodes / R",
        ctx()
    );
    for (id, drain) in &target.drain {
        let n = status
            .node(*id)
            .unwrap_or_else(|| panic!("{}: node {id} missing", ctx()));
        assert!(n.in_map && n.drain == *drain, "{}: node {id}", ctx());
    }
}

/// Print the step's figures: one `RECONFIG step=...` line and one line per node.
fn report(step: &str, cluster: &Cluster, load: &Workload, applied: Option<&Applied>) {
    let live = load.live();
    let live_bytes: usize = live.iter().map(|a| a.len).sum();
    let mut disk = 0;
    let mut rss = Vec::new();
    for id in cluster.node_ids() {
        let (chunks, bytes) = cluster.node_chunk_files(id);
        disk += bytes;
        let peak = cluster.node_peak_rss_kib(id);
        rss.push(format!(
            "{id}:{}",
            peak.map_or("-".to_string(), |k| k.to_string())
        ));
        eprintln!(
            "RECONFIG step={step} node={id} up={} chunks={chunks} chunk_bytes={bytes} peak_rss_kib={}",
            cluster.node_is_running(id),
            peak.map_or("-".to_string(), |k| k.to_string())
        );
    }
    let (apply_s, moves, bytes_to_move) = applied.map_or((0.0, 0, 0), |a| {
        (
            a.elapsed.as_secs_f64(),
            a.plan.moves.len(),
            a.plan.bytes_to_move,
        )
    });
    eprintln!(
        "RECONFIG step={step} t={:.1}s apply_s={apply_s:.2} moves={moves} bytes_to_move={bytes_to_move} live_objects={} live_bytes={live_bytes} disk_chunk_bytes={disk} acked={} deleted={} errors={} peak_rss_kib={} gateway_peak_rss_kib={}",
        load.elapsed().as_secs_f64(),
        live.len(),
        load.acked_count(),
        load.deleted_count(),
        load.errors().len(),
        rss.join(","),
        cluster
            .gateway_peak_rss_kib()
            .map_or("-".to_string(), |k| k.to_string())
    );
    if let Some(a) = applied {
        let moves: Vec<String> = a
            .plan
            .moves
            .iter()
            .map(|m| format!("pg{}:{:?}->{:?}:{}B", m.pg, m.from, m.to, m.bytes))
            .collect();
        eprintln!("RECONFIG step={step} moves: {}", moves.join(" "));
    }
}

/// The cluster file was just edited: plan, apply and wait, check the plan and the
/// resulting status against `before` (the status at the end of the previous step)
/// and the file; print the figures. Returns the new status.
async fn apply_step(
    cluster: &Cluster,
    load: &Workload,
    step: &str,
    before: &ClusterStatus,
    expect: Expect,
) -> ClusterStatus {
    let target = Target::of(cluster);
    let plan = cluster.plan_json().await;
    check_plan(step, &plan, before, &target, &expect);
    let applied = cluster.apply_wait_json().await;
    check_plan(step, &applied.plan, before, &target, &expect);
    let last = applied.last.as_ref().unwrap_or_else(|| {
        panic!(
            "{step}: apply --wait --json printed no final status line:\n{}",
            applied.stdout
        )
    });
    check_settled(&format!("{step} (apply's final status)"), last, &target);
    let after = cluster.status_json().await;
    check_settled(step, &after, &target);
    assert_eq!(
        after.epoch, applied.plan.next_epoch,
        "{step}: committed epoch after apply"
    );
    // The PGs whose voters changed are exactly the plan's moves.
    let (old, new) = (before.voters(), after.voters());
    let changed: BTreeMap<u32, (Vec<u64>, Vec<u64>)> = new
        .iter()
        .filter(|(pg, v)| old.get(pg) != Some(v))
        .map(|(pg, v)| (*pg, (old.get(pg).cloned().unwrap_or_default(), v.clone())))
        .collect();
    let moved: BTreeMap<u32, (Vec<u64>, Vec<u64>)> = applied
        .plan
        .moves
        .iter()
        .map(|m| (m.pg, (m.from.clone(), m.to.clone())))
        .collect();
    assert_eq!(
        changed, moved,
        "{step}: PGs whose voters changed (pg -> (before, after)) vs the plan's moves"
    );
    report(step, cluster, load, Some(&applied));
    after
}

/// Poll until node `id`'s chunk store is empty; its ids if it still is not after
/// `timeout`.
async fn wait_no_chunks(cluster: &Cluster, id: u64, timeout: Duration) -> BTreeSet<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = cluster.node_chunk_ids(id);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// 3 nodes of 1 GiB, R = 3, `PGS` placement groups, `CHUNK`-byte chunks.
async fn start_cluster() -> Cluster {
    Cluster::start(
        ClusterOpts::new()
            .placement_groups(PGS)
            .capacity("1GiB")
            .server(ServerOpts::new().chunk_size(CHUNK)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grow_drain_and_remove_under_workload() {
    let mut cluster = start_cluster().await;
    let c = cluster.client();
    create_bucket(&c, "load").await;
    let mut load = Workload::new(
        WorkloadOpts::new("load")
            .sizes(100 * KIB..=3 * MIB)
            .delete_one_in(4)
            .pause(PAUSE),
    );
    load.preload(&c, 30, MIB..=3 * MIB).await;
    let mut status = cluster.status_json().await;
    check_settled("start", &status, &Target::of(&cluster));
    report("preload", &cluster, &load, None);
    load.spawn((0..WORKERS).map(|_| cluster.client()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let id = cluster.add_node().await;
    assert_eq!(id, 4);
    status = apply_step(&cluster, &load, "add-node-4", &status, Expect::added(4)).await;

    let id = cluster.add_node().await;
    assert_eq!(id, 5);
    status = apply_step(&cluster, &load, "add-node-5", &status, Expect::added(5)).await;

    cluster.set_drain(5, true);
    status = apply_step(&cluster, &load, "drain-node-5", &status, Expect::drained(5)).await;
    assert!(
        status.pgs.iter().all(|p| !p.voters.contains(&5)),
        "drained node 5 still holds PGs: {status:?}"
    );

    cluster.forget_node(5);
    status = apply_step(
        &cluster,
        &load,
        "remove-node-5",
        &status,
        Expect::removed(5),
    )
    .await;
    assert!(
        status.node(5).is_none_or(|n| !n.in_map),
        "removed node 5 in the map: {status:?}"
    );
    let left = wait_no_chunks(&cluster, 5, SETTLE).await;
    cluster.stop_node(5);
    let left_after_stop = cluster.node_chunk_ids(5);
    assert!(
        left.is_empty() && left_after_stop.is_empty(),
        "removed node 5 still has {} chunk files {SETTLE:?} after apply ({} after stopping it), e.g. {:?}",
        left.len(),
        left_after_stop.len(),
        left.iter().take(5).collect::<Vec<_>>()
    );

    cluster.kill9_node(2);
    cluster.forget_node(2);
    status = apply_step(
        &cluster,
        &load,
        "remove-dead-node-2",
        &status,
        Expect::removed(2),
    )
    .await;
    assert_eq!(cluster.node_ids(), vec![1, 3, 4]);
    assert!(
        status.pgs.iter().all(|p| sorted(&p.voters) == [1, 3, 4]),
        "{status:?}"
    );

    load.stop().await;
    let errors = load.errors();
    assert!(
        errors.is_empty(),
        "{} client errors during reconfiguration:\n{}",
        errors.len(),
        errors.join("\n")
    );
    load.check_readback(&c).await;

    // Every chunk of a live object is on exactly the final placement's R nodes, and
    // no chunk file is anywhere else.
    let cfg = load_config(cluster.config_path());
    let table = expected_placement(&cfg);
    let live_chunks: BTreeSet<String> = load
        .live()
        .iter()
        .flat_map(|a| chunk_ids_of(&a.data(), CHUNK))
        .collect();
    let deadline = Instant::now() + SETTLE;
    let (violations, notes) = loop {
        let (violations, notes) =
            placement_violations(&cluster.chunk_holders(), &live_chunks, &table, PGS);
        if violations.is_empty() || Instant::now() > deadline {
            break (violations, notes);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    report("final", &cluster, &load, None);
    eprintln!(
        "RECONFIG step=final live_chunks={} violations={} under_replicated_garbage_chunks={}",
        live_chunks.len(),
        violations.len(),
        notes.len()
    );
    for n in notes.iter().take(10) {
        eprintln!("RECONFIG note: {n}");
    }
    assert!(
        violations.is_empty(),
        "{} chunk placement violations {SETTLE:?} after the last step:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// A live node, the catalog leader, removed from the file without draining it
/// first: its PGs move to the others, the catalog elects another leader, and the
/// node ends with no chunk files.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remove_live_catalog_leader() {
    let mut cluster = start_cluster().await;
    let c = cluster.client();
    create_bucket(&c, "load").await;
    let load = Workload::new(WorkloadOpts::new("load"));
    load.preload(&c, 10, MIB..=3 * MIB).await;
    let status = cluster.status_json().await;
    assert_eq!(cluster.add_node().await, 4);
    let status = apply_step(&cluster, &load, "add-node-4", &status, Expect::added(4)).await;

    let leader = cluster.wait_catalog_leader(Duration::from_secs(10)).await;
    cluster.forget_node(leader);
    let step = format!("remove-catalog-leader-{leader}");
    apply_step(&cluster, &load, &step, &status, Expect::removed(leader)).await;
    let left = wait_no_chunks(&cluster, leader, SETTLE).await;
    cluster.stop_node(leader);
    assert!(
        left.is_empty(),
        "removed node {leader} still has {} chunk files {SETTLE:?} after apply",
        left.len()
    );
    load.check_readback(&c).await;
    put(&c, "load", "after", payload(1, 2 * MIB)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insufficient_capacity_is_refused() {
    const CAPACITY: u64 = 8 * MIB as u64;
    let cluster = Cluster::start(
        ClusterOpts::new()
            .capacity("8MiB")
            .server(ServerOpts::new().chunk_size(MIB)),
    )
    .await;
    let c = cluster.client();
    create_bucket(&c, "full").await;
    // One attempt per call, so the refusal is the answer to one request.
    let once = Client::from_conf(
        cluster
            .config_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..40u64 {
        let key = format!("k{i}");
        let data = payload(i, MIB);
        match once
            .put_object()
            .bucket("full")
            .key(&key)
            .body(body(data.clone()))
            .send()
            .await
        {
            Ok(_) => acked.push((key, data)),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("40 MiB of PUTs into a cluster of 8 MiB nodes: none refused");
    eprintln!(
        "RECONFIG capacity: {} MiB acknowledged, then {}",
        acked.len(),
        describe(&e)
    );
    assert!(
        err_code(&e) == "InsufficientCapacity" && err_status(&e) == 507,
        "expected HTTP 507 InsufficientCapacity, got {}",
        describe(&e)
    );
    assert!(!acked.is_empty(), "the first PUT was refused");
    for (key, data) in &acked {
        assert!(
            get_bytes(&c, "full", key).await == *data,
            "{key} reads back different bytes"
        );
    }
    assert!(
        cluster.settle_blocking(Duration::from_secs(10)),
        "replicas not in step"
    );
    for id in cluster.node_ids() {
        let (chunks, bytes) = cluster.node_chunk_files(id);
        eprintln!("RECONFIG capacity: node {id}: {chunks} chunks, {bytes} bytes");
        assert!(
            bytes <= CAPACITY + MIB as u64,
            "node {id} stores {bytes} bytes of chunks, capacity {CAPACITY} + one chunk"
        );
    }

    // Shrinking the nodes below what they store is refused.
    let path = cluster.config_path();
    let original = std::fs::read_to_string(path).unwrap();
    let before = cluster.status_json().await;
    std::fs::write(path, original.replace("\"8MiB\"", "\"2MiB\"")).unwrap();
    let out = cluster
        .cli_async(&["cluster", "plan", "--json"], Duration::from_secs(60))
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("InsufficientCapacity"),
        "plan shrinking 8 MiB nodes holding data to 2 MiB: {}\nstdout: {}\nstderr: {stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::write(path, &original).unwrap();
    assert_eq!(cluster.status_json().await.epoch, before.epoch);
}

/// The cluster file text with only its first `n` `[[node]]` tables.
fn keep_nodes(text: &str, n: usize) -> String {
    let cut = text
        .match_indices("\n[[node]]")
        .nth(n)
        .map_or(text.len(), |(i, _)| i);
    text[..cut].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_refuses_invalid_change() {
    let cluster = Cluster::start(ClusterOpts::new()).await;
    let c = cluster.client();
    create_bucket(&c, "keep").await;
    let data = payload(7, 3 * MIB);
    put(&c, "keep", "k", data.clone()).await;
    let before = cluster.status_json().await;

    let path = cluster.config_path();
    let original = std::fs::read_to_string(path).unwrap();
    let variants: [(&str, String, &[&str]); 3] = [
        (
            "replication 3 -> 2",
            original.replace("replication = 3", "replication = 2"),
            &["replication"],
        ),
        (
            "placement_groups 8 -> 16",
            original.replace("placement_groups = 8", "placement_groups = 16"),
            &["placement"],
        ),
        (
            "2 nodes with R = 3",
            keep_nodes(&original, 2),
            &["replication", "nodes"],
        ),
    ];
    for (what, text, words) in &variants {
        assert_ne!(*text, original, "{what}: the edit changed nothing");
        std::fs::write(path, text).unwrap();
        for cmd in ["plan", "apply"] {
            let out = cluster
                .cli_async(&["cluster", cmd, "--json"], Duration::from_secs(60))
                .await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success(),
                "{what}: `cairn cluster {cmd}` accepted it:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            assert!(
                words.iter().any(|w| stderr.to_lowercase().contains(w)),
                "{what}: `cairn cluster {cmd}` does not say why (expected one of {words:?}): {stderr}"
            );
            eprintln!("RECONFIG refused ({what}) by {cmd}: {}", stderr.trim());
        }
    }
    std::fs::write(path, &original).unwrap();
    assert_eq!(
        cluster.status_json().await.epoch,
        before.epoch,
        "committed epoch after refused changes"
    );

    // The unchanged file: nothing to do.
    let applied = cluster.apply_wait_json().await;
    let p = &applied.plan;
    assert!(
        p.moves.is_empty() && p.epoch == before.epoch && p.next_epoch == p.epoch,
        "apply of the unchanged file: {p:?}\n{}",
        applied.stdout
    );
    assert_eq!(cluster.status_json().await.epoch, before.epoch);
    assert!(get_bytes(&c, "keep", "k").await == data);
    put(&c, "keep", "after", b"still writable".to_vec()).await;
}
