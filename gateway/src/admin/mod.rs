//! Operator commands that talk to a running cluster (`cairn cluster ...`).

pub mod status;
