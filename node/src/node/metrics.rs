//! A node's Prometheus metrics page: Raft state of every group (and whether a
//! storage failure stopped it), the restarts after such failures, chunk store
//! usage, the lifecycle worker's and the scrub's counters.

use crate::node::Node;
use std::fmt::Write;

pub async fn render_node_metrics(node: &Node) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# TYPE cairn_raft_term gauge");
    for (group, m) in node.group_metrics() {
        let leader = u8::from(m.current_leader == Some(node.id));
        let _ = writeln!(
            out,
            "cairn_raft_term{{group=\"{group}\"}} {}",
            m.current_term
        );
        let _ = writeln!(out, "cairn_raft_is_leader{{group=\"{group}\"}} {leader}");
        let _ = writeln!(
            out,
            "cairn_raft_last_log_index{{group=\"{group}\"}} {}",
            m.last_log_index.unwrap_or(0)
        );
        let _ = writeln!(
            out,
            "cairn_raft_applied_index{{group=\"{group}\"}} {}",
            m.last_applied.map(|l| l.index).unwrap_or(0)
        );
        let _ = writeln!(
            out,
            "cairn_raft_group_stopped{{group=\"{group}\"}} {}",
            u8::from(m.running_state.is_err())
        );
    }
    super::revive::render_revival_metrics(node, &mut out);
    if let Ok(status) = node.status().await {
        let _ = writeln!(out, "cairn_chunk_store_bytes {}", status.used);
        let _ = writeln!(out, "cairn_chunk_store_chunks {}", status.chunks);
        let _ = writeln!(out, "cairn_node_capacity_bytes {}", status.capacity);
        let _ = writeln!(out, "cairn_raft_log_file_bytes {}", status.log_file_bytes);
    }
    out.push_str(&super::lifecycle::render_lifecycle_metrics());
    out.push_str(&super::scrub_stats::render_scrub_metrics());
    out
}
