//! The mutual TLS of a cluster's internal traffic (node to node, gateway and
//! `cairn cluster` commands to node), from the `[tls]` files of `cluster.toml`:
//! every node serves its own certificate and asks for the peer's; every process
//! trusts only the cluster CA. A node accepts connections without a client
//! certificate only for `/health` and `/metrics` (`rpc_server` refuses internal
//! requests on them); a certificate the CA did not sign fails the handshake.

use super::{load_certs, load_key, provider, TlsError};
use crate::cluster::config::{ClusterConfig, TlsFiles};
use crate::ids::NodeId;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which certificate a process shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Storage node ID (`node_cert` / `node_key`).
    Node(NodeId),
    /// A gateway or a `cairn cluster` command (`cert` / `key`).
    Client,
}

fn identity_files(files: &TlsFiles, role: Role) -> (PathBuf, PathBuf) {
    match role {
        Role::Node(id) => files.node_files(id),
        Role::Client => (files.cert.clone(), files.key.clone()),
    }
}

fn roots(ca: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::Config(format!("{}: {e}", ca.display())))?;
    }
    Ok(Arc::new(roots))
}

fn config_error(what: &Path, e: rustls::Error) -> TlsError {
    TlsError::Config(format!("{}: {e}", what.display()))
}

/// The server side of node `id`: its certificate, client certificates checked
/// against the cluster CA.
pub fn server_config(files: &TlsFiles, id: NodeId) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&files.ca)?, provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Config(format!("{}: {e}", files.ca.display())))?;
    let (cert, key) = files.node_files(id);
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(&cert, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(&cert)?, load_key(&key)?)
        .map_err(|e| config_error(&cert, e))?;
    Ok(Arc::new(config))
}

/// The client side of `role`: its certificate, servers checked against the
/// cluster CA (and the host of the address they are dialled at).
pub fn client_config(files: &TlsFiles, role: Role) -> Result<ClientConfig, TlsError> {
    let (cert, key) = identity_files(files, role);
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(&cert, e))?
        .with_root_certificates(roots(&files.ca)?)
        .with_client_auth_cert(load_certs(&cert)?, load_key(&key)?)
        .map_err(|e| config_error(&cert, e))
}

/// Node `id`'s server configuration, `None` when the file has no `[tls]`.
pub fn server_for(cfg: &ClusterConfig, id: NodeId) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    cfg.tls.as_ref().map(|f| server_config(f, id)).transpose()
}

/// The client configuration of `role`, `None` when the file has no `[tls]`.
pub fn client_for(cfg: &ClusterConfig, role: Role) -> Result<Option<ClientConfig>, TlsError> {
    cfg.tls.as_ref().map(|f| client_config(f, role)).transpose()
}

/// A client configuration for a cluster without TLS (URLs are plain HTTP; the
/// HTTP client still wants one, and must not read the system's roots).
pub fn plain_client_config() -> Result<ClientConfig, TlsError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth())
}
