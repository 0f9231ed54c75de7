//! Cutting a request body into chunks and storing them: the body streams into
//! fixed-size chunks, each hashed in order (`body_hashing`) and written to the
//! node by a task of its own while the next one fills, with at most
//! `write_window` writes in flight. Memory per request is bounded by
//! `(write_window + 1) * chunk_size`, whatever the object's size.
//!
//! Every chunk written is pinned against garbage collection on its nodes until
//! the record that refers to it commits (`Pins::release`); an upload that runs
//! long re-touches what it stored so far, so its pins never lapse.

use crate::body_hashing::BodyHashing;
use crate::checksum::{BodyHasher, Expected};
use crate::s3::error::OrS3;
use crate::state::Gateway;
use bytes::{Bytes, BytesMut};
use cairn_node::records::{ChunkRef, ObjectData, ObjectMeta, ObjectRecord};
use cairn_node::storage::chunk_store::{aligned_buffer, PIN_WINDOW};
use cairn_node::ChunkId;
use futures::stream::StreamExt;
use futures::Stream;
use http::HeaderMap;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Result};
use std::time::Instant;
use tokio::task::JoinSet;

/// A stored body: its size, where its bytes are, and the hasher that saw them.
pub struct StoredBody {
    pub size: u64,
    pub data: ObjectData,
    pub hasher: BodyHasher,
}

impl StoredBody {
    /// The record of a single-part object from this body: checks the digests the
    /// client gave (`expected`, and trailers if any), then the ETag is the MD5.
    pub fn into_record(
        self,
        expected: &Expected,
        trailers: Option<&HeaderMap>,
        meta: ObjectMeta,
    ) -> S3Result<ObjectRecord> {
        let digests = self.hasher.verify(expected, trailers)?;
        Ok(ObjectRecord {
            size: self.size,
            etag: hex::encode(digests.md5),
            last_modified_ms: cairn_node::now_ms(),
            meta,
            checksums: digests.checksums,
            part_sizes: Vec::new(),
            data: self.data,
        })
    }
}

/// Chunk writes in flight, each a task (so it makes progress while the body is
/// read), and the chunks written so far in body order.
struct Writes {
    tasks: JoinSet<(usize, cairn_node::Result<ChunkRef>)>,
    done: Vec<Option<ChunkRef>>,
    /// When the pins of the chunks written so far were last refreshed, and the
    /// refresh in flight.
    refreshed: Instant,
    refresh: Option<tokio::task::JoinHandle<cairn_node::Result<()>>>,
}

impl Writes {
    fn new() -> Self {
        Writes {
            tasks: JoinSet::new(),
            done: Vec::new(),
            refreshed: Instant::now(),
            refresh: None,
        }
    }

    async fn start(&mut self, gw: &Gateway, chunk: Bytes) -> S3Result<()> {
        let node = gw.node.clone();
        let index = self.done.len();
        self.done.push(None);
        self.tasks
            .spawn(async move { (index, node.put_chunk(chunk).await) });
        if self.refreshed.elapsed() >= PIN_WINDOW / 5 {
            self.refreshed = Instant::now();
            self.refreshed_ok().await?;
            let ids: Vec<ChunkId> = self.done.iter().flatten().map(|c| c.id).collect();
            let node = gw.node.clone();
            self.refresh = Some(tokio::spawn(async move { node.retain_chunks(ids).await }));
        }
        Ok(())
    }

    /// Fails if the last refresh found a chunk gone (the upload cannot commit).
    async fn refreshed_ok(&mut self) -> S3Result<()> {
        if let Some(refresh) = self.refresh.take() {
            refresh
                .await
                .map_err(|e| s3_error!(InternalError, "a chunk refresh stopped: {e}"))?
                .or_s3()?;
        }
        Ok(())
    }

    /// Waits for one write to finish.
    async fn one(&mut self) -> S3Result<()> {
        if let Some(joined) = self.tasks.join_next().await {
            let (index, result) =
                joined.map_err(|e| s3_error!(InternalError, "a chunk write stopped: {e}"))?;
            self.done[index] = Some(result.or_s3()?);
        }
        Ok(())
    }

    async fn all(mut self) -> S3Result<Vec<ChunkRef>> {
        while !self.tasks.is_empty() {
            self.one().await?;
        }
        self.refreshed_ok().await?;
        Ok(self.done.into_iter().flatten().collect())
    }
}

/// The chunks a request pinned, to release once its record committed or failed.
pub struct Pins(Vec<ChunkId>);

impl Pins {
    pub fn of(chunks: &[ChunkRef]) -> Pins {
        Pins(chunks.iter().map(|c| c.id).collect())
    }

    /// Drops the pins in the background (best effort: they also expire).
    pub fn release(self, gw: &Gateway) {
        if self.0.is_empty() {
            return;
        }
        let node = gw.node.clone();
        tokio::spawn(async move { node.release_chunks(self.0).await });
    }
}

/// Streams `body` into chunks on the node, feeding `hasher` every byte. Bodies of
/// at most `inline_max` bytes (when `allow_inline`) come back inline instead.
/// Fails with `EntityTooLarge` past `max_size` bytes.
pub async fn store_body<S, E>(
    gw: &Gateway,
    mut body: S,
    hasher: BodyHasher,
    max_size: u64,
    allow_inline: bool,
) -> S3Result<StoredBody>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let chunk_size = gw.cfg.chunk_size;
    let mut buf = BytesMut::new();
    let mut hashing = BodyHashing::new(hasher);
    let mut writes = Writes::new();
    let mut size: u64 = 0;

    while let Some(piece) = body.next().await {
        let mut piece = piece.map_err(|e| body_error(&e.to_string()))?;
        size += piece.len() as u64;
        if size > max_size {
            return Err(s3_error!(EntityTooLarge));
        }
        while !piece.is_empty() {
            let full = if buf.is_empty() && piece.len() >= chunk_size {
                piece.split_to(chunk_size)
            } else {
                if buf.capacity() < chunk_size && size > gw.cfg.inline_max as u64 {
                    // Past the inline size a body fills whole chunks: each is cut in
                    // one block-aligned buffer, which the node writes without a copy.
                    let mut chunk = aligned_buffer(chunk_size);
                    chunk.extend_from_slice(&buf);
                    buf = chunk;
                }
                let take = (chunk_size - buf.len()).min(piece.len());
                buf.extend_from_slice(&piece.split_to(take));
                if buf.len() < chunk_size {
                    continue;
                }
                buf.split().freeze()
            };
            hashing = hashing.chunk(full.clone()).await?;
            writes.start(gw, full).await?;
            if writes.tasks.len() >= gw.cfg.write_window {
                writes.one().await?;
            }
        }
    }

    let last = buf.freeze();
    let hasher = hashing.finish(last.clone()).await?;
    if allow_inline && writes.done.is_empty() && last.len() <= gw.cfg.inline_max {
        return Ok(StoredBody {
            size,
            data: ObjectData::Inline(last.to_vec()),
            hasher,
        });
    }
    if !last.is_empty() {
        writes.start(gw, last).await?;
    }
    Ok(StoredBody {
        size,
        data: ObjectData::Chunks(writes.all().await?),
        hasher,
    })
}

/// The S3 error for a body that failed while streaming (as s3s reports it).
fn body_error(msg: &str) -> S3Error {
    if msg.contains("Sha256Mismatch") {
        let mut err = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.set_status_code(http::StatusCode::BAD_REQUEST);
        err
    } else if msg.contains("RequestTimeout") {
        crate::s3::error::request_timeout()
    } else if msg.contains("SlowDown") {
        crate::s3::error::slow_down("Too many uploads in progress; reduce your request rate.")
    } else if msg.contains("SignatureMismatch") {
        s3_error!(
            SignatureDoesNotMatch,
            "A chunk signature of the body does not match"
        )
    } else {
        s3_error!(
            IncompleteBody,
            "The request body ended early or was malformed: {msg}"
        )
    }
}

/// Checks that an aws-chunked body delivered what its headers announced: the
/// decoded length (`x-amz-decoded-content-length`) and the trailer (`x-amz-trailer`).
pub fn check_framing(headers: &HeaderMap, size: u64, trailers: Option<&HeaderMap>) -> S3Result<()> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(declared) = header("x-amz-decoded-content-length") {
        if declared.trim().parse::<u64>().ok() != Some(size) {
            return Err(s3_error!(
                IncompleteBody,
                "The body is {size} bytes but x-amz-decoded-content-length says {declared}"
            ));
        }
    }
    if let Some(announced) = header("x-amz-trailer") {
        let present = trailers.is_some_and(|t| {
            announced
                .split(',')
                .all(|name| t.contains_key(name.trim().to_ascii_lowercase().as_str()))
        });
        if !present {
            return Err(s3_error!(
                IncompleteBody,
                "The trailer {announced} announced in x-amz-trailer did not arrive"
            ));
        }
    }
    Ok(())
}
