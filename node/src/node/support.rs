//! Small helpers every file of the node layer uses: running blocking storage work
//! off the async threads, committing through a group, and mapping openraft errors.

use crate::error::{Error, Result};
use crate::ids::NodeId;
use crate::raft::{Command, Raft, Reply};
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::BasicNode;

/// Commits `cmd` through `raft` (this node must lead the group).
pub(super) async fn write_to(raft: Raft, cmd: Command) -> Result<Reply> {
    match raft.client_write(cmd).await {
        Ok(resp) => Ok(resp.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => Err(forward(f)),
        Err(e) => Err(unavailable(e)),
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
