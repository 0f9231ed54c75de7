//! Deduplication made visible: logical bytes (what every object and version adds
//! up to, per bucket) against physical bytes (the chunk files on every node,
//! replicas included), as a section of `GET /metrics` refreshed in the
//! background and as the BUCKETS section of `cairn cluster status`.

use crate::metrics::METRICS;
use cairn_node::client::usage::Capacity;
use cairn_node::storage::catalog::BucketUsage;
use cairn_node::NodeClient;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Keeps the usage section of `/metrics` current, recomputed every `every` (a
/// catalog scan).
pub fn spawn_usage_metrics(client: NodeClient, every: Duration) {
    tokio::spawn(async move {
        loop {
            match (client.bucket_usage().await, client.capacity().await) {
                (Ok(usage), Ok(capacity)) => METRICS.set_usage(prometheus(&usage, &capacity)),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::debug!(%error, "usage metrics refresh failed")
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}

fn logical_total(usage: &BTreeMap<String, BucketUsage>) -> u64 {
    usage.values().map(|u| u.logical_bytes).sum()
}

/// A per-bucket gauge: name, help text, and the value it reads.
type Gauge = (&'static str, &'static str, fn(&BucketUsage) -> u64);

pub fn prometheus(usage: &BTreeMap<String, BucketUsage>, capacity: &Capacity) -> String {
    let mut out = String::new();
    let gauges: [Gauge; 4] = [
        (
            "cairn_bucket_logical_bytes",
            "sizes of every version",
            |u| u.logical_bytes,
        ),
        ("cairn_bucket_keys", "keys with a current object", |u| {
            u.keys
        }),
        (
            "cairn_bucket_versions",
            "object versions, current or not",
            |u| u.versions,
        ),
        ("cairn_bucket_delete_markers", "delete markers", |u| {
            u.delete_markers
        }),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (bucket, u) in usage {
            let _ = writeln!(out, "{name}{{bucket=\"{bucket}\"}} {}", value(u));
        }
    }
    let _ = writeln!(out, "# TYPE cairn_logical_bytes gauge");
    let _ = writeln!(out, "cairn_logical_bytes {}", logical_total(usage));
    let _ = writeln!(
        out,
        "# HELP cairn_physical_bytes chunk files on all nodes, replicas included"
    );
    let _ = writeln!(out, "# TYPE cairn_physical_bytes gauge");
    let _ = writeln!(out, "cairn_physical_bytes {}", capacity.physical);
    out
}

/// The BUCKETS section of `cairn cluster status`.
pub fn render(usage: &BTreeMap<String, BucketUsage>, capacity: &Capacity) -> String {
    let mut out = String::from("\nBUCKETS\n");
    let _ = writeln!(
        out,
        "{:<32} {:>10} {:>10} {:>8} {:>14}",
        "bucket", "keys", "versions", "markers", "logical bytes"
    );
    for (bucket, u) in usage {
        let _ = writeln!(
            out,
            "{bucket:<32} {:>10} {:>10} {:>8} {:>14}",
            u.keys, u.versions, u.delete_markers, u.logical_bytes
        );
    }
    let logical = logical_total(usage);
    let stored = capacity.used;
    let ratio = if stored > 0 {
        format!("{:.2}x", logical as f64 / stored as f64)
    } else {
        "-".into()
    };
    let _ = writeln!(
        out,
        "logical {logical} bytes; physical {} bytes on disk ({stored} once, before replication); deduplication {ratio} (objects below 64 KiB live in the catalog and count as logical only)",
        capacity.physical
    );
    out
}
