//! Scenario 9: one node's wall clock runs 5 minutes slow, jumps to 5 minutes
//! fast, then back to the right time, under load (libfaketime preloaded into that
//! node only, reading its offset from a file the test rewrites; the monotonic
//! clock is left alone, as an NTP step leaves it). The node's HTTP `Date` header
//! proves the offsets took effect; it cannot show the last, backward step: hyper
//! refreshes its cached `Date` only once the clock passes the next second it
//! expected, so after a step back it repeats the old date until then.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{load_for, run, Fault, READBACK};
use cairn_tests::netns::Host;
use cairn_tests::*;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// The offset (seconds) between node `id`'s clock, as its `Date` header tells,
/// and ours.
async fn skew(f: &Fault, id: u64) -> i64 {
    let url = format!("http://{}/health", f.cluster.node_addr(id));
    let resp = reqwest::get(&url).await.expect("node /health");
    let date = resp.headers()["date"].to_str().unwrap().to_string();
    let theirs: i64 = run(&["date", "-d", &date, "+%s"]).trim().parse().unwrap();
    let ours = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    theirs - ours
}

/// Rewrite the offset file and wait until node `id` runs `secs` off.
async fn jump(f: &Fault, id: u64, file: &Path, secs: i64) {
    std::fs::write(file, format!("{secs:+}\n")).unwrap();
    let start = std::time::Instant::now();
    loop {
        let s = skew(f, id).await;
        if (s - secs).abs() <= 2 {
            println!("node {id}'s clock is {s:+} s off");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "node {id}'s clock is {s:+} s off, not {secs:+}: is libfaketime intercepting its clock_gettime?"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s9_clock_jump_on_one_node() {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} missing (Debian package libfaketime)"
    );
    let victim = 1;
    let mut f = Fault::new(ServerOpts::new());
    let offset = f
        .cluster
        .node_data_dir(victim)
        .with_file_name("faketime-offset");
    std::fs::write(&offset, "-300\n").unwrap();
    let offset_s = offset.display().to_string();
    f.hosts.set_env(
        Host::Node(victim),
        &[
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME_TIMESTAMP_FILE", &offset_s),
            ("FAKETIME_NO_CACHE", "1"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    f.cluster.start_all().await;
    let v = f.verifier("s9").await;
    jump(&f, victim, &offset, -300).await;
    load_for(5).await;
    let leader = f.leader().await;
    println!("catalog leader: {leader}");
    jump(&f, victim, &offset, 300).await;
    v.wait_writes(20, Duration::from_secs(30), "writes after the jump forward")
        .await;
    load_for(8).await;
    // Back by 5 minutes (not visible in the Date header, see above).
    std::fs::write(&offset, "+0\n").unwrap();
    v.wait_writes(20, Duration::from_secs(30), "writes after the jump back")
        .await;
    load_for(8).await;
    let s = v
        .finish("9 a node's clock -5 min, +5 min, back", READBACK)
        .await;
    s.assert_clean(100);
}
