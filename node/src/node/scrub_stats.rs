//! What the scrubber (`scrub.rs`) has found, process-wide (a process runs at most
//! one node): its counters, where the pass stands, the chunks it could not repair
//! and the objects they belong to, the queue of chunks readers reported corrupt,
//! and their `/metrics` and status forms.

use crate::cluster::config::ScrubSettings;
use crate::ids::ChunkId;
use crate::rpc::messages::{AffectedObject, ScrubStatus};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Chunks kept in the unrepaired set (beyond: counted, not listed).
const MAX_UNREPAIRED: usize = 100_000;
/// Affected objects kept (and shown in status and metrics).
pub const MAX_AFFECTED: usize = 100;
/// Reported chunks waiting to be checked, at most.
const MAX_SUSPECTS: usize = 1024;

pub(super) struct Counters {
    pub passes: AtomicU64,
    pub chunks_verified: AtomicU64,
    pub bytes_verified: AtomicU64,
    pub corrupt_found: AtomicU64,
    pub missing_found: AtomicU64,
    pub repaired: AtomicU64,
    pub unrepairable: AtomicU64,
}

pub(super) static COUNTERS: Counters = Counters {
    passes: AtomicU64::new(0),
    chunks_verified: AtomicU64::new(0),
    bytes_verified: AtomicU64::new(0),
    corrupt_found: AtomicU64::new(0),
    missing_found: AtomicU64::new(0),
    repaired: AtomicU64::new(0),
    unrepairable: AtomicU64::new(0),
};

pub(super) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

#[derive(Default)]
struct State {
    configured: bool,
    enabled: bool,
    interval_secs: u64,
    bandwidth: u64,
    /// The pass running (its number, from 1), 0 when none.
    pass: u64,
    progress: f64,
    last_pass_ms: i64,
    last_pass_secs: f64,
    unrepaired: BTreeSet<ChunkId>,
    /// Affected object → the pass that last found it.
    affected: BTreeMap<(String, String, Option<String>, ChunkId), u64>,
    suspects: VecDeque<ChunkId>,
}

static STATE: Mutex<State> = Mutex::new(State {
    configured: false,
    enabled: false,
    interval_secs: 0,
    bandwidth: 0,
    pass: 0,
    progress: 0.0,
    last_pass_ms: 0,
    last_pass_secs: 0.0,
    unrepaired: BTreeSet::new(),
    affected: BTreeMap::new(),
    suspects: VecDeque::new(),
});

fn state() -> MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn configure(s: &ScrubSettings) {
    let mut st = state();
    st.configured = true;
    st.enabled = !s.interval.is_zero();
    st.interval_secs = s.interval.as_secs();
    st.bandwidth = s.bandwidth;
}

pub(super) fn pass_started(pass: u64) {
    let mut st = state();
    st.pass = pass;
    st.progress = 0.0;
}

pub(super) fn progress(p: f64) {
    state().progress = p.clamp(0.0, 1.0);
}

/// Ends pass `pass`: affected objects it did not find again are dropped.
pub(super) fn pass_done(pass: u64, finished_ms: i64, secs: f64) {
    bump(&COUNTERS.passes, 1);
    let mut st = state();
    st.pass = 0;
    st.progress = 1.0;
    st.last_pass_ms = finished_ms;
    st.last_pass_secs = secs;
    st.affected.retain(|_, seen| *seen >= pass);
}

/// The scrub's last finished pass (restored from the data directory at start).
pub(super) fn set_last_pass(ms: i64) {
    state().last_pass_ms = ms;
}

/// Whether `id` is known to have no good copy here.
pub(super) fn is_unrepaired(id: &ChunkId) -> bool {
    state().unrepaired.contains(id)
}

/// Records that `id` could not be repaired; true the first time.
pub(super) fn unrepaired(id: ChunkId) -> bool {
    let mut st = state();
    if st.unrepaired.contains(&id) {
        return false;
    }
    if st.unrepaired.len() < MAX_UNREPAIRED {
        st.unrepaired.insert(id);
    }
    bump(&COUNTERS.unrepairable, 1);
    true
}

/// `id` has a good copy again.
pub(super) fn repaired(id: &ChunkId) {
    bump(&COUNTERS.repaired, 1);
    let mut st = state();
    st.unrepaired.remove(id);
    st.affected.retain(|k, _| k.3 != *id);
}

/// A good copy of `id` turned up without a repair (written again).
pub(super) fn present(id: &ChunkId) {
    let mut st = state();
    if st.unrepaired.remove(id) {
        st.affected.retain(|k, _| k.3 != *id);
    }
}

/// Records an object referring to an unrepaired chunk, found in `pass`; true
/// when it was not listed yet.
pub(super) fn affected(pass: u64, obj: (String, String, Option<String>, ChunkId)) -> bool {
    let mut st = state();
    if let Some(seen) = st.affected.get_mut(&obj) {
        *seen = pass;
        return false;
    }
    if st.affected.len() < MAX_AFFECTED {
        st.affected.insert(obj, pass);
    }
    true
}

/// A reader found this node's copy of `id` corrupt: queue it for checking.
pub fn suspect(id: ChunkId) {
    let mut st = state();
    if st.suspects.len() < MAX_SUSPECTS && !st.suspects.contains(&id) {
        st.suspects.push_back(id);
    }
}

pub(super) fn take_suspects() -> Vec<ChunkId> {
    state().suspects.drain(..).collect()
}

pub fn status() -> ScrubStatus {
    let st = state();
    let c = &COUNTERS;
    ScrubStatus {
        enabled: st.enabled,
        interval_secs: st.interval_secs,
        bandwidth: st.bandwidth,
        passes: c.passes.load(Ordering::Relaxed),
        last_pass_ms: st.last_pass_ms,
        last_pass_secs: st.last_pass_secs,
        running: st.pass > 0,
        progress: st.progress,
        chunks_verified: c.chunks_verified.load(Ordering::Relaxed),
        bytes_verified: c.bytes_verified.load(Ordering::Relaxed),
        corrupt_found: c.corrupt_found.load(Ordering::Relaxed),
        missing_found: c.missing_found.load(Ordering::Relaxed),
        repaired: c.repaired.load(Ordering::Relaxed),
        unrepairable: c.unrepairable.load(Ordering::Relaxed),
        unrepaired_now: st.unrepaired.len() as u64,
        affected: st
            .affected
            .keys()
            .map(|(bucket, key, version, chunk)| AffectedObject {
                bucket: bucket.clone(),
                key: key.clone(),
                version: version.clone(),
                chunk: chunk.to_hex(),
            })
            .collect(),
    }
}

/// The scrub's counters in Prometheus text ("" where no node runs).
pub fn render_scrub_metrics() -> String {
    if !state().configured {
        return String::new();
    }
    let s = status();
    let mut out = String::new();
    for (name, help, v) in [
        ("passes", "full scrub passes finished", s.passes),
        (
            "chunks_verified",
            "chunk files read and verified",
            s.chunks_verified,
        ),
        (
            "bytes_verified",
            "bytes of chunk files verified",
            s.bytes_verified,
        ),
        (
            "corrupt_found",
            "chunk files that failed verification (moved aside)",
            s.corrupt_found,
        ),
        (
            "missing_found",
            "referenced chunks whose file was missing",
            s.missing_found,
        ),
        (
            "repaired",
            "chunks fetched again from a healthy replica",
            s.repaired,
        ),
        (
            "unrepairable",
            "chunks no replica could give back",
            s.unrepairable,
        ),
    ] {
        let _ = writeln!(out, "# HELP cairn_scrub_{name}_total {help}");
        let _ = writeln!(out, "# TYPE cairn_scrub_{name}_total counter");
        let _ = writeln!(out, "cairn_scrub_{name}_total {v}");
    }
    let last = s.last_pass_ms as f64 / 1000.0;
    for (name, help, v) in [
        (
            "enabled",
            "1 when background scrubbing runs",
            f64::from(u8::from(s.enabled)),
        ),
        (
            "last_pass_timestamp_seconds",
            "when the last full pass finished (0: none yet)",
            last,
        ),
        (
            "last_pass_duration_seconds",
            "how long the last full pass took",
            s.last_pass_secs,
        ),
        (
            "running",
            "1 while a pass runs",
            f64::from(u8::from(s.running)),
        ),
        (
            "pass_progress",
            "fraction of the running (or last) pass done",
            s.progress,
        ),
        (
            "unrepaired_chunks",
            "chunks without a good copy here now",
            s.unrepaired_now as f64,
        ),
        (
            "affected_objects",
            "objects listed as referring to an unrepaired chunk",
            s.affected.len() as f64,
        ),
    ] {
        let _ = writeln!(out, "# HELP cairn_scrub_{name} {help}");
        let _ = writeln!(out, "# TYPE cairn_scrub_{name} gauge");
        let _ = writeln!(out, "cairn_scrub_{name} {v}");
    }
    if !s.affected.is_empty() {
        let _ = writeln!(
            out,
            "# HELP cairn_scrub_affected_object an object that refers to a chunk no replica could repair"
        );
        let _ = writeln!(out, "# TYPE cairn_scrub_affected_object gauge");
        for a in &s.affected {
            let _ = writeln!(
                out,
                "cairn_scrub_affected_object{{bucket=\"{}\",key=\"{}\",version=\"{}\",chunk=\"{}\"}} 1",
                label(&a.bucket),
                label(&a.key),
                label(a.version.as_deref().unwrap_or("")),
                a.chunk
            );
        }
    }
    out
}

/// A Prometheus label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
