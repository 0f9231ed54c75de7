//! The fault suite (docs/faults.md): a 3-node cluster and its gateway, each
//! process in its own network namespace with its own address (`cairn_tests::netns`),
//! under the verifying client's load (`cairn_tests::verifier`) while one fault
//! happens: kill -9, partitions, a full disk, bit rot, a gateway killed mid-upload,
//! a clock jump. Every scenario ends with the read-back, the lost/bad-read counts
//! and the linearizability check of the whole history, and prints its row of the
//! fault table. Needs root; `cargo test` skips this target by default (`test =
//! false`), `tests/run.sh` runs it as its own stage.
#![allow(clippy::unwrap_used)]
#![allow(clippy::expect_used)]
#![allow(clippy::panic)]

mod clock;
mod crash;
mod disk;
mod partition;
mod upload;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_tests::netns::{Host, Hosts};
use cairn_tests::verifier::{Verifier, VerifyOpts};
use cairn_tests::*;

/// The gateway's chunk size: objects of the load span 1–5 chunks.
pub const CHUNK: usize = 128 * 1024;

/// How long the final read-back may retry a key.
pub const READBACK: Duration = Duration::from_secs(60);

/// A cluster on separate hosts, torn down (processes, mounts, namespaces) on drop.
pub struct Fault {
    pub cluster: Cluster,
    pub hosts: Arc<Hosts>,
    mounts: Vec<PathBuf>,
}

impl Fault {
    /// The cluster's namespaces and files; nothing started.
    pub fn new(server: ServerOpts) -> Fault {
        let hosts = Arc::new(Hosts::create(3));
        let opts = ClusterOpts::new()
            .hosts(hosts.clone())
            .server(server.chunk_size(CHUNK));
        Fault {
            cluster: Cluster::new_stopped(opts),
            hosts,
            mounts: Vec::new(),
        }
    }

    /// [`Fault::new`] and start everything.
    pub async fn launch(server: ServerOpts) -> Fault {
        let mut f = Fault::new(server);
        f.cluster.start_all().await;
        f
    }

    /// Create bucket `fault-NAME` and start the verifying load on it.
    pub async fn verifier(&self, name: &str) -> Verifier {
        let bucket = format!("fault-{name}");
        create_bucket(&self.cluster.client(), &bucket).await;
        Verifier::start(&self.cluster.endpoint(), VerifyOpts::new(&bucket))
    }

    /// Put node `id`'s data directory on a tmpfs of `size` (e.g. "300m").
    pub fn mount_tmpfs(&mut self, id: u64, size: &str) {
        let dir = self.cluster.node_data_dir(id);
        run(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            path(&dir),
        ]);
        self.mounts.push(dir);
    }

    /// The catalog leader, once exactly one node says it leads.
    pub async fn leader(&self) -> u64 {
        self.cluster
            .wait_catalog_leader(Duration::from_secs(30))
            .await
    }

    /// Wait until a node other than `old` leads the catalog (the old one may still
    /// believe it leads while it is cut off).
    pub async fn wait_new_leader(&self, old: u64, limit: Duration) -> (u64, Duration) {
        let start = Instant::now();
        loop {
            for id in self.cluster.node_ids().into_iter().filter(|&n| n != old) {
                if let Some(m) = self.cluster.node_metrics(id).await {
                    if m.group("cairn_raft_is_leader", 0) == Some(1.0) {
                        return (id, start.elapsed());
                    }
                }
            }
            assert!(
                start.elapsed() < limit,
                "no new catalog leader (old: {old}) within {limit:?}\n{}",
                self.cluster.log_tail(32 * 1024)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The nodes other than `id`, as hosts.
    pub fn peers(&self, id: u64) -> Vec<Host> {
        self.cluster
            .node_ids()
            .into_iter()
            .filter(|&n| n != id)
            .map(Host::Node)
            .collect()
    }
}

impl Drop for Fault {
    fn drop(&mut self) {
        self.cluster.kill9_all();
        for m in self.mounts.drain(..) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

pub fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Run a command; panic with its output unless it exits 0. Returns stdout.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Let the load run for `secs` seconds.
pub async fn load_for(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}
