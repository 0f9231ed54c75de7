//! `cairn node`: runs one storage node of a cluster — its Raft groups and its
//! internal RPC server on the address its entry in the cluster file gives (or
//! `--listen`), over mutual TLS when the file has `[tls]`.

use cairn_node::cluster::config::ClusterConfig;
use cairn_node::ids::NodeId;
use cairn_node::node::rpc_server;
use cairn_node::{Node, NodeOptions};
use tokio::net::TcpListener;

/// Runs node `id`, its RPC server bound to `listen` (default: its address).
pub async fn run_node(
    cfg: ClusterConfig,
    id: NodeId,
    opts: NodeOptions,
    listen: Option<String>,
) -> Result<(), String> {
    let address = cfg
        .node(id)
        .map(|n| n.address.clone())
        .ok_or_else(|| format!("node {id} is not in the cluster file"))?;
    let address = listen.unwrap_or(address);
    // Listen first: peers that start at the same time can reach us at once.
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|e| format!("listening on {address}: {e}"))?;
    let tls = cairn_node::tls::cluster::server_for(&cfg, id)
        .map_err(|e| format!("cluster TLS of node {id}: {e}"))?;
    let scheme = if tls.is_some() { " (mutual TLS)" } else { "" };
    let listener = cairn_node::tls::Listener::new(listener, tls);
    let data_dir = cfg.node(id).map(|n| n.data_dir.display().to_string());
    let node = Node::start(cfg, id, opts)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "Cairn node {id} is serving on {address}{scheme}, data in {}",
        data_dir.unwrap_or_default()
    );
    tokio::select! {
        _ = rpc_server::serve(node.clone(), listener) => {}
        signal = crate::shutdown::signalled() => {
            tracing::info!(node = id, signal, "node stopping: shutting down its Raft groups");
            node.shutdown().await;
            tracing::info!(node = id, "node stopped");
        }
    }
    Ok(())
}
