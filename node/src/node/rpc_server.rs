//! The internal HTTP server of a node (hyper): `POST /rpc` (a postcard `Request`),
//! `POST /raft/snapshot` (a streamed snapshot), both only with the cluster secret;
//! `GET /health` and `GET /metrics` open to all. On a mutual-TLS listener the
//! internal requests also need a client certificate (the handshake already
//! refused any the cluster CA did not sign).
//!
//! Limits: a connection idle (or sending a header) for `HEADER_TIMEOUT` is closed;
//! a body is read as it streams, at most `MAX_RPC_BODY` bytes (a snapshot header
//! frame at most `MAX_SNAPSHOT_HEADER`, checked when its length arrives), failing
//! when it moves nothing for `BODY_IDLE_TIMEOUT`; a message followed by trailing
//! bytes is refused; a snapshot file that was not installed is deleted.

use crate::error::WireError;
use crate::error::{Error, Result};
use crate::node::metrics::render_node_metrics;
use crate::node::{blocking, Node};
use crate::rpc::messages::{Request, Response, SnapshotHeader};
use crate::rpc::SECRET_HEADER;
use crate::storage::disk::{Disk, File};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

type Resp = hyper::Response<Full<Bytes>>;

/// The largest chunk a gateway may cut (`--chunk-size`).
pub const MAX_CHUNK_SIZE: usize = 16 << 20;
/// The largest RPC body: a data group's AppendEntries carries up to 8 chunks.
pub const MAX_RPC_BODY: usize = 8 * MAX_CHUNK_SIZE + (32 << 20);
/// The largest snapshot header frame (group, vote, snapshot meta).
const MAX_SNAPSHOT_HEADER: usize = 1 << 20;
/// Longer than the RPC client's pool idle timeout (60 s), so pooled connections
/// are closed by the client first.
const HEADER_TIMEOUT: Duration = Duration::from_secs(120);
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who sent a request: its address, and whether it may make internal requests
/// (on a TLS listener: it showed a certificate of the cluster CA).
#[derive(Clone, Copy)]
struct Caller {
    peer: std::net::SocketAddr,
    certified: bool,
}

/// When a refused TLS handshake was last logged (ms).
static HANDSHAKE_REFUSED_LOGGED: std::sync::atomic::AtomicI64 =
    std::sync::atomic::AtomicI64::new(0);

/// Serves `node` on `listener` until the process ends.
pub async fn serve(node: Arc<Node>, listener: crate::tls::Listener) {
    loop {
        let incoming = match listener.accept().await {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        let _ = incoming.tcp.set_nodelay(true);
        let peer = incoming.peer();
        let node = node.clone();
        tokio::spawn(async move {
            let stream = match incoming.establish(HANDSHAKE_TIMEOUT).await {
                Ok(s) => s,
                Err(error) => {
                    let why = crate::tls::listener::describe_handshake_error(&error);
                    // A refused certificate is an error; a peer that hung up is not.
                    let refused = error
                        .get_ref()
                        .is_some_and(|e| e.downcast_ref::<rustls::Error>().is_some());
                    if !refused {
                        tracing::debug!(%peer, "TLS handshake ended: {why}");
                    } else if crate::rpc::client::first_in_a_while(&HANDSHAKE_REFUSED_LOGGED) {
                        tracing::error!(%peer, "refused a TLS connection: {why}");
                    }
                    return;
                }
            };
            let caller = Caller {
                peer,
                certified: !stream.is_tls() || stream.peer_certified(),
            };
            let service = hyper::service::service_fn(move |req| {
                let node = node.clone();
                async move {
                    let resp = route(node, req, caller).await;
                    if resp.extensions().get::<DroppedReply>().is_some() {
                        // hyper closes the connection without a response.
                        return Err(DroppedReply);
                    }
                    Ok(resp)
                }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            if let Err(error) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "rpc connection ended");
            }
        });
    }
}

/// A reply dropped on purpose (`NodeOptions::drop_reply_keys`): the connection
/// closes after the request was carried out, as when a reply is lost.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("reply dropped for a test of retried writes")]
struct DroppedReply;

/// Whether the reply to `request`, which succeeded, is to be dropped.
fn drop_reply(node: &Node, request: &Request) -> bool {
    use crate::storage::catalog::CatalogCommand as C;
    let Request::CatalogWrite(write) = request else {
        return false;
    };
    let key = match &write.cmd {
        C::PutObject { key, .. } | C::CompleteUpload { key, .. } => key,
        _ => return false,
    };
    let Ok(mut keys) = node.drop_reply_keys.lock() else {
        return false;
    };
    let Some(at) = keys.iter().position(|k| k == key) else {
        return false;
    };
    keys.remove(at);
    tracing::warn!(%key, "dropping the reply of a committed catalog write (test option)");
    true
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut resp = hyper::Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp
}

fn encoded<T: serde::Serialize>(value: &T, chunk_bytes: usize) -> Resp {
    match crate::rpc::encode(value, chunk_bytes) {
        Ok(bytes) => reply(StatusCode::OK, bytes),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// When a refusal for a wrong secret was last logged (ms).
static REFUSED_LOGGED: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn authorized(node: &Node, req: &hyper::Request<Incoming>) -> bool {
    let Some(given) = req.headers().get(SECRET_HEADER) else {
        return false;
    };
    let expected = node.cfg.secret.as_bytes();
    let given = given.as_bytes();
    // Constant time in the secret's length.
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn route(node: Arc<Node>, req: hyper::Request<Incoming>, caller: Caller) -> Resp {
    let peer = caller.peer;
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => reply(StatusCode::OK, "ok\n"),
        (&Method::GET, "/metrics") => reply(StatusCode::OK, render_node_metrics(&node).await),
        (&Method::POST, "/rpc") | (&Method::POST, "/raft/snapshot") if !caller.certified => {
            if crate::rpc::client::first_in_a_while(&REFUSED_LOGGED) {
                tracing::error!(
                    %peer,
                    "refused an internal request: no client certificate (this node uses mutual TLS; the sender needs a certificate signed by the cluster CA)"
                );
            }
            let mut body = crate::rpc::NO_CERT_REFUSAL.to_vec();
            body.extend_from_slice(b": this node needs a certificate signed by the cluster CA\n");
            reply(StatusCode::FORBIDDEN, body)
        }
        (&Method::POST, "/rpc") | (&Method::POST, "/raft/snapshot") if !authorized(&node, &req) => {
            if crate::rpc::client::first_in_a_while(&REFUSED_LOGGED) {
                let given = req.headers().contains_key(SECRET_HEADER);
                tracing::error!(
                    %peer,
                    secret_sent = given,
                    "refused an internal request: wrong cluster secret (the sender's cluster file has another `secret`)"
                );
            }
            reply(StatusCode::FORBIDDEN, "missing or wrong cluster secret\n")
        }
        (&Method::POST, "/rpc") => {
            let body = match read_limited(req.into_body(), MAX_RPC_BODY).await {
                Ok(b) => b,
                Err(refusal) => return refusal,
            };
            let request: Request = match decode_exact(&body) {
                Ok(r) => r,
                Err(e) => return reply(StatusCode::BAD_REQUEST, e),
            };
            drop(body);
            // Chunk bytes are hashed off the async threads; other requests go on.
            let (request, intact) = if request.chunk_bytes() > 0 {
                match tokio::task::spawn_blocking(move || {
                    let intact = request.chunk_intact();
                    (request, intact)
                })
                .await
                {
                    Ok(checked) => checked,
                    Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            } else {
                (request, true)
            };
            let droppable = matches!(request, Request::CatalogWrite(_))
                && node.drop_reply_keys.lock().is_ok_and(|k| !k.is_empty());
            let probe = droppable.then(|| request.clone());
            let result = match request {
                Request::PutChunk { id, .. } if !intact => Err(Error::ChunkCorrupt(id)),
                // Remote readers verify what reaches them; no second hash here.
                Request::GetChunk { id } => node.read_chunk_unverified(id).await,
                request => node.handle(request).await,
            };
            if let (Some(request), Ok(_)) = (&probe, &result) {
                if drop_reply(&node, request) {
                    let mut resp = reply(StatusCode::OK, Bytes::new());
                    resp.extensions_mut().insert(DroppedReply);
                    return resp;
                }
            }
            let bytes = result.as_ref().map_or(0, Response::chunk_bytes);
            encoded(&result.map_err(WireError::from), bytes)
        }
        (&Method::POST, "/raft/snapshot") => {
            let result = receive_snapshot(&node, req.into_body()).await;
            encoded(&result.map_err(WireError::from), 0)
        }
        _ => reply(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The next frame of a body, failing when none comes for `BODY_IDLE_TIMEOUT`.
async fn next_frame(body: &mut Incoming) -> Result<Option<Bytes>> {
    loop {
        let frame = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| Error::Remote("the body stalled".into()))?;
        match frame {
            None => return Ok(None),
            Some(Err(e)) => return Err(Error::Remote(e.to_string())),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

/// Reads a body as it streams, refusing it (413) as soon as it passes `max` bytes.
async fn read_limited(mut body: Incoming, max: usize) -> std::result::Result<Vec<u8>, Resp> {
    use hyper::body::Body as _;
    let too_large = || {
        reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an RPC body is at most {max} bytes\n"),
        )
    };
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        match next_frame(&mut body).await {
            Ok(Some(data)) => {
                if out.len() + data.len() > max {
                    return Err(too_large());
                }
                out.extend_from_slice(&data);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(reply(StatusCode::BAD_REQUEST, e.to_string())),
        }
    }
}

/// Decodes one message that fills `bytes` exactly (trailing bytes are refused).
fn decode_exact<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} trailing bytes after the message", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}

/// A snapshot file being received: deleted when dropped (every error path, a
/// transfer whose connection went away mid-way, and an installed snapshot, whose
/// rows or chunks are in the stores by then).
struct PartialFile {
    disk: Disk,
    path: Option<std::path::PathBuf>,
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let disk = self.disk.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn_blocking(move || disk.remove_file(&path));
                }
                Err(_) => {
                    let _ = disk.remove_file(&path);
                }
            }
        }
    }
}

/// Appends `data` to the snapshot file being received (off the runtime).
async fn append(file: &Arc<File>, data: Bytes) -> Result<()> {
    let file = file.clone();
    blocking(move || Ok((&*file).write_all(&data)?)).await
}

/// Writes the streamed snapshot to a file, then has the node install it.
async fn receive_snapshot(
    node: &Node,
    mut body: Incoming,
) -> Result<openraft::raft::SnapshotResponse<u64>> {
    let disk = node.stores.disk.clone();
    let dir = node.stores.snapshot_root().join("incoming");
    let path = dir.join(format!("{:016x}", rand::random::<u64>()));
    let partial = PartialFile {
        disk: disk.clone(),
        path: Some(path.clone()),
    };
    let file = {
        let (disk, path) = (disk.clone(), path.clone());
        Arc::new(
            blocking(move || {
                disk.create_dir_all(&dir)?;
                Ok(disk.create(&path)?)
            })
            .await?,
        )
    };
    let mut head: Vec<u8> = Vec::new();
    let mut header: Option<SnapshotHeader> = None;
    while let Some(data) = next_frame(&mut body).await? {
        if header.is_some() {
            append(&file, data).await?;
            continue;
        }
        head.extend_from_slice(&data);
        if head.len() < 4 {
            continue;
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_SNAPSHOT_HEADER {
            return Err(Error::Remote(format!(
                "snapshot header frame of {len} bytes (at most {MAX_SNAPSHOT_HEADER})"
            )));
        }
        if head.len() >= 4 + len {
            header = Some(decode_exact(&head[4..4 + len]).map_err(Error::Remote)?);
            append(&file, Bytes::copy_from_slice(&head[4 + len..])).await?;
            head = Vec::new();
        }
    }
    blocking(move || Ok(file.sync_all()?)).await?;
    let header = header.ok_or_else(|| Error::Remote("snapshot without header".into()))?;
    // Also when openraft ignores the snapshot (older than what is applied).
    let result = node.install_snapshot(header, path).await;
    drop(partial);
    result
}
