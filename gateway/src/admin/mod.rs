//! Operator commands that talk to a running cluster (`cairn cluster ...`): the
//! cluster view they share, status, plan and apply.

pub mod apply;
pub mod plan;
pub mod status;
pub mod view;
