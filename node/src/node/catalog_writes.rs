//! Batching catalog writes: concurrent writes to the catalog group share one Raft
//! entry. Each writer queues its command and waits for one of a few submission
//! slots; whoever gets a slot takes every command queued by then and commits them
//! as one `CatalogBatch` entry, then hands each writer its own reply. The catalog
//! group's log append, fsync and replication are paid once per batch, not once per
//! write (the group appended about 1,500 entries a second however many clients
//! wrote at once). Each command keeps its request id, so the state machine answers
//! a retried write with its first outcome.

use crate::error::WireError;
use crate::error::{Error, Result};
use crate::raft::{Command, Reply};
use crate::storage::catalog::{CatalogReply, CatalogRequest};
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, Semaphore};

/// Batches in flight at once (the next one fills while they commit).
const SLOTS: usize = 4;
/// Commands in one batch at most.
const MAX_BATCH: usize = 512;

type Outcome = std::result::Result<CatalogReply, WireError>;

pub struct CatalogWrites {
    queue: Mutex<Vec<Pending>>,
    slots: Arc<Semaphore>,
}

type Pending = (CatalogRequest, oneshot::Sender<Outcome>);

impl Default for CatalogWrites {
    fn default() -> Self {
        CatalogWrites {
            queue: Mutex::default(),
            slots: Arc::new(Semaphore::new(SLOTS)),
        }
    }
}

impl CatalogWrites {
    /// Commits `cmd` (with whatever other commands are queued) through `commit`,
    /// which writes one command to the catalog group and returns its reply. A
    /// batch is committed by a task of its own, so a writer that goes away (its
    /// client disconnected) cancels neither its batch nor the others' replies.
    pub async fn write<F, Fut>(&self, cmd: CatalogRequest, commit: F) -> Result<CatalogReply>
    where
        F: FnOnce(Command) -> Fut,
        Fut: Future<Output = Result<Reply>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        lock(&self.queue).push((cmd, tx));
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Task("catalog write slots closed".into()))?;
        let batch: Vec<_> = {
            let mut queue = lock(&self.queue);
            let take = queue.len().min(MAX_BATCH);
            queue.drain(..take).collect()
        };
        if batch.is_empty() {
            drop(slot);
        } else {
            let (cmds, writers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let count = cmds.len();
            let committing = commit(batch_command(cmds));
            tokio::spawn(async move {
                answer(writers, count, committing.await);
                drop(slot);
            });
        }
        match rx.await {
            Ok(outcome) => outcome.map_err(Error::from),
            Err(_) => Err(Error::Task("catalog write dropped".into())),
        }
    }
}

fn lock(queue: &Mutex<Vec<Pending>>) -> std::sync::MutexGuard<'_, Vec<Pending>> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The entry of a batch of writes.
fn batch_command(cmds: Vec<CatalogRequest>) -> Command {
    Command::CatalogRequests(cmds)
}

/// Hands each writer of a batch of `count` commands its reply.
fn answer(writers: Vec<oneshot::Sender<Outcome>>, count: usize, committed: Result<Reply>) {
    let outcomes: Vec<Outcome> = match committed {
        Ok(Reply::Catalog(one)) if count == 1 => vec![*one],
        Ok(Reply::CatalogBatch(all)) if all.len() == count => all,
        Ok(other) => {
            let e = Error::Remote(format!("unexpected reply {other:?}"));
            vec![Err(WireError::from(e)); count]
        }
        Err(e) => vec![Err(WireError::from(e)); count],
    };
    for (writer, outcome) in writers.into_iter().zip(outcomes) {
        let _ = writer.send(outcome);
    }
}
