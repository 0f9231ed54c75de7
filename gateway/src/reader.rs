//! Streaming an object's bytes, or a byte range of them, out of its chunks. A
//! background task fetches chunks (each verified by the node) with `read_ahead`
//! fetches in flight (each a task of its own) and hands the needed slices to the response body through a
//! bounded channel, so a GET holds a few chunks in memory whatever the object's size.

use crate::state::Gateway;
use bytes::Bytes;
use cairn_node::records::ObjectData;
use futures::stream::{self, Stream, StreamExt};
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// An object's bytes: already at hand (inline objects), or arriving from the
/// chunk-fetching task.
pub enum ObjectStream {
    Ready(Option<Bytes>),
    Fetching(mpsc::Receiver<Result<Bytes, cairn_node::Error>>),
    /// The first piece already received (see `first_piece`), then the rest.
    Primed(
        Option<Bytes>,
        mpsc::Receiver<Result<Bytes, cairn_node::Error>>,
    ),
}

impl ObjectStream {
    /// Waits for the object's first piece, so a chunk no replica can give intact
    /// fails the request with an error response instead of a cut-off body.
    pub async fn first_piece(self) -> Result<ObjectStream, cairn_node::Error> {
        match self {
            ObjectStream::Fetching(mut rx) => match rx.recv().await {
                Some(Ok(first)) => Ok(ObjectStream::Primed(Some(first), rx)),
                Some(Err(e)) => Err(e),
                None => Ok(ObjectStream::Ready(None)),
            },
            other => Ok(other),
        }
    }
}

impl Stream for ObjectStream {
    type Item = Result<Bytes, cairn_node::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut *self {
            ObjectStream::Ready(bytes) => Poll::Ready(bytes.take().map(Ok)),
            ObjectStream::Fetching(rx) => rx.poll_recv(cx),
            ObjectStream::Primed(first, rx) => match first.take() {
                Some(bytes) => Poll::Ready(Some(Ok(bytes))),
                None => rx.poll_recv(cx),
            },
        }
    }
}

/// The bytes `range` of an object whose data is `data`.
pub fn object_stream(gw: &Gateway, data: ObjectData, range: Range<u64>) -> ObjectStream {
    let chunks = match data {
        ObjectData::Inline(bytes) => {
            return ObjectStream::Ready(Some(slice_of(&Bytes::from(bytes), &range, 0)));
        }
        ObjectData::Chunks(chunks) => chunks,
    };
    // Each chunk that overlaps the range, with its offset in the object.
    let mut offset = 0u64;
    let mut pieces = Vec::new();
    for chunk in chunks {
        let start = offset;
        offset += chunk.len;
        if offset > range.start && start < range.end {
            pieces.push((chunk.id, start));
        }
    }
    let (tx, rx) = mpsc::channel(1);
    let node = gw.node.clone();
    let read_ahead = gw.cfg.read_ahead.max(1);
    tokio::spawn(async move {
        // Each fetch is a task, so those ahead progress while this one waits to
        // hand a chunk to the response.
        let mut fetched = stream::iter(pieces)
            .map(|(id, start)| {
                let node = node.clone();
                tokio::spawn(async move { node.get_chunk(id).await.map(|b| (b, start)) })
            })
            .buffered(read_ahead);
        while let Some(joined) = fetched.next().await {
            let result = joined.unwrap_or_else(|e| Err(cairn_node::Error::Task(e.to_string())));
            let item = result.map(|(bytes, start)| slice_of(&bytes, &range, start));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    ObjectStream::Fetching(rx)
}

/// The part of `bytes` (which starts at object offset `start`) inside `range`.
fn slice_of(bytes: &Bytes, range: &Range<u64>, start: u64) -> Bytes {
    let len = bytes.len() as u64;
    let from = range.start.saturating_sub(start).min(len);
    let to = range.end.saturating_sub(start).min(len);
    bytes.slice(from as usize..to as usize)
}
