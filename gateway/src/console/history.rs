//! The console's charts: a bounded in-process history of the S3 operation
//! metrics (`op_metrics`), one sample every `every` (10 s by default, the last
//! 360 kept: an hour), each the rates over its interval: requests and errors per
//! second, bytes in and out per second, mean and 95th-percentile latency (the
//! upper bound of the histogram bucket holding it). Served as JSON at
//! `/history.json` of the console listener.

use crate::op_metrics::{OpStats, LATENCY_BOUNDS, OP_METRICS};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Samples kept (an hour at the default interval).
pub const KEEP: usize = 360;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Sample {
    /// End of the interval, ms since the epoch.
    pub t: i64,
    pub requests_per_s: f64,
    /// 4xx and 5xx answers per second.
    pub errors_per_s: f64,
    pub in_bytes_per_s: f64,
    pub out_bytes_per_s: f64,
    /// Mean latency to the response head, ms (0 without requests).
    pub latency_avg_ms: f64,
    /// 95th percentile, as the upper bound of its histogram bucket, ms.
    pub latency_p95_ms: f64,
}

#[derive(Serialize)]
struct Page<'a> {
    interval_s: f64,
    samples: &'a VecDeque<Sample>,
}

/// The samples, newest last.
pub struct History {
    every: Duration,
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    pub fn new(every: Duration) -> Self {
        History {
            every,
            samples: Mutex::new(VecDeque::with_capacity(KEEP)),
        }
    }

    /// Starts sampling `OP_METRICS` in the background.
    pub fn spawn(every: Duration) -> Arc<History> {
        let history = Arc::new(History::new(every));
        let h = history.clone();
        tokio::spawn(async move {
            let mut prev = OP_METRICS.totals();
            let mut tick = tokio::time::interval(h.every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = OP_METRICS.totals();
                h.push(sample(&prev, &now, h.every, now_ms()));
                prev = now;
            }
        });
        history
    }

    pub fn push(&self, s: Sample) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() == KEEP {
                samples.pop_front();
            }
            samples.push_back(s);
        }
    }

    pub fn json(&self) -> String {
        let Ok(samples) = self.samples.lock() else {
            return "{}".into();
        };
        serde_json::to_string(&Page {
            interval_s: self.every.as_secs_f64(),
            samples: &samples,
        })
        .unwrap_or_else(|_| "{}".into())
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The rates between two readings of the counters `every` apart.
pub fn sample(prev: &OpStats, now: &OpStats, every: Duration, t: i64) -> Sample {
    let secs = every.as_secs_f64().max(0.001);
    let d = |a: u64, b: u64| b.saturating_sub(a);
    let ok = d(prev.requests[0], now.requests[0]);
    let errors = d(prev.requests[1], now.requests[1]) + d(prev.requests[2], now.requests[2]);
    let buckets: Vec<u64> = prev
        .latency
        .iter()
        .zip(now.latency)
        .map(|(a, b)| d(*a, b))
        .collect();
    let count: u64 = buckets.iter().sum();
    let sum_ms = d(prev.latency_sum_micros, now.latency_sum_micros) as f64 / 1000.0;
    let mut p95 = 0.0;
    if count > 0 {
        let want = (count as f64 * 0.95).ceil() as u64;
        let mut seen = 0;
        for (i, n) in buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                // Above the last bound: say the last bound.
                let bound = LATENCY_BOUNDS.get(i).or(LATENCY_BOUNDS.last());
                p95 = bound.copied().unwrap_or(0.0) * 1000.0;
                break;
            }
        }
    }
    Sample {
        t,
        requests_per_s: (ok + errors) as f64 / secs,
        errors_per_s: errors as f64 / secs,
        in_bytes_per_s: d(prev.bytes_in, now.bytes_in) as f64 / secs,
        out_bytes_per_s: d(prev.bytes_out, now.bytes_out) as f64 / secs,
        latency_avg_ms: if count > 0 {
            sum_ms / count as f64
        } else {
            0.0
        },
        latency_p95_ms: p95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_percentile() {
        let prev = OpStats::default();
        let mut latency = [0; 11];
        latency[1] = 19; // <= 5 ms
        latency[7] = 1; // <= 1 s
        let now = OpStats {
            requests: [18, 1, 1],
            latency,
            latency_sum_micros: 20 * 10_000,
            bytes_in: 1000,
            bytes_out: 5000,
        };
        let s = sample(&prev, &now, Duration::from_secs(10), 7);
        assert_eq!(s.requests_per_s, 2.0);
        assert_eq!(s.errors_per_s, 0.2);
        assert_eq!(s.in_bytes_per_s, 100.0);
        assert_eq!(s.out_bytes_per_s, 500.0);
        assert_eq!(s.latency_avg_ms, 10.0);
        assert_eq!(s.latency_p95_ms, 5.0);
    }

    #[test]
    fn keeps_at_most_an_hour() {
        let h = History::new(Duration::from_secs(10));
        let z = OpStats::default();
        for t in 0..(KEEP as i64 + 5) {
            h.push(sample(&z, &z, Duration::from_secs(10), t));
        }
        let v: serde_json::Value = serde_json::from_str(&h.json()).expect("JSON");
        let samples = v["samples"].as_array().expect("samples");
        assert_eq!(samples.len(), KEEP);
        assert_eq!(samples[0]["t"], 5);
        assert_eq!(samples[0]["latency_p95_ms"], 0.0);
    }
}
