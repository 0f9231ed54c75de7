//! Small helpers every file of the node layer uses: running blocking storage work
//! off the async threads, committing through a group, and mapping openraft errors.

use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::raft::{Command, Raft, Reply};
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::BasicNode;

/// Commits `cmd` through `raft` (this node must lead the group, in contact with
/// a majority: `check_quorum`).
pub(super) async fn write_to(raft: Raft, cmd: Command) -> Result<Reply> {
    check_quorum(&raft)?;
    match raft.client_write(cmd).await {
        Ok(resp) => Ok(resp.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => Err(forward(f)),
        Err(e) => Err(unavailable(e)),
    }
}

/// Refuses at once (`Unavailable`, so the caller tries another node) when this
/// node leads the group but has heard from no majority for longer than an
/// election timeout: cut off from its peers, it is about to be replaced (or
/// already is, unknown to it), and a write or read it took would wait for a
/// quorum that does not answer until the caller's time runs out. Openraft keeps
/// such a leader leading until it sees a higher term; this makes it stop
/// answering as one, so the caller finds the new leader.
pub(super) fn check_quorum(raft: &Raft) -> Result<()> {
    let limit = raft.config().election_timeout_max;
    let m = raft.metrics();
    let m = m.borrow();
    match m.millis_since_quorum_ack {
        Some(ms) if m.state == openraft::ServerState::Leader && ms > limit => {
            Err(Error::Unavailable(format!(
                "node {} leads group but has heard from no majority for {ms} ms",
                m.id
            )))
        }
        _ => Ok(()),
    }
}

/// Runs blocking storage work off the async threads.
pub async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(e.to_string())
}

pub(super) fn read_error(e: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>) -> Error {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => forward(f),
        other => unavailable(other),
    }
}

/// A redirect to the group's leader, with its address (so a caller that does not
/// know the leader yet can reach it).
pub(super) fn forward(f: openraft::error::ForwardToLeader<NodeId, BasicNode>) -> Error {
    Error::NotLeader {
        leader: f.leader_id,
        address: f.leader_node.map(|n| n.addr),
    }
}
