//! Results of a run: latency percentiles, rates, CPU time; printed as a table or as
//! one JSON line.

use serde::Serialize;
use std::time::Duration;

const MIB: f64 = (1u64 << 20) as f64;

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    pub op: String,
    pub size: u64,
    pub size_human: String,
    pub objects: u64,
    pub concurrency: usize,
    pub part_size: Option<u64>,
    pub part_concurrency: Option<usize>,
    /// Successful operations.
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Payload bytes moved by successful operations (response bytes for `list`).
    pub bytes: u64,
    pub wall_s: f64,
    pub ops_s: f64,
    pub mib_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// CPU time of this process during the measured phase (None where unavailable).
    pub cpu_user_s: Option<f64>,
    pub cpu_sys_s: Option<f64>,
    /// For `list`: keys returned in total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_listed: Option<u64>,
}

/// Latencies of successful operations and the totals of a run.
pub struct Measured {
    pub latencies_ns: Vec<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub bytes: u64,
    pub wall: Duration,
    pub cpu: Option<CpuTime>,
    pub keys_listed: Option<u64>,
}

/// Interpolated percentile (as s3bench.py computes it) of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = (sorted.len() - 1) as f64 * p / 100.0;
    let lo = k.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b) = (sorted[lo] as f64, sorted[hi] as f64);
    a + (b - a) * (k - lo as f64)
}

impl Measured {
    /// Fills in the statistics of `base` (whose descriptive fields are set).
    pub fn into_report(mut self, mut base: Report) -> Report {
        self.latencies_ns.sort_unstable();
        let lat = &self.latencies_ns;
        let ms = |ns: f64| ns / 1e6;
        let secs = self.wall.as_secs_f64();
        let ops = lat.len() as u64;
        base.ops = ops;
        base.errors = self.errors;
        base.first_error = self.first_error;
        base.bytes = self.bytes;
        base.wall_s = secs;
        base.ops_s = if secs > 0.0 { ops as f64 / secs } else { 0.0 };
        base.mib_s = if secs > 0.0 {
            self.bytes as f64 / MIB / secs
        } else {
            0.0
        };
        base.p50_ms = ms(percentile(lat, 50.0));
        base.p90_ms = ms(percentile(lat, 90.0));
        base.p99_ms = ms(percentile(lat, 99.0));
        base.p999_ms = ms(percentile(lat, 99.9));
        base.max_ms = ms(lat.last().map_or(f64::NAN, |&v| v as f64));
        base.mean_ms = if lat.is_empty() {
            f64::NAN
        } else {
            ms(lat.iter().map(|&v| v as f64).sum::<f64>() / lat.len() as f64)
        };
        base.cpu_user_s = self.cpu.map(|c| c.user_s);
        base.cpu_sys_s = self.cpu.map(|c| c.sys_s);
        base.keys_listed = self.keys_listed;
        base
    }
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let parts = match (self.part_size, self.part_concurrency) {
            (Some(ps), Some(pc)) => format!(", parts {} x{pc}", fmt_size(ps)),
            _ => String::new(),
        };
        s.push_str(&format!(
            "cairn bench  {} {} x {} objects, concurrency {}{parts}\n",
            self.op, self.size_human, self.objects, self.concurrency
        ));
        s.push_str(&format!(
            "  endpoint {}  bucket {}  prefix {}\n",
            self.endpoint, self.bucket, self.prefix
        ));
        let row = |s: &mut String, k: &str, v: String| s.push_str(&format!("  {k:<14} {v}\n"));
        row(
            &mut s,
            "ops",
            format!("{} ok, {} errors", self.ops, self.errors),
        );
        row(&mut s, "wall time", format!("{:.3} s", self.wall_s));
        row(&mut s, "ops/s", format!("{:.1}", self.ops_s));
        row(&mut s, "MiB/s", format!("{:.1}", self.mib_s));
        row(
            &mut s,
            "latency ms",
            format!(
                "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  mean {:.2}",
                self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.mean_ms
            ),
        );
        if let (Some(u), Some(sys)) = (self.cpu_user_s, self.cpu_sys_s) {
            row(
                &mut s,
                "client CPU",
                format!("{:.2} s (user {u:.2} + sys {sys:.2})", u + sys),
            );
        }
        if let Some(k) = self.keys_listed {
            row(&mut s, "keys listed", k.to_string());
        }
        if let Some(e) = &self.first_error {
            row(&mut s, "first error", e.clone());
        }
        s
    }

    /// One line of JSON.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// `4KiB`, `1MiB`, `256MiB`, `1.5GiB`, `100B`.
pub fn fmt_size(n: u64) -> String {
    for (unit, mult) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= mult && n.is_multiple_of(mult) {
            return format!("{}{unit}", n / mult);
        }
    }
    for (unit, mult) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= mult {
            return format!("{:.2}{unit}", n as f64 / mult as f64);
        }
    }
    format!("{n}B")
}

/// User and system CPU time of this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTime {
    pub user_s: f64,
    pub sys_s: f64,
}

impl CpuTime {
    /// From `/proc/self/stat` (Linux); None elsewhere.
    pub fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        parse_proc_stat(&stat)
    }

    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_s: (self.user_s - earlier.user_s).max(0.0),
            sys_s: (self.sys_s - earlier.sys_s).max(0.0),
        }
    }
}

/// utime and stime (fields 14 and 15, in clock ticks of 1/100 s — Linux's USER_HZ)
/// of a `/proc/PID/stat` line.
pub fn parse_proc_stat(stat: &str) -> Option<CpuTime> {
    // The command name (field 2) may hold spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // rest starts at field 3 (state): utime is the 12th field from here.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some(CpuTime {
        user_s: utime / 100.0,
        sys_s: stime / 100.0,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50.5);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert!((percentile(&v, 99.0) - 99.01).abs() < 1e-9);
        assert_eq!(percentile(&[7], 99.9), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn proc_stat() {
        let line = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 37 0 0 20 0 1 0 100 0 0";
        let c = parse_proc_stat(line).unwrap();
        assert_eq!(c.user_s, 2.5);
        assert_eq!(c.sys_s, 0.37);
        assert!(CpuTime::now().is_some());
    }

    #[test]
    fn sizes() {
        assert_eq!(fmt_size(4096), "4KiB");
        assert_eq!(fmt_size(256 << 20), "256MiB");
        assert_eq!(fmt_size(100), "100B");
        assert_eq!(fmt_size(1536), "1.50KiB");
    }
}
