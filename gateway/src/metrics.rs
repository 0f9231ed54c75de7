//! The gateway's Prometheus metrics: S3 requests by method and status class,
//! request bytes (as read) and response bytes (by Content-Length), a latency histogram and, on a
//! cluster gateway, the cluster's map epoch, capacity and move progress (refreshed
//! in the background), and the usage section (`usage.rs`). Served at `GET /metrics`,
//! with the per-operation section of `op_metrics.rs`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

const METHODS: [&str; 6] = ["GET", "HEAD", "PUT", "POST", "DELETE", "OTHER"];
const CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];
/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0];

pub struct Metrics {
    requests: [[AtomicU64; 3]; 6],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    latency: [AtomicU64; 11],
    latency_sum_micros: AtomicU64,
    /// The cluster section, rendered by the last refresh.
    cluster: Mutex<String>,
    /// The usage section (logical and physical bytes), rendered by the last refresh.
    usage: Mutex<String>,
}

pub static METRICS: Metrics = Metrics {
    requests: [const { [const { AtomicU64::new(0) }; 3] }; 6],
    bytes_in: AtomicU64::new(0),
    bytes_out: AtomicU64::new(0),
    latency: [const { AtomicU64::new(0) }; 11],
    latency_sum_micros: AtomicU64::new(0),
    cluster: Mutex::new(String::new()),
    usage: Mutex::new(String::new()),
};

impl Metrics {
    /// Counts request body bytes as they are read (not as declared).
    pub fn add_received(&self, bytes: u64) {
        self.bytes_in.fetch_add(bytes, Relaxed);
    }

    pub fn record(&self, method: &str, status: u16, bytes_out: u64, took: Duration) {
        let m = METHODS
            .iter()
            .position(|x| *x == method)
            .unwrap_or(METHODS.len() - 1);
        let c = match status {
            500.. => 2,
            400.. => 1,
            _ => 0,
        };
        self.requests[m][c].fetch_add(1, Relaxed);
        self.bytes_out.fetch_add(bytes_out, Relaxed);
        let secs = took.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(BUCKETS.len());
        self.latency[b].fetch_add(1, Relaxed);
        self.latency_sum_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
    }

    /// Replaces the cluster section of the page.
    pub fn set_cluster(&self, text: String) {
        if let Ok(mut c) = self.cluster.lock() {
            *c = text;
        }
    }

    /// Replaces the usage section of the page.
    pub fn set_usage(&self, text: String) {
        if let Ok(mut u) = self.usage.lock() {
            *u = text;
        }
    }

    pub fn render(&self) -> String {
        let mut out = self.cluster.lock().map(|c| c.clone()).unwrap_or_default();
        out.push_str(&self.usage.lock().map(|u| u.clone()).unwrap_or_default());
        let _ = writeln!(out, "# TYPE cairn_s3_requests_total counter");
        for (m, method) in METHODS.iter().enumerate() {
            for (c, class) in CLASSES.iter().enumerate() {
                let n = self.requests[m][c].load(Relaxed);
                let _ = writeln!(
                    out,
                    "cairn_s3_requests_total{{method=\"{method}\",status=\"{class}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# TYPE cairn_s3_received_bytes_total counter");
        let _ = writeln!(
            out,
            "cairn_s3_received_bytes_total {}",
            self.bytes_in.load(Relaxed)
        );
        let _ = writeln!(out, "# TYPE cairn_s3_sent_bytes_total counter");
        let _ = writeln!(
            out,
            "cairn_s3_sent_bytes_total {}",
            self.bytes_out.load(Relaxed)
        );
        let _ = writeln!(out, "# TYPE cairn_s3_request_seconds histogram");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Relaxed);
            let _ = writeln!(
                out,
                "cairn_s3_request_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.latency[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "cairn_s3_request_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.latency_sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "cairn_s3_request_seconds_sum {sum}");
        let _ = writeln!(out, "cairn_s3_request_seconds_count {cumulative}");
        out
    }
}
