//! A full disk. The data directory (every node's, in a cluster: they share the
//! mount) sits on a small tmpfs, which a filler file fills: writes are refused
//! with 507 InsufficientCapacity while reads keep working, and once the filler
//! is deleted writes are accepted again by the same process(es), with no restart.
//! A second test runs the tmpfs out of inodes instead, which `statvfs`'s free
//! bytes do not show: the chunk write itself meets `ENOSPC` inside the Raft group
//! and stops it, and the group must come back by itself once files are deleted.
//! Needs root (to mount); skipped, with the reason printed, where mounting fails.

use cairn_node::storage::disk_space::space_of;
use cairn_tests::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A tmpfs mounted at a fresh directory; unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// `options`: tmpfs mount options, e.g. "size=64m".
    fn mount(options: &str) -> Option<Tmpfs> {
        let dir = tempfile::Builder::new()
            .prefix("cairn-tmpfs-")
            .tempdir()
            .unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

fn free(dir: &Path) -> u64 {
    space_of(dir).unwrap().free
}

/// Grows the filler file `path` until at most `leave` bytes are free.
fn fill_to(path: &Path, leave: u64) {
    let dir = path.parent().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let block = vec![0xa5u8; 256 * KIB];
    loop {
        let now = free(dir);
        if now <= leave {
            break;
        }
        let want = ((now - leave) as usize).min(block.len());
        // Whole pages: tmpfs counts pages.
        let want = want.div_ceil(4096) * 4096;
        if let Err(e) = f.write_all(&block[..want]).and_then(|()| f.flush()) {
            panic!("filling {}: {e} with {now} bytes free", path.display());
        }
    }
}

#[tokio::test]
async fn full_disk_refuses_writes_with_507_serves_reads_and_recovers_without_restart() {
    // Three nodes share the mount in cluster mode: room for three copies.
    let Some(fs) = Tmpfs::mount("size=192m") else {
        return;
    };
    const FLOOR: u64 = 8 << 20;
    let server = Server::start(
        ServerOpts::new()
            .min_free(&FLOOR.to_string())
            .data_parent(fs.path()),
    )
    .await;
    let pid = server.pid();
    let c = server.client_no_retry();
    create_bucket(&c, "full").await;
    let big = payload(1, 5 * MIB + 3);
    let small = payload(2, KIB);
    put(&c, "full", "before/big", big.clone()).await;
    put(&c, "full", "before/small", small.clone()).await;

    // Less free than a chunk plus the floor, more than half the floor: chunks are
    // refused, catalog writes (an inline object) still commit.
    let filler = fs.path().join("filler");
    fill_to(&filler, FLOOR / 2 + 2 * MIB as u64);
    let res = c
        .put_object()
        .bucket("full")
        .key("during/big")
        .body(body(payload(3, 5 * MIB)))
        .send()
        .await;
    assert_err(res, 507, &["InsufficientCapacity"]);
    put(&c, "full", "during/small", small.clone()).await;

    // Below half the floor: catalog writes are refused too.
    fill_to(&filler, MIB as u64);
    let res = c
        .put_object()
        .bucket("full")
        .key("during/small-2")
        .body(body(small.clone()))
        .send()
        .await;
    assert_err(res, 507, &["InsufficientCapacity"]);
    let res = c
        .put_object()
        .bucket("full")
        .key("during/big-2")
        .body(body(payload(4, 5 * MIB)))
        .send()
        .await;
    assert_err(res, 507, &["InsufficientCapacity"]);

    // Reads are served all along.
    assert_eq!(get_bytes(&c, "full", "before/big").await, big);
    assert_eq!(get_bytes(&c, "full", "before/small").await, small);
    assert_eq!(get_bytes(&c, "full", "during/small").await, small);
    assert_eq!(
        list_keys(&c, "full").await,
        ["before/big", "before/small", "during/small"]
    );

    // Room again: the same process(es) accept writes at once.
    std::fs::remove_file(&filler).unwrap();
    let after = payload(5, 9 * MIB + 1);
    put(&c, "full", "after/big", after.clone()).await;
    put(&c, "full", "after/small", small.clone()).await;
    assert_eq!(get_bytes(&c, "full", "after/big").await, after);
    assert_eq!(get_bytes(&c, "full", "before/big").await, big);
    assert!(server.is_running());
    assert_eq!(server.pid(), pid, "no restart");
    if let Some(cluster) = server.cluster() {
        for id in cluster.node_ids() {
            assert!(cluster.node_is_running(id), "node {id} still running");
        }
    }
    let data_dirs: Vec<PathBuf> = std::fs::read_dir(fs.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for dir in data_dirs {
        let tmp = dir.join("chunks/tmp");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "no temp files left in {}",
            tmp.display()
        );
    }
    drop(server);
}

/// Creates empty files in `dir` until the file system has no inode left.
fn use_up_inodes(dir: &Path) -> usize {
    std::fs::create_dir(dir).unwrap();
    let mut n = 0;
    loop {
        match std::fs::File::create(dir.join(n.to_string())) {
            Ok(_) => n += 1,
            Err(e) if e.raw_os_error() == Some(28) => return n, // ENOSPC
            Err(e) => panic!("creating filler file {n}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enospc_inside_a_raft_group_answers_507_and_the_group_recovers_without_restart() {
    let Some(fs) = Tmpfs::mount("size=256m,nr_inodes=4096") else {
        return;
    };
    let server = Server::start(ServerOpts::new().data_parent(fs.path())).await;
    let pid = server.pid();
    let c = server.client_no_retry();
    create_bucket(&c, "inodes").await;
    let before = payload(10, 2 * MIB + 5);
    put(&c, "inodes", "before", before.clone()).await;

    // Bytes are free (no floor is crossed), inodes are not: the chunk's temp file
    // cannot be created, inside the placement group's log append.
    let filler = fs.path().join("filler");
    let files = use_up_inodes(&filler);
    assert!(files > 0);
    let res = c
        .put_object()
        .bucket("inodes")
        .key("during")
        .body(body(payload(11, MIB + 1)))
        .send()
        .await;
    assert_err(res, 507, &["InsufficientCapacity"]);
    assert_eq!(get_bytes(&c, "inodes", "before").await, before);

    // Room again: the stopped group restarts by itself and takes writes.
    std::fs::remove_dir_all(&filler).unwrap();
    let after = payload(12, MIB + 1);
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    loop {
        match c
            .put_object()
            .bucket("inodes")
            .key("after")
            .body(body(after.clone()))
            .send()
            .await
        {
            Ok(_) => break,
            Err(e) => failures.push(describe(&e)),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no PUT accepted within 60 s of freeing inodes:\n{}",
            failures.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    println!(
        "figure: writes accepted again {:.1} s after inodes were freed ({} refused meanwhile)",
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert_eq!(get_bytes(&c, "inodes", "after").await, after);
    assert_eq!(get_bytes(&c, "inodes", "before").await, before);
    assert_eq!(server.pid(), pid, "no restart");
    if let Some(cluster) = server.cluster() {
        for id in cluster.node_ids() {
            assert!(cluster.node_is_running(id), "node {id} still running");
        }
    }
    let logs = server.log_tail(8 << 20);
    assert!(
        logs.contains("group restarted after a storage failure"),
        "the group stopped by ENOSPC was restarted in-process:\n{logs}"
    );
    for entry in std::fs::read_dir(fs.path()).unwrap() {
        let tmp = entry.unwrap().path().join("chunks/tmp");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "temp files left in {}",
            tmp.display()
        );
    }
    drop(server);
}
