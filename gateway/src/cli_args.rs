//! Argument groups of the `cairn` binary's commands that more than one command
//! shares (clap `Args`): the lifecycle schedule, the scrub's pace, the databases'
//! caches, the S3 endpoint's connection limits, and the size and duration parsers.

use cairn_node::cluster::config::{ClusterConfig, ScrubSettings};
use cairn_node::storage::DbCaches;
use std::time::Duration;

/// The lifecycle worker's schedule and (for tests) its clock.
#[derive(clap::Args)]
pub struct LifecycleArgs {
    /// Seconds between lifecycle passes.
    #[arg(long, default_value_t = 3600)]
    pub lifecycle_interval: u64,
    /// Days added to the lifecycle worker's clock (tests only).
    #[arg(
        long,
        hide = true,
        env = "CAIRN_LIFECYCLE_CLOCK_OFFSET_DAYS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub lifecycle_clock_offset_days: i64,
}

impl LifecycleArgs {
    pub fn offset_ms(&self) -> i64 {
        self.lifecycle_clock_offset_days
            .saturating_mul(cairn_node::lifecycle::DAY_MS)
    }
}

/// The background scrub (re-verification of every chunk held); for `cairn node`
/// these override `[scrub]` in the cluster file.
#[derive(clap::Args)]
pub struct ScrubArgs {
    /// Time between full scrub passes: seconds, or e.g. "7d", "12h", "30m"; 0 turns
    /// scrubbing off. Default: 7d (or `[scrub] interval`).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub scrub_interval: Option<Duration>,
    /// Bytes per second a scrub pass reads at most, e.g. "32MiB"; 0: no limit.
    /// Default: 32MiB (or `[scrub] bandwidth`).
    #[arg(long, value_parser = parse_min_free, value_name = "SIZE")]
    pub scrub_bandwidth: Option<u64>,
}

impl ScrubArgs {
    pub fn apply(&self, mut settings: ScrubSettings) -> ScrubSettings {
        if let Some(i) = self.scrub_interval {
            settings.interval = i;
        }
        if let Some(b) = self.scrub_bandwidth {
            settings.bandwidth = b;
        }
        settings
    }
}

/// Page caches of the node's two databases: what a node's memory holds of them,
/// whatever the store's size (rows past a cache are read from the kernel's page
/// cache).
#[derive(clap::Args)]
pub struct CacheArgs {
    /// Page cache of the catalog database (buckets, objects, versions, uploads),
    /// e.g. "64MiB". Default: 32MiB.
    #[arg(long, value_parser = parse_min_free, value_name = "SIZE")]
    pub catalog_cache: Option<u64>,
    /// Page cache of the Raft log database. Default: 32MiB.
    #[arg(long, value_parser = parse_min_free, value_name = "SIZE")]
    pub log_cache: Option<u64>,
}

impl CacheArgs {
    pub fn caches(&self) -> DbCaches {
        let mut caches = DbCaches::default();
        let bytes = |b: u64| usize::try_from(b).unwrap_or(usize::MAX);
        if let Some(b) = self.catalog_cache {
            caches.catalog = bytes(b);
        }
        if let Some(b) = self.log_cache {
            caches.log = bytes(b);
        }
        caches
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    ClusterConfig::parse_duration(s.trim_end_matches("/s"))
        .ok_or_else(|| format!("not a duration: {s:?} (seconds, or e.g. \"30m\", \"12h\", \"7d\")"))
}

/// Connection limits of the S3 endpoint.
#[derive(clap::Args)]
pub struct LimitArgs {
    /// Seconds a request's header may take to arrive from its first byte.
    #[arg(long, default_value_t = 30)]
    pub header_timeout: u64,
    /// Seconds an idle keep-alive connection is kept open between requests.
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// Seconds a request body (or a response the client does not read) may move
    /// no byte before the request fails (400 RequestTimeout).
    #[arg(long, default_value_t = 60)]
    pub body_idle_timeout: u64,
    /// Connections served at once; more are answered 503 SlowDown and closed.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Request bodies above 64 KiB read at once (each holds up to one chunk in
    /// memory while it arrives); more wait for a turn, at most the body-idle
    /// timeout, then get 503 SlowDown.
    #[arg(long, default_value_t = 256)]
    pub max_open_bodies: usize,
    /// Seconds between recomputations of the usage section of /metrics (keys,
    /// versions, logical bytes per bucket: a scan of the catalog).
    #[arg(long, default_value_t = 30)]
    pub usage_refresh: u64,
}

impl LimitArgs {
    pub fn limits(&self) -> Result<crate::server::Limits, String> {
        if self.max_connections == 0 || self.max_open_bodies == 0 {
            return Err("--max-connections and --max-open-bodies must be positive".to_string());
        }
        if self.header_timeout == 0
            || self.idle_timeout == 0
            || self.body_idle_timeout == 0
            || self.usage_refresh == 0
        {
            return Err("timeouts must be positive".to_string());
        }
        Ok(crate::server::Limits {
            header_timeout: Duration::from_secs(self.header_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout),
            max_connections: self.max_connections,
            max_open_bodies: self.max_open_bodies,
            usage_refresh: Duration::from_secs(self.usage_refresh),
        })
    }
}

/// `--min-free`: bytes, or a size with a unit.
pub fn parse_min_free(s: &str) -> Result<u64, String> {
    ClusterConfig::parse_size(s)
        .ok_or_else(|| format!("not a size: {s:?} (bytes, or e.g. \"64MiB\", \"1GB\")"))
}
