//! Operator commands that talk to a running cluster (`cairn cluster ...`): the
//! cluster view they share, status (with its scrub section), plan and apply.

pub mod apply;
pub mod plan;
pub mod scrub;
pub mod status;
pub mod view;
