//! Per-operation S3 metrics for `/metrics` (what the console's charts read):
//! requests by operation (as s3s names it: `GetObject`, `PutObject`, ...,
//! `PostObject`) and status class, a latency histogram per operation, and bytes
//! in (as declared by `Content-Length`) and out per operation. The operation of a
//! request is learnt where it is resolved (the access check, or the POST object
//! handler) through an `OpSlot` in the request's extensions; a request refused
//! before that (a bad signature, a malformed URI) counts as `Unknown`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Latency bucket bounds in seconds (as the method histogram's).
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0];
const CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];

/// Where a request's operation name is put once known.
#[derive(Clone, Default)]
pub struct OpSlot(Arc<OnceLock<String>>);

impl OpSlot {
    pub fn set(&self, op: &str) {
        let _ = self.0.set(op.to_string());
    }

    pub fn get(&self) -> &str {
        self.0.get().map_or("Unknown", String::as_str)
    }

    /// Names the operation of the request whose extensions hold a slot.
    pub fn name(ext: &http::Extensions, op: &str) {
        if let Some(slot) = ext.get::<OpSlot>() {
            slot.set(op);
        }
    }
}

/// Counters of one operation, or (`OpMetrics::totals`) of all of them.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpStats {
    /// By status class: 2xx, 4xx, 5xx.
    pub requests: [u64; 3],
    /// Per latency bucket of `BUCKETS` (the last: above every bound).
    pub latency: [u64; 11],
    pub latency_sum_micros: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Latency bucket bounds in seconds, as `OpStats::latency` counts them.
pub const LATENCY_BOUNDS: [f64; 10] = BUCKETS;

#[derive(Default)]
pub struct OpMetrics {
    ops: Mutex<BTreeMap<String, OpStats>>,
}

pub static OP_METRICS: std::sync::LazyLock<OpMetrics> = std::sync::LazyLock::new(Default::default);

impl OpMetrics {
    pub fn record(&self, op: &str, status: u16, bytes_in: u64, bytes_out: u64, took: Duration) {
        let class = match status {
            500.. => 2,
            400.. => 1,
            _ => 0,
        };
        let secs = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(BUCKETS.len());
        let Ok(mut ops) = self.ops.lock() else {
            return;
        };
        if !ops.contains_key(op) {
            ops.insert(op.to_string(), OpStats::default());
        }
        let Some(s) = ops.get_mut(op) else {
            return;
        };
        s.requests[class] += 1;
        s.latency[bucket] += 1;
        s.latency_sum_micros += took.as_micros() as u64;
        s.bytes_in += bytes_in;
        s.bytes_out += bytes_out;
    }

    /// The sum over every operation (the console's history samples it).
    pub fn totals(&self) -> OpStats {
        let mut t = OpStats::default();
        let Ok(ops) = self.ops.lock() else {
            return t;
        };
        for s in ops.values() {
            for (a, b) in t.requests.iter_mut().zip(s.requests) {
                *a += b;
            }
            for (a, b) in t.latency.iter_mut().zip(s.latency) {
                *a += b;
            }
            t.latency_sum_micros += s.latency_sum_micros;
            t.bytes_in += s.bytes_in;
            t.bytes_out += s.bytes_out;
        }
        t
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(ops) = self.ops.lock() else {
            return out;
        };
        let _ = writeln!(out, "# TYPE cairn_s3_operation_requests_total counter");
        for (op, s) in ops.iter() {
            for (c, class) in CLASSES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "cairn_s3_operation_requests_total{{op=\"{op}\",status=\"{class}\"}} {}",
                    s.requests[c]
                );
            }
        }
        let _ = writeln!(
            out,
            "# TYPE cairn_s3_operation_received_bytes_total counter"
        );
        for (op, s) in ops.iter() {
            let _ = writeln!(
                out,
                "cairn_s3_operation_received_bytes_total{{op=\"{op}\"}} {}",
                s.bytes_in
            );
        }
        let _ = writeln!(out, "# TYPE cairn_s3_operation_sent_bytes_total counter");
        for (op, s) in ops.iter() {
            let _ = writeln!(
                out,
                "cairn_s3_operation_sent_bytes_total{{op=\"{op}\"}} {}",
                s.bytes_out
            );
        }
        let _ = writeln!(out, "# TYPE cairn_s3_operation_seconds histogram");
        for (op, s) in ops.iter() {
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += s.latency[i];
                let _ = writeln!(
                    out,
                    "cairn_s3_operation_seconds_bucket{{op=\"{op}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += s.latency[BUCKETS.len()];
            let _ = writeln!(
                out,
                "cairn_s3_operation_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {cumulative}"
            );
            let sum = s.latency_sum_micros as f64 / 1e6;
            let _ = writeln!(out, "cairn_s3_operation_seconds_sum{{op=\"{op}\"}} {sum}");
            let _ = writeln!(
                out,
                "cairn_s3_operation_seconds_count{{op=\"{op}\"}} {cumulative}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_operation_and_class() {
        let m = OpMetrics::default();
        m.record("PutObject", 200, 10, 0, Duration::from_millis(2));
        m.record("PutObject", 403, 5, 200, Duration::from_millis(200));
        m.record("GetObject", 200, 0, 99, Duration::from_secs(60));
        let page = m.render();
        assert!(
            page.contains("cairn_s3_operation_requests_total{op=\"PutObject\",status=\"2xx\"} 1")
        );
        assert!(
            page.contains("cairn_s3_operation_requests_total{op=\"PutObject\",status=\"4xx\"} 1")
        );
        assert!(page.contains("cairn_s3_operation_received_bytes_total{op=\"PutObject\"} 15"));
        assert!(page.contains("cairn_s3_operation_sent_bytes_total{op=\"GetObject\"} 99"));
        assert!(page.contains("cairn_s3_operation_seconds_bucket{op=\"PutObject\",le=\"0.005\"} 1"));
        assert!(page.contains("cairn_s3_operation_seconds_bucket{op=\"GetObject\",le=\"30\"} 0"));
        assert!(page.contains("cairn_s3_operation_seconds_count{op=\"GetObject\"} 1"));
    }
}
