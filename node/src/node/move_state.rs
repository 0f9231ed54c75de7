//! `MoveState`: what the node knows of one membership change it leads (target
//! members, whether it runs, failures and the last error). Held by `Node`, driven
//! by `moves`.

use crate::ids::NodeId;
use std::time::Instant;

/// One membership change led by this node.
#[derive(Clone, Debug)]
pub struct MoveState {
    pub(super) target: Vec<NodeId>,
    pub(super) running: bool,
    pub(super) failures: u32,
    pub(super) error: Option<String>,
    pub(super) last_attempt: Instant,
}

impl MoveState {
    pub(super) fn new(target: &[NodeId]) -> Self {
        MoveState {
            target: target.to_vec(),
            running: false,
            failures: 0,
            error: None,
            last_attempt: Instant::now(),
        }
    }
}
