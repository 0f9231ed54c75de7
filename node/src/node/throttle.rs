//! A byte-rate limiter (token bucket with one second of burst) for data a node
//! pulls while placement groups move to it, so client traffic keeps its share.

use tokio::time::{Duration, Instant};

#[derive(Default)]
pub struct Throttle {
    /// When the bytes taken so far will have been "paid" at the rate.
    next: std::sync::Mutex<Option<Instant>>,
}

/// Bytes may run this far ahead of the rate.
const BURST: Duration = Duration::from_secs(1);

impl Throttle {
    /// Waits until `bytes` more fit under `rate` bytes per second (0: no limit).
    pub async fn take(&self, bytes: u64, rate: u64) {
        if rate == 0 || bytes == 0 {
            return;
        }
        let now = Instant::now();
        let due = {
            let Ok(mut next) = self.next.lock() else {
                return;
            };
            let floor = now.checked_sub(BURST).unwrap_or(now);
            let start = next.map_or(floor, |n| n.max(floor));
            let due = start + Duration::from_secs_f64(bytes as f64 / rate as f64);
            *next = Some(due);
            due
        };
        if let Some(wait) = due.checked_duration_since(now) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_rate_after_the_burst() {
        let t = Throttle::default();
        let start = tokio::time::Instant::now();
        // 10 × 1 MiB at 2 MiB/s: the first second is burst, the rest takes ~4 s.
        for _ in 0..10 {
            t.take(1 << 20, 2 << 20).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(3900), "{took:?}");
        assert!(took <= Duration::from_millis(4600), "{took:?}");
    }
}
