//! The internal HTTP server of a node (hyper): `POST /rpc` (a postcard `Request`),
//! `POST /raft/snapshot` (a streamed snapshot), both only with the cluster secret;
//! `GET /health` and `GET /metrics` open to all.

use crate::error::WireError;
use crate::error::{Error, Result};
use crate::node::metrics::render_node_metrics;
use crate::node::Node;
use crate::rpc::messages::{Request, Response, SnapshotHeader};
use crate::rpc::SECRET_HEADER;
use crate::storage::frames::read_frame;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

type Resp = hyper::Response<Full<Bytes>>;

/// Serves `node` on `listener` until the process ends.
pub async fn serve(node: Arc<Node>, listener: TcpListener) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let node = node.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let node = node.clone();
                async move { Ok::<_, std::convert::Infallible>(route(node, req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(error) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "rpc connection ended");
            }
        });
    }
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

async fn route(node: Arc<Node>, req: hyper::Request<Incoming>) -> Resp {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => reply(StatusCode::OK, "ok\n"),
        (&Method::GET, "/metrics") => reply(StatusCode::OK, render_node_metrics(&node).await),
        (&Method::POST, "/rpc") | (&Method::POST, "/raft/snapshot") if !authorized(&node, &req) => {
            reply(StatusCode::FORBIDDEN, "missing or wrong cluster secret\n")
        }
        (&Method::POST, "/rpc") => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return reply(StatusCode::BAD_REQUEST, e.to_string()),
            };
            let request: Request = match postcard::from_bytes(&body) {
                Ok(r) => r,
                Err(e) => return reply(StatusCode::BAD_REQUEST, e.to_string()),
            };
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
            let result = match request {
                Request::PutChunk { id, .. } if !intact => Err(Error::ChunkCorrupt(id)),
                // Remote readers verify what reaches them; no second hash here.
                Request::GetChunk { id } => node.read_chunk_unverified(id).await,
                request => node.handle(request).await,
            };
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

/// Writes the streamed snapshot to a file, then has the node install it.
async fn receive_snapshot(
    node: &Node,
    mut body: Incoming,
) -> Result<openraft::raft::SnapshotResponse<u64>> {
    let dir = node.stores.snapshot_root().join("incoming");
    tokio::fs::create_dir_all(&dir).await?;
    let path = dir.join(format!("{:016x}", rand::random::<u64>()));
    let mut file = tokio::fs::File::create(&path).await?;
    let mut head: Vec<u8> = Vec::new();
    let mut header: Option<SnapshotHeader> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Remote(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if header.is_some() {
            file.write_all(&data).await?;
            continue;
        }
        head.extend_from_slice(&data);
        let mut cursor = std::io::Cursor::new(head.as_slice());
        if head.len() >= 4 {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if head.len() >= 4 + len {
                if let Some(frame) = read_frame(&mut cursor)? {
                    header = Some(postcard::from_bytes(&frame)?);
                    file.write_all(&head[4 + len..]).await?;
                }
            }
        }
    }
    file.sync_all().await?;
    drop(file);
    let header = header.ok_or_else(|| Error::Remote("snapshot without header".into()))?;
    let result = node.install_snapshot(header, path.clone()).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    result
}
