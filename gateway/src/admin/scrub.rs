//! The SCRUB section of `cairn cluster status`: per node, the last full pass,
//! the running pass's progress, chunks and bytes verified, corrupt and missing
//! chunks found, repaired and unrepairable, and the objects that refer to a chunk
//! no replica could give back.

use super::status::human;
use super::view::NodeView;
use std::fmt::Write;

pub fn render(nodes: &[NodeView]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nSCRUB");
    let _ = writeln!(
        out,
        "{:>4}  {:<22} {:>8} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9} {:>13}",
        "id",
        "last pass",
        "running",
        "verified",
        "bytes",
        "corrupt",
        "missing",
        "repaired",
        "unrepaired",
        "unrepairable"
    );
    let mut affected = Vec::new();
    for n in nodes {
        let Some(s) = &n.scrub else {
            let _ = writeln!(out, "{:>4}  -", n.id);
            continue;
        };
        let last = if !s.enabled {
            "off".to_string()
        } else if s.last_pass_ms == 0 {
            "none yet".to_string()
        } else {
            let ago = (cairn_node::now_ms() - s.last_pass_ms).max(0) / 1000;
            format!("{} ago ({:.0} s)", ago_text(ago), s.last_pass_secs)
        };
        let running = if s.running {
            format!("{:.0}%", s.progress * 100.0)
        } else {
            "-".to_string()
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<22} {:>8} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9} {:>13}",
            n.id,
            last,
            running,
            s.chunks_verified,
            human(s.bytes_verified),
            s.corrupt_found,
            s.missing_found,
            s.repaired,
            s.unrepaired_now,
            s.unrepairable
        );
        affected.extend(s.affected.iter().map(|a| (n.id, a)));
    }
    if !affected.is_empty() {
        let _ = writeln!(
            out,
            "objects referring to a chunk no replica could repair (data damaged):"
        );
        for (node, a) in affected {
            let _ = writeln!(
                out,
                "  node {node}: {}/{}{} (chunk {})",
                a.bucket,
                a.key,
                a.version
                    .as_deref()
                    .map(|v| format!(" version {v}"))
                    .unwrap_or_default(),
                a.chunk
            );
        }
    }
    out
}

fn ago_text(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}
