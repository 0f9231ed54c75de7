//! `cairn cluster status`: the nodes (up/down, capacity, used), every Raft group
//! (leader, members, term, log and lag as the leader sees it), the usable capacity
//! the progress of moves and every node's scrub (`scrub`), as text or as one
//! JSON line.

use super::view::{ClusterView, GroupView, MoveProgress};
use std::fmt::Write;

pub fn render(view: &ClusterView) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster {}: map epoch {}, {} nodes, replication {}, {} placement groups",
        view.name,
        view.epoch,
        view.nodes.iter().filter(|n| n.in_map).count(),
        view.replication,
        view.placement_groups
    );
    let _ = writeln!(out, "\nNODES");
    let _ = writeln!(
        out,
        "{:>4}  {:<22} {:<9} {:>12} {:>12} {:>8} {:>10}",
        "id", "address", "state", "capacity", "used", "chunks", "raft log"
    );
    for n in &view.nodes {
        let state = match (n.in_map, n.drain, n.up) {
            (false, _, true) => "removed",
            (false, _, false) => "gone",
            (true, true, true) => "draining",
            (true, _, false) => "DOWN",
            (true, false, true) => "up",
        };
        let (used, chunks, log) = if n.up {
            (human(n.used), n.chunks.to_string(), human(n.log_file_bytes))
        } else {
            ("-".into(), "-".into(), "-".into())
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<22} {:<9} {:>12} {:>12} {:>8} {:>10}",
            n.id,
            n.address,
            state,
            human(n.capacity),
            used,
            chunks,
            log
        );
    }
    let _ = writeln!(out, "\nRAFT GROUPS");
    let _ = writeln!(
        out,
        "{:<8} {:>6} {:>6} {:<12} {:<12} {:>10} {:>10} {:>8}  lag",
        "group", "leader", "term", "voters", "target", "last log", "applied", "log len"
    );
    for g in std::iter::once(&view.catalog).chain(&view.pgs) {
        group_line(&mut out, g);
    }
    let _ = writeln!(
        out,
        "\nusable capacity: {} (sum of the capacities of nodes not draining / R)",
        human(view.usable_capacity)
    );
    let _ = writeln!(out, "{}", progress_line(&view.moves));
    for f in &view.moves.failed {
        let _ = writeln!(out, "  FAILED group {}: {}", f.group, f.error);
    }
    out.push_str(&super::scrub::render(&view.nodes));
    out
}

fn group_line(out: &mut String, g: &GroupView) {
    let name = match g.pg {
        None => "catalog".to_string(),
        Some(pg) => format!("pg {pg}"),
    };
    let ids = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let mut voters = ids(&g.voters);
    if !g.learners.is_empty() {
        voters = format!("{voters}+{}", ids(&g.learners));
    }
    let target = if g.settled() {
        "=".to_string()
    } else {
        ids(&g.target)
    };
    let leader = g
        .leader
        .map(|l| l.to_string())
        .unwrap_or_else(|| "none".into());
    let (term, last, applied, len, lag) = match &g.status {
        Some(s) => (
            s.term,
            s.last_log_index.unwrap_or(0),
            s.applied_index.unwrap_or(0),
            s.log_entries,
            s.lag
                .iter()
                .map(|(n, l)| format!("{n}:{l}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        None => (0, 0, 0, 0, String::new()),
    };
    let _ = writeln!(
        out,
        "{name:<8} {leader:>6} {term:>6} {voters:<12} {target:<12} {last:>10} {applied:>10} {len:>8}  {lag}"
    );
}

/// "moves: 3/8 PGs, 120.0 MiB / 300.0 MiB, 25.0 MiB/s, ETA 7 s" (or "moves: none").
pub fn progress_line(p: &MoveProgress) -> String {
    if p.done && p.failed.is_empty() {
        return format!(
            "moves: done ({} PGs, {} moved)",
            p.pgs_total,
            human(p.bytes_done)
        );
    }
    let eta = p
        .eta_s
        .map(|s| format!(", ETA {s:.0} s"))
        .unwrap_or_default();
    let left = if p.leftovers.is_empty() {
        String::new()
    } else {
        format!(", old copies still on nodes {:?}", p.leftovers)
    };
    format!(
        "moves: {}/{} PGs, {} / {}, {}/s{eta}{left}",
        p.pgs_done,
        p.pgs_total,
        human(p.bytes_done),
        human(p.bytes_total),
        human(p.rate_bytes_per_s as u64),
    )
}

pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
