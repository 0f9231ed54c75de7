//! Scenarios 6 and 7: a node's disk fills up (its data directory is a small tmpfs
//! filled by a ballast file) and frees again; bit rot on one replica under load.

use std::time::{Duration, Instant};

use crate::{load_for, path, run, Fault, CHUNK, READBACK};
use cairn_tests::rot::{chunk_path, first_reader, flip4, wait_content, wait_replicated};
use cairn_tests::*;

const RESUME: Duration = Duration::from_secs(30);

/// Free bytes of the file system holding `dir`.
fn avail(dir: &std::path::Path) -> u64 {
    let out = run(&["df", "-B1", "--output=avail", path(dir)]);
    out.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("df output: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s6_disk_full_on_one_node() {
    let victim = 2;
    let mut f = Fault::new(ServerOpts::new().min_free("16MiB"));
    f.mount_tmpfs(victim, "400m");
    f.cluster.start_all().await;
    let v = f.verifier("s6").await;
    load_for(6).await;
    let dir = f.cluster.node_data_dir(victim);
    let ballast = dir.join("ballast");
    // Leave 4 MiB: below the 16 MiB floor, so every chunk and catalog write of the
    // node is refused.
    let fill = avail(&dir).saturating_sub(4 << 20);
    run(&["fallocate", "-l", &fill.to_string(), path(&ballast)]);
    println!("node {victim}: disk full ({} MiB free)", avail(&dir) >> 20);
    v.wait_writes(20, RESUME, "writes with one node's disk full")
        .await;
    load_for(10).await;
    assert!(
        f.cluster.node_is_running(victim),
        "node {victim} died of a full disk\n{}",
        f.cluster.log_tail(16 * 1024)
    );
    std::fs::remove_file(&ballast).unwrap();
    println!("node {victim}: space back ({} MiB free)", avail(&dir) >> 20);
    v.wait_writes(20, RESUME, "writes after the space came back")
        .await;
    load_for(6).await;
    let s = v.finish("6 a node's disk full, then freed", READBACK).await;
    // Failures must be clear answers (507 InsufficientCapacity, 503) or
    // timeouts, never a 500.
    let unclear: Vec<&String> = s
        .errors
        .iter()
        .filter(|e| e.contains(": 500 ") || e.contains("InternalError"))
        .collect();
    assert!(
        unclear.is_empty(),
        "unclear errors on a full disk: {unclear:#?}"
    );
    s.assert_clean(100);
    // The node takes part again: it catches up on everything it refused.
    let took = f
        .cluster
        .wait_caught_up(victim, Duration::from_secs(60))
        .await;
    println!("node {victim} caught up {took:?} after the load stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s7_bit_rot_on_one_replica() {
    let interval = 4u64;
    let opts = ServerOpts::new().node_args(&[
        "--scrub-interval",
        &interval.to_string(),
        "--scrub-bandwidth",
        "0",
    ]);
    let f = Fault::launch(opts).await;
    let c = f.cluster.client();
    create_bucket(&c, "rot").await;
    let data = payload(0x0B17, 8 * CHUNK);
    put(&c, "rot", "x", data.clone()).await;
    let ids = chunk_ids_of(&data, CHUNK);
    wait_replicated(&f.cluster, &ids).await;
    let v = f.verifier("s7").await;
    load_for(4).await;

    // Chunk 1 rots on the node gateways read it from first (the read path must
    // skip it), chunk 5 on another node (only the scrub finds it).
    let read_rot = first_reader(&f.cluster, &ids[1]);
    let scrub_rot = first_reader(&f.cluster, &ids[5]) % 3 + 1;
    let p1 = chunk_path(&f.cluster, read_rot, &ids[1]);
    let p5 = chunk_path(&f.cluster, scrub_rot, &ids[5]);
    flip4(&p1);
    flip4(&p5);
    let flipped = Instant::now();
    let limit = Duration::from_secs(interval + 10);
    let mut reads = 0;
    while std::fs::read(&p1).ok().as_deref() != Some(&data[CHUNK..2 * CHUNK])
        || std::fs::read(&p5).ok().as_deref() != Some(&data[5 * CHUNK..6 * CHUNK])
    {
        assert!(
            get_bytes(&c, "rot", "x").await == data,
            "a read returned bad bytes"
        );
        reads += 1;
        assert!(
            flipped.elapsed() < limit,
            "bit rot not repaired within {limit:?} (scrub interval {interval} s)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "both rotten copies repaired {:?} after the flips ({reads} good reads meanwhile)",
        flipped.elapsed()
    );
    wait_content(&p5, &data[5 * CHUNK..6 * CHUNK], limit, "scrubbed chunk").await;
    for node in [read_rot, scrub_rot] {
        let m = f.cluster.node_metrics(node).await.expect("node metrics");
        let found = m.get("cairn_scrub_corrupt_found_total").unwrap_or(0.0);
        let repaired = m.get("cairn_scrub_repaired_total").unwrap_or(0.0);
        assert!(
            found >= 1.0 && repaired >= 1.0,
            "node {node}: found {found}, repaired {repaired}"
        );
    }
    load_for(4).await;
    let s = v.finish("7 bit rot on one replica", READBACK).await;
    s.assert_clean(100);
    assert_eq!(get_bytes(&c, "rot", "x").await, data);
}
