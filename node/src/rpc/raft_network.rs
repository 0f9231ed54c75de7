//! openraft's network for one group: every message goes through the node's shared
//! `RpcClient` (so all groups share connections), tagged with the group id.

use crate::error::Error;
use crate::ids::{GroupId, NodeId};
use crate::raft::{TypeConfig, Vote};
use crate::rpc::client::RpcClient;
use crate::rpc::messages::{Request, Response, SnapshotHeader};
use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed, StreamingError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::storage::Snapshot;
use openraft::BasicNode;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Network {
    pub group: GroupId,
    pub rpc: Arc<RpcClient>,
}

pub struct Connection {
    group: GroupId,
    target: NodeId,
    rpc: Arc<RpcClient>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Connection {
        Connection {
            group: self.group,
            target,
            rpc: self.rpc.clone(),
        }
    }
}

type RpcErr = RPCError<NodeId, BasicNode, RaftError<NodeId>>;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failure(String);

fn transport_error(e: Error) -> RpcErr {
    match e {
        Error::Unavailable(s) => RPCError::Unreachable(Unreachable::new(&Failure(s))),
        other => RPCError::Network(NetworkError::new(&Failure(other.to_string()))),
    }
}

impl Connection {
    async fn call(&self, req: Request, option: &RPCOption) -> Result<Response, Error> {
        let timeout = option.hard_ttl().max(Duration::from_millis(500));
        self.rpc.call(self.target, &req, timeout).await
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr> {
        let req = Request::AppendEntries {
            group: self.group,
            rpc,
        };
        match self.call(req, &option).await.map_err(transport_error)? {
            Response::AppendEntries(r) => r.map_err(|e| RemoteError::new(self.target, e).into()),
            other => Err(transport_error(Error::Remote(format!(
                "unexpected {other:?}"
            )))),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr> {
        let req = Request::Vote {
            group: self.group,
            rpc,
        };
        match self.call(req, &option).await.map_err(transport_error)? {
            Response::Vote(r) => r.map_err(|e| RemoteError::new(self.target, e).into()),
            other => Err(transport_error(Error::Remote(format!(
                "unexpected {other:?}"
            )))),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let header = SnapshotHeader {
            group: self.group,
            vote,
            meta: snapshot.meta.clone(),
        };
        let send = self.rpc.send_snapshot(
            self.target,
            &header,
            &snapshot.snapshot,
            Duration::from_secs(3600),
        );
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            result = send => result.map_err(|e| match e {
                Error::Unavailable(s) => StreamingError::Unreachable(Unreachable::new(&Failure(s))),
                other => StreamingError::Network(NetworkError::new(&Failure(other.to_string()))),
            }),
        }
    }
}
