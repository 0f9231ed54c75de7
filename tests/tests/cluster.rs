#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]
//! Fault tests of a 3-node cluster (always a cluster, whatever CAIRN_TEST_CLUSTER
//! says): chunk placement, node loss under load, catalog leader failover, full
//! restart after SIGKILL, Raft log compaction, garbage collection (one test runs 6
//! nodes).

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging};
use aws_sdk_s3::Client;
use cairn_tests::*;

const R: usize = 3;
const PGS: u32 = 8;

/// `(key, size, etag)` of every object in `bucket`.
async fn listing(c: &Client, bucket: &str) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let resp = c
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("list {bucket}: {}", describe(&e)));
        for o in resp.contents() {
            out.push((
                o.key().unwrap_or_default().to_string(),
                o.size().unwrap_or(-1),
                o.e_tag().unwrap_or_default().to_string(),
            ));
        }
        token = resp.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return out;
        }
    }
}

// ---------------------------------------------------------------------------
// a. placement
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunks_spread_over_all_nodes() {
    let cluster = Cluster::start(ClusterOpts::new()).await;
    let c = cluster.client();
    create_bucket(&c, "spread").await;
    let data = payload(0x5EED, 40 * MIB);
    put(&c, "spread", "big", data.clone()).await;

    let expected: BTreeSet<String> = chunk_ids_of(&data, DEFAULT_CHUNK).into_iter().collect();
    assert_eq!(expected.len(), 10, "40 MiB in 4 MiB chunks");

    // Followers apply shortly after the leader acknowledged: allow a few seconds.
    let deadline = Instant::now() + Duration::from_secs(15);
    let holders = loop {
        let holders = cluster.chunk_holders();
        let settled = holders.len() == expected.len() && holders.values().all(|h| h.len() == R);
        if settled || Instant::now() > deadline {
            break holders;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let found: BTreeSet<String> = holders.keys().cloned().collect();
    assert_eq!(
        found, expected,
        "chunk files on the nodes vs BLAKE3 ids of the 4 MiB pieces"
    );
    for (id, nodes) in &holders {
        assert_eq!(
            nodes.len(),
            R,
            "chunk {id} is on nodes {nodes:?}, expected {R} replicas"
        );
    }

    let pgs: BTreeSet<u32> = expected.iter().map(|id| chunk_pg(id, PGS)).collect();
    println!("chunk PGs: {pgs:?}");
    assert!(pgs.len() >= 3, "10 chunks fall in only {pgs:?}");

    // Leaders of the placement groups are spread over the nodes.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (status, leaders) = loop {
        let status = cluster.status().await;
        let rows = parse_status_groups(&status);
        let pg_rows: Vec<&GroupRow> = rows.iter().filter(|r| r.name.starts_with("pg ")).collect();
        let leaders: BTreeSet<u64> = pg_rows.iter().filter_map(|r| r.leader).collect();
        let all_led = pg_rows.len() == PGS as usize && pg_rows.iter().all(|r| r.leader.is_some());
        if (all_led && leaders.len() > 1) || Instant::now() > deadline {
            break (status, leaders);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("{status}");
    assert!(
        leaders.len() > 1,
        "all placement groups are led by the same node(s) {leaders:?}:\n{status}"
    );

    assert!(
        get_bytes(&c, "spread", "big").await == data,
        "GET returned other bytes"
    );
}

// ---------------------------------------------------------------------------
// b. node loss under load
// ---------------------------------------------------------------------------

enum Victim {
    Node(u64),
    CatalogLeader,
}

async fn node_loss_workload(victim: Victim) {
    const WORKERS: u64 = 4;
    let mut cluster = Cluster::start(ClusterOpts::new()).await;
    let c = cluster.client();
    create_bucket(&c, "load").await;

    let mut load = Workload::new(WorkloadOpts::new("load"));
    load.spawn((0..WORKERS).map(|_| cluster.client()));

    tokio::time::sleep(Duration::from_secs(3)).await;
    let victim = match victim {
        Victim::Node(id) => id,
        Victim::CatalogLeader => cluster.wait_catalog_leader(Duration::from_secs(10)).await,
    };
    let leader = cluster.catalog_leader().await;
    let acked_before = load.acked_count();
    cluster.kill9_node(victim);
    println!(
        "killed node {victim} (catalog leader: {leader:?}) after {:.1} s, {acked_before} objects acknowledged",
        load.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(12)).await;
    load.stop().await;
    let acked = load.acked();
    let errors = load.errors();
    println!(
        "workload: {} objects acknowledged ({} after the kill), {} errors, {:.1} s",
        acked.len(),
        acked.len() - acked_before,
        errors.len(),
        load.elapsed().as_secs_f64()
    );
    assert!(
        errors.is_empty(),
        "client errors with node {victim} down:\n{}\n{}",
        errors.join("\n"),
        cluster.log_tail(24 * 1024)
    );
    assert!(
        acked.len() > acked_before,
        "no write acknowledged after node {victim} was killed"
    );

    // Every acknowledged object reads back byte-identical with the node still down.
    load.check_readback(&c).await;

    // The restarted node catches up and ends with the same chunks as the others.
    let other = if victim == 1 { 2 } else { 1 };
    let missing_before = cluster
        .node_chunk_ids(other)
        .difference(&cluster.node_chunk_ids(victim))
        .count();
    cluster.start_node(victim).await;
    let took = cluster
        .wait_caught_up(victim, Duration::from_secs(60))
        .await;
    println!(
        "node {victim} caught up in {:.1} s (it lacked {missing_before} chunks)",
        took.as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sets: Vec<(u64, BTreeSet<String>)> = cluster
            .node_ids()
            .into_iter()
            .map(|id| (id, cluster.node_chunk_ids(id)))
            .collect();
        if sets.iter().all(|(_, s)| *s == sets[0].1) {
            println!("every node holds the same {} chunks", sets[0].1.len());
            break;
        }
        if Instant::now() > deadline {
            let victim_set = &sets[(victim - 1) as usize].1;
            let others = &sets[(other - 1) as usize].1;
            panic!(
                "chunk sets differ 30 s after node {victim} caught up: sizes {:?}; node {victim} lacks {} chunks, has {} extra\n{}",
                sets.iter().map(|(id, s)| (*id, s.len())).collect::<Vec<_>>(),
                others.difference(victim_set).count(),
                victim_set.difference(others).count(),
                cluster.status().await
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_loss_during_workload() {
    node_loss_workload(Victim::Node(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catalog_leader_loss_during_workload() {
    node_loss_workload(Victim::CatalogLeader).await;
}

// ---------------------------------------------------------------------------
// c. catalog leader failover
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catalog_leader_failover() {
    /// The longest the cluster may take to accept a write again before the test
    /// fails: generous, so that only a failover that never happens fails it.
    const FAILOVER_LIVENESS: Duration = Duration::from_secs(120);
    let mut cluster = Cluster::start(ClusterOpts::new()).await;
    let c = cluster.client();
    create_bucket(&c, "failover").await;
    let mut objects = Vec::new();
    for (i, size) in [0usize, 100, 60 * KIB, 5 * MIB + 3, 9 * MIB]
        .into_iter()
        .enumerate()
    {
        let data = payload(i as u64, size);
        put(&c, "failover", &format!("before/{i}"), data.clone()).await;
        objects.push((format!("before/{i}"), data));
    }

    let leader = cluster.wait_catalog_leader(Duration::from_secs(10)).await;
    // One attempt per call, so the loop measures when the cluster takes writes again.
    let probe = Client::from_conf(
        cluster
            .config_builder()
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(40))
                    .build(),
            )
            .build(),
    );
    cluster.kill9_node(leader);
    let killed = Instant::now();
    let mut failures = Vec::new();
    loop {
        let t = killed.elapsed().as_secs_f64();
        match probe
            .put_object()
            .bucket("failover")
            .key("after")
            .body(body(b"after failover".to_vec()))
            .send()
            .await
        {
            Ok(_) => break,
            Err(e) => failures.push(format!(
                "{t:.2}s..{:.2}s: {}",
                killed.elapsed().as_secs_f64(),
                describe(&e)
            )),
        }
        // A liveness bound, not a timing target: the figure below is the measure.
        assert!(
            killed.elapsed() < FAILOVER_LIVENESS,
            "no PUT succeeded within {FAILOVER_LIVENESS:?} of killing catalog leader {leader}:\n{}",
            failures.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = killed.elapsed().as_secs_f64();
    println!(
        "figure: catalog leader failover took {secs:.2} s (killed leader {leader}, {} failed attempts)",
        failures.len()
    );
    for f in &failures {
        println!("  {f}");
    }
    let new_leader = cluster.wait_catalog_leader(Duration::from_secs(10)).await;
    assert_ne!(
        new_leader, leader,
        "the killed node still leads the catalog"
    );

    for (key, data) in &objects {
        assert!(
            get_bytes(&c, "failover", key).await == *data,
            "{key} changed"
        );
    }
    assert_eq!(get_bytes(&c, "failover", "after").await, b"after failover");
}

// ---------------------------------------------------------------------------
// d. full restart
// ---------------------------------------------------------------------------

struct Snapshot {
    buckets: Vec<String>,
    listings: Vec<Vec<(String, i64, String)>>,
    tags: Vec<(String, String)>,
}

async fn snapshot(c: &Client, buckets: &[&str]) -> Snapshot {
    let names = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap_or_default().to_string())
        .collect();
    let mut listings = Vec::new();
    for b in buckets {
        listings.push(listing(c, b).await);
    }
    let tags = c
        .get_bucket_tagging()
        .bucket("tagged")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetBucketTagging: {}", describe(&e)))
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    Snapshot {
        buckets: names,
        listings,
        tags,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_cluster_restart() {
    let mut cluster = Cluster::start(ClusterOpts::new()).await;
    let c = cluster.client();
    let buckets = ["plain", "tagged"];
    for b in buckets {
        create_bucket(&c, b).await;
    }
    c.put_bucket_tagging()
        .bucket("tagged")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("team").value("ops").build().unwrap())
                .tag_set(Tag::builder().key("tier").value("cold").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let mut objects: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for (i, size) in [0usize, 1, 1000, 64 * KIB - 1].into_iter().enumerate() {
        objects.push((
            "plain",
            format!("inline/{i}"),
            payload(100 + i as u64, size),
        ));
    }
    for (i, size) in [64 * KIB, 4 * MIB, 9 * MIB + 17].into_iter().enumerate() {
        objects.push((
            "tagged",
            format!("chunked/{i}"),
            payload(200 + i as u64, size),
        ));
    }
    for (b, k, data) in &objects {
        put(&c, b, k, data.clone()).await;
    }

    // A completed multipart upload (5 MiB + 5 MiB + 1 KiB).
    let parts: Vec<Vec<u8>> = [5 * MIB, 5 * MIB, KIB]
        .into_iter()
        .enumerate()
        .map(|(i, n)| payload(300 + i as u64, n))
        .collect();
    let id = c
        .create_multipart_upload()
        .bucket("plain")
        .key("multipart")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let etag = c
            .upload_part()
            .bucket("plain")
            .key("multipart")
            .upload_id(&id)
            .part_number(n)
            .body(body(p.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("UploadPart {n}: {}", describe(&e)))
            .e_tag()
            .unwrap()
            .to_string();
        done.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    c.complete_multipart_upload()
        .bucket("plain")
        .key("multipart")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CompleteMultipartUpload: {}", describe(&e)));
    objects.push(("plain", "multipart".to_string(), parts.concat()));

    let before = snapshot(&c, &buckets).await;
    let mp_etag = multipart_etag(parts.iter().map(Vec::as_slice));
    assert!(
        before.listings[0]
            .iter()
            .any(|(k, _, e)| k == "multipart" && *e == mp_etag),
        "multipart ETag before restart: {:?}",
        before.listings[0]
    );

    for how in ["SIGKILL of every process", "graceful stop of every process"] {
        if how.starts_with("SIGKILL") {
            cluster.kill9_all();
            cluster.start_all().await;
        } else {
            cluster.restart_all().await;
        }
        let c = cluster.client();
        let after = snapshot(&c, &buckets).await;
        assert_eq!(after.buckets, before.buckets, "buckets after {how}");
        assert_eq!(after.listings, before.listings, "listings after {how}");
        assert_eq!(after.tags, before.tags, "bucket tags after {how}");
        for (b, k, data) in &objects {
            assert!(
                get_bytes(&c, b, k).await == *data,
                "{b}/{k} differs after {how}"
            );
        }
        // And it takes writes.
        put(&c, "plain", "probe", b"probe".to_vec()).await;
        c.delete_object()
            .bucket("plain")
            .key("probe")
            .send()
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------------------
// e. log compaction
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_compaction_bounds_log() {
    const PUTS: usize = 1500;
    const SNAPSHOT_LOGS: u64 = 100;
    const CONCURRENCY: usize = 16;
    // snapshot_logs + keep_logs = 120 entries at rest in theory; a group applies
    // entries while a snapshot is being built, so allow more. The PG bound is below
    // the ~375 entries each PG gets, so it fails if PG logs are never compacted.
    const CATALOG_LOG_BOUND: u64 = 400;
    const PG_LOG_BOUND: u64 = 250;
    const RAFT_FILE_BOUND: u64 = 64 * MIB as u64;
    // Two placement groups, so each PG log also grows well past snapshot_logs.
    let cluster = Cluster::start(ClusterOpts::new().placement_groups(2).raft(RaftTuning {
        snapshot_logs: Some(SNAPSHOT_LOGS),
        keep_logs: Some(20),
        ..RaftTuning::default()
    }))
    .await;
    let c = cluster.client();
    create_bucket(&c, "many").await;

    // Half of the objects are inline (catalog log only), half are one 70 KiB chunk
    // (an entry in a PG log too): ~375 entries per PG.
    let start = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let c = c.clone();
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= PUTS {
                        return;
                    }
                    let len = if i % 2 == 1 { 70 * KIB } else { KIB };
                    put(&c, "many", &format!("k{i:05}"), payload(i as u64, len)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    println!("{PUTS} PUTs in {:.1} s", start.elapsed().as_secs_f64());
    assert_eq!(list_keys(&c, "many").await.len(), PUTS);

    let bound = |r: &GroupRow| {
        if r.name == "catalog" {
            CATALOG_LOG_BOUND
        } else {
            PG_LOG_BOUND
        }
    };
    // Snapshots are built in the background: give them a few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, rows) = loop {
        let status = cluster.status().await;
        let rows = parse_status_groups(&status);
        let ok = rows.len() == 3 && rows.iter().all(|r| r.log_len < bound(r));
        if ok || Instant::now() > deadline {
            break (status, rows);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("{status}");
    assert_eq!(rows.len(), 3, "catalog + 2 PGs in:\n{status}");
    let catalog = &rows[0];
    assert_eq!(catalog.name, "catalog");
    // Concurrent PUTs share catalog entries (batched writes), so the catalog log
    // holds fewer entries than PUTs; it must still span several snapshots.
    assert!(
        catalog.last_log > 2 * SNAPSHOT_LOGS,
        "catalog last log index {} <= {}: too few entries to test compaction:\n{status}",
        catalog.last_log,
        2 * SNAPSHOT_LOGS
    );
    for r in &rows {
        if r.name != "catalog" {
            assert!(
                r.last_log > 300,
                "{} got only {} log entries; the test needs > 300:\n{status}",
                r.name,
                r.last_log
            );
        }
        assert!(
            r.log_len < bound(r),
            "{}: {} entries in the log (last index {}, bound {}), snapshot_logs=100 keep_logs=20:\n{status}",
            r.name,
            r.log_len,
            r.last_log,
            bound(r)
        );
    }
    for id in cluster.node_ids() {
        let bytes = cluster.node_raft_log_bytes(id);
        println!(
            "node {id}: raft.redb {:.1} MiB, chunks {} files",
            bytes as f64 / MIB as f64,
            cluster.node_chunk_ids(id).len()
        );
        assert!(
            bytes < RAFT_FILE_BOUND,
            "node {id}: raft.redb is {bytes} bytes (bound {RAFT_FILE_BOUND})"
        );
    }
}

// ---------------------------------------------------------------------------
// GC race reproducer
// ---------------------------------------------------------------------------

/// With `--gc-grace 0`, an object overwritten with data whose chunks are
/// unreferenced at that moment (they were reclaimable, and a GC pass may be
/// running) must still have all its chunks on every replica afterwards: a write
/// pins its chunks on every replica until its record commits. Each round has a
/// chance of hitting the race (before pins it failed within a few rounds).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_keeps_chunks_of_live_objects_under_churn() {
    let cluster =
        Cluster::start(ClusterOpts::new().server(ServerOpts::new().chunk_size(MIB).gc(0, 1))).await;
    let c = cluster.client();
    create_bucket(&c, "gcb").await;
    let v1 = payload(1, 3 * MIB);
    let v2 = payload(2, 3 * MIB);
    let v2_ids = chunk_ids_of(&v2, MIB);
    for round in 0..15 {
        put(&c, "gcb", "k", v1.clone()).await; // v2's chunks become garbage...
        put(&c, "gcb", "k", v2.clone()).await; // ...and live again
        put(&c, "gcb", "other", v1.clone()).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        c.delete_object()
            .bucket("gcb")
            .key("other")
            .send()
            .await
            .unwrap();
        // Followers apply within moments; give them 2 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut lost = Vec::new();
        for id in cluster.node_ids() {
            let have = cluster.node_chunk_ids(id);
            let missing: Vec<&String> = v2_ids.iter().filter(|i| !have.contains(*i)).collect();
            if !missing.is_empty() {
                lost.push(format!("node {id} lacks {missing:?}"));
            }
        }
        assert!(
            lost.is_empty(),
            "round {round}: chunks of live object k (= v2 {v2_ids:?}) deleted:\n{}",
            lost.join("\n")
        );
    }
    assert!(get_bytes(&c, "gcb", "k").await == v2, "k differs");
}

/// A node outside the catalog's voters (node 6 of 6: the catalog has at most five)
/// collects its garbage too, marking from a filter a voter builds: the chunks of a
/// deleted object leave every node, node 6 included, and a live object's stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_runs_on_nodes_without_a_catalog_replica() {
    let cluster = Cluster::start(
        ClusterOpts::new()
            .nodes(6)
            .server(ServerOpts::new().chunk_size(MIB).gc(0, 1)),
    )
    .await;
    let c = cluster.client();
    create_bucket(&c, "gc6").await;
    let gone = payload(61, 24 * MIB);
    let kept = payload(62, 24 * MIB);
    put(&c, "gc6", "gone", gone.clone()).await;
    put(&c, "gc6", "kept", kept.clone()).await;
    let gone_ids = chunk_ids_of(&gone, MIB);
    let kept_ids = chunk_ids_of(&kept, MIB);
    // Followers apply within moments.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (gone_on_6, kept_on_6) = loop {
        let have = cluster.node_chunk_ids(6);
        let of = |ids: &Vec<String>| {
            ids.iter()
                .filter(|i| have.contains(*i))
                .cloned()
                .collect::<Vec<_>>()
        };
        let holders = cluster.chunk_holders();
        let settled = gone_ids
            .iter()
            .chain(&kept_ids)
            .all(|i| holders.get(i).is_some_and(|h| h.len() == R));
        if settled || Instant::now() > deadline {
            break (of(&gone_ids), of(&kept_ids));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        !gone_on_6.is_empty() && !kept_on_6.is_empty(),
        "node 6 holds none of the 24 chunks of an object: {gone_on_6:?} / {kept_on_6:?}"
    );
    c.delete_object()
        .bucket("gc6")
        .key("gone")
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<(u64, usize)> = cluster
            .node_ids()
            .into_iter()
            .map(|n| {
                let have = cluster.node_chunk_ids(n);
                (n, gone_ids.iter().filter(|i| have.contains(*i)).count())
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chunks of the deleted object still held (node, chunks): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let have = cluster.node_chunk_ids(6);
    let lost: Vec<&String> = kept_on_6.iter().filter(|i| !have.contains(*i)).collect();
    assert!(lost.is_empty(), "node 6 collected live chunks {lost:?}");
    assert!(get_bytes(&c, "gc6", "kept").await == kept, "kept differs");
}

/// The internal RPC listener with the right secret: a body past the limit is
/// refused as it streams (413, whether declared or chunked), a message with
/// trailing bytes is refused, a snapshot header frame claiming too many bytes is
/// refused on arrival, and no failed snapshot transfer leaves a file in
/// `snapshots/incoming/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_rpc_limits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cluster = Cluster::start(ClusterOpts::new().nodes(1)).await;
    let addr = cluster.node_addr(1);
    let secret = cluster.secret().to_string();
    let head = |path: &str, framing: &str| {
        format!("POST {path} HTTP/1.1\r\nhost: n\r\nx-cairn-secret: {secret}\r\n{framing}\r\n\r\n")
    };
    /// Sends `head` and then `body` (while it can), returns the response's status
    /// line and body.
    async fn exchange(
        addr: std::net::SocketAddr,
        head: String,
        body: Vec<u8>,
        then_close: bool,
    ) -> String {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(head.as_bytes()).await;
            for piece in body.chunks(1 << 20) {
                if wr.write_all(piece).await.is_err() {
                    return;
                }
            }
            if then_close {
                drop(wr);
            } else {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        })
        .await;
        writer.abort();
        String::from_utf8_lossy(&out).to_string()
    }

    // Declared too large: refused before any byte of the body.
    let started = Instant::now();
    let resp = exchange(
        addr,
        head("/rpc", "content-length: 1073741824"),
        Vec::new(),
        false,
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Chunked past the limit: refused once the limit is passed.
    let limit = cairn_node::node::rpc_server::MAX_RPC_BODY;
    let mut chunked = Vec::with_capacity(limit + (8 << 20));
    let piece = vec![0u8; 1 << 20];
    for _ in 0..(limit >> 20) + 4 {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(&piece);
        chunked.extend_from_slice(b"\r\n");
    }
    let resp = exchange(
        addr,
        head("/rpc", "transfer-encoding: chunked"),
        chunked,
        false,
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");

    // A valid message, then one with a trailing byte.
    let status = cairn_node::rpc::encode(&cairn_node::rpc::messages::Request::Status, 0).unwrap();
    let ok = exchange(
        addr,
        head("/rpc", &format!("content-length: {}", status.len())),
        status.clone(),
        false,
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let mut trailing = status.clone();
    trailing.push(0);
    let resp = exchange(
        addr,
        head("/rpc", &format!("content-length: {}", trailing.len())),
        trailing,
        false,
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");

    // A snapshot header frame claiming 1 GiB: answered at once, body unfinished.
    let started = Instant::now();
    let mut frame = (1u32 << 30).to_le_bytes().to_vec();
    frame.extend_from_slice(&[1u8; 64]);
    let resp = exchange(
        addr,
        head("/raft/snapshot", "content-length: 2000000000"),
        frame,
        false,
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1"), "no answer: {resp}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // A transfer whose client goes away in the middle.
    let mut partial = 100u32.to_le_bytes().to_vec();
    partial.extend_from_slice(&[1u8; 10]);
    let _ = exchange(
        addr,
        head("/raft/snapshot", "content-length: 5000"),
        partial,
        true,
    )
    .await;
    let incoming = cluster.node_data_dir(1).join("snapshots/incoming");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<_> = std::fs::read_dir(&incoming)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left in {}: {left:?}",
            incoming.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
