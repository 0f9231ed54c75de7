//! Hashing a body chunk by chunk, in order, off the request's task: the first full
//! chunk moves the hasher to a blocking thread of its own, which then takes each
//! chunk as it is cut, so MD5 (about 0.6 GiB/s on one core, the slowest step of a
//! PUT) runs beside receiving and storing the chunks that follow. A body that fits
//! in one chunk is hashed in one go when it ends.

use crate::checksum::BodyHasher;
use bytes::Bytes;
use s3s::{s3_error, S3Result};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks waiting for the hashing thread (beyond the one it is hashing).
const QUEUED: usize = 1;
/// Bodies up to this size are hashed on the request's task.
const INLINE: usize = 64 * 1024;

pub enum BodyHashing {
    /// No chunk was full yet: the hasher is here.
    Here(Box<BodyHasher>),
    /// A thread hashes the chunks sent to it.
    Thread {
        chunks: mpsc::Sender<Bytes>,
        done: JoinHandle<BodyHasher>,
    },
}

impl BodyHashing {
    pub fn new(hasher: BodyHasher) -> Self {
        BodyHashing::Here(Box::new(hasher))
    }

    /// Hashes the next chunk of the body (waits while the thread is behind).
    pub async fn chunk(self, chunk: Bytes) -> S3Result<Self> {
        let (chunks, done) = match self {
            BodyHashing::Here(mut hasher) => {
                let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUED);
                let done = tokio::task::spawn_blocking(move || {
                    while let Some(chunk) = rx.blocking_recv() {
                        hasher.update(&chunk);
                    }
                    *hasher
                });
                (tx, done)
            }
            BodyHashing::Thread { chunks, done } => (chunks, done),
        };
        chunks.send(chunk).await.map_err(|_| stopped())?;
        Ok(BodyHashing::Thread { chunks, done })
    }

    /// Hashes the body's last bytes and gives the hasher back.
    pub async fn finish(self, last: Bytes) -> S3Result<BodyHasher> {
        match self {
            BodyHashing::Here(mut hasher) if last.len() <= INLINE => {
                hasher.update(&last);
                Ok(*hasher)
            }
            BodyHashing::Here(mut hasher) => tokio::task::spawn_blocking(move || {
                hasher.update(&last);
                *hasher
            })
            .await
            .map_err(|_| stopped()),
            BodyHashing::Thread { chunks, done } => {
                if !last.is_empty() {
                    chunks.send(last).await.map_err(|_| stopped())?;
                }
                drop(chunks);
                done.await.map_err(|_| stopped())
            }
        }
    }
}

fn stopped() -> s3s::S3Error {
    s3_error!(InternalError, "the body's hashing stopped")
}
