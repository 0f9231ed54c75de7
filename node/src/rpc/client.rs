//! `RpcClient`: sends internal requests to nodes by id over pooled HTTP connections
//! (reqwest), with the cluster secret; over mutual TLS when the cluster file has
//! `[tls]`. Transport failures become `Error::Unavailable` so callers can retry
//! another replica or the new leader; a certificate refused either way is
//! `Error::Config`, logged as that.

use super::messages::{Request, Response, SnapshotHeader};
use super::SECRET_HEADER;
use crate::cluster::config::ClusterConfig;
use crate::error::WireError;
use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::raft::SnapshotData;
use crate::storage::frames::write_frame;
use openraft::raft::SnapshotResponse;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

pub struct RpcClient {
    http: reqwest::Client,
    /// "https" with TLS, else "http".
    scheme: &'static str,
    secret: String,
    /// Every node ever known (nodes leaving the map stay reachable while they hand
    /// their data over).
    addrs: RwLock<HashMap<NodeId, String>>,
}

impl RpcClient {
    /// A client of `cfg`'s nodes showing `role`'s certificate when `cfg` has
    /// `[tls]`.
    pub fn for_cluster(
        cfg: &ClusterConfig,
        role: crate::tls::cluster::Role,
        addrs: HashMap<NodeId, String>,
    ) -> Result<Self> {
        let tls = crate::tls::cluster::client_for(cfg, role)
            .map_err(|e| Error::Config(format!("cluster TLS: {e}")))?;
        Self::new(&cfg.secret, addrs, tls)
    }

    /// Over TLS with `tls`, else plain HTTP.
    pub fn new(
        secret: &str,
        addrs: HashMap<NodeId, String>,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<Self> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let tls = match tls {
            Some(t) => t,
            None => crate::tls::cluster::plain_client_config()
                .map_err(|e| Error::Config(e.to_string()))?,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(RpcClient {
            http,
            scheme,
            secret: secret.to_string(),
            addrs: RwLock::new(addrs),
        })
    }

    /// Learns (or updates) the addresses of nodes.
    pub fn add_addrs<'a>(&self, addrs: impl IntoIterator<Item = (NodeId, &'a str)>) {
        if let Ok(mut known) = self.addrs.write() {
            for (id, addr) in addrs {
                known.insert(id, addr.to_string());
            }
        }
    }

    /// Whether `node` has a known address.
    pub fn knows(&self, node: NodeId) -> bool {
        self.addrs.read().is_ok_and(|a| a.contains_key(&node))
    }

    fn url(&self, node: NodeId, path: &str) -> Result<String> {
        let addrs = self
            .addrs
            .read()
            .map_err(|_| Error::Task("address book lock poisoned".into()))?;
        let addr = addrs
            .get(&node)
            .ok_or_else(|| Error::Unavailable(format!("unknown node {node}")))?;
        Ok(format!("{}://{addr}{path}", self.scheme))
    }

    /// Sends `req` to `node` and waits at most `timeout` for its response.
    pub async fn call(&self, node: NodeId, req: &Request, timeout: Duration) -> Result<Response> {
        let body = super::encode(req, req.chunk_bytes())?;
        let resp = self
            .http
            .post(self.url(node, "/rpc")?)
            .header(SECRET_HEADER, &self.secret)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(node, &e))?;
        let result = decode_response(node, resp).await;
        // A redirect that names the leader's address teaches it to this client (a
        // caller started from an outdated file may not know the leader yet).
        if let Err(Error::NotLeader {
            leader: Some(l),
            address: Some(addr),
        }) = &result
        {
            if !self.knows(*l) {
                self.add_addrs([(*l, addr.as_str())]);
            }
        }
        result
    }

    /// Streams a snapshot to `node`, which installs it before answering.
    pub async fn send_snapshot(
        &self,
        node: NodeId,
        header: &SnapshotHeader,
        data: &SnapshotData,
        timeout: Duration,
    ) -> Result<SnapshotResponse<NodeId>> {
        let mut head = Vec::new();
        write_frame(&mut head, &postcard::to_allocvec(header)?)?;
        let stream = futures::StreamExt::chain(
            futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(head)) }),
            data.stream().await?,
        );
        let resp = self
            .http
            .post(self.url(node, "/raft/snapshot")?)
            .header(SECRET_HEADER, &self.secret)
            .timeout(timeout)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .map_err(|e| unreachable(node, &e))?;
        let bytes = read_ok_body(node, resp).await?;
        let result: Result<SnapshotResponse<NodeId>, WireError> = postcard::from_bytes(&bytes)?;
        result.map_err(Error::from)
    }

    /// GETs a plain-text page (e.g. `/metrics`) without the secret.
    pub async fn get_text(&self, node: NodeId, path: &str, timeout: Duration) -> Result<String> {
        let resp = self
            .http
            .get(self.url(node, path)?)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| unreachable(node, &e))?;
        let bytes = read_ok_body(node, resp).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// A transport failure: `Unavailable`, unless TLS refused a certificate.
fn unreachable(node: NodeId, e: &reqwest::Error) -> Error {
    match tls_refusal(node, e) {
        Some(msg) => {
            if first_in_a_while(&TLS_REFUSED_LOGGED) {
                tracing::error!(node, "{msg}");
            }
            Error::Config(msg)
        }
        None => Error::Unavailable(format!("node {node}: {e}")),
    }
}

/// When a refused certificate was last logged (ms).
static TLS_REFUSED_LOGGED: AtomicI64 = AtomicI64::new(0);

/// What a failed TLS handshake means, if `e` is one that refused a certificate.
fn tls_refusal(node: NodeId, e: &reqwest::Error) -> Option<String> {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match crate::tls::rustls_error(e)? {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => Some(format!(
            "refused node {node}: its certificate is not signed by the cluster CA (`[tls] ca` of this process's cluster file)"
        )),
        E::InvalidCertificate(c) => Some(format!(
            "refused node {node}: its certificate is not acceptable ({c:?}; it must be signed by the cluster CA and name the host of its address)"
        )),
        E::AlertReceived(A::UnknownCA | A::BadCertificate | A::CertificateUnknown) => Some(format!(
            "node {node} refused this process's certificate: it is not signed by the cluster CA (see `[tls]` in the cluster file)"
        )),
        _ => None,
    }
}

/// When a refused cluster secret was last logged (ms).
static SECRET_REFUSED_LOGGED: AtomicI64 = AtomicI64::new(0);

/// True at most once per 10 s per `last` (so a refusal repeated by every retry
/// is logged, but not thousands of times).
pub fn first_in_a_while(last: &AtomicI64) -> bool {
    let now = crate::clock::now_ms();
    let prev = last.load(Ordering::Relaxed);
    now - prev >= 10_000
        && last
            .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

async fn read_ok_body(node: NodeId, resp: reqwest::Response) -> Result<bytes::Bytes> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| unreachable(node, &e))?;
    if status == reqwest::StatusCode::FORBIDDEN && bytes.starts_with(super::NO_CERT_REFUSAL) {
        let msg = format!(
            "node {node} refused this process: it sent no client certificate (the node uses mutual TLS: add `[tls]` to this process's cluster file)"
        );
        if first_in_a_while(&TLS_REFUSED_LOGGED) {
            tracing::error!(node, "{msg}");
        }
        return Err(Error::Config(msg));
    }
    if status == reqwest::StatusCode::FORBIDDEN {
        let msg = format!(
            "node {node} refused our cluster secret: wrong cluster secret (this process's cluster file has another `secret` than the node's)"
        );
        if first_in_a_while(&SECRET_REFUSED_LOGGED) {
            tracing::error!(node, "{msg}");
        }
        return Err(Error::Config(msg));
    }
    if !status.is_success() {
        return Err(Error::Remote(format!(
            "node {node} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    Ok(bytes)
}

async fn decode_response(node: NodeId, resp: reqwest::Response) -> Result<Response> {
    let bytes = read_ok_body(node, resp).await?;
    let result: Result<Response, WireError> = postcard::from_bytes(&bytes)?;
    result.map_err(Error::from)
}
