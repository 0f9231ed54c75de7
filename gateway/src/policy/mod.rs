//! Bucket policies: parsed and validated when put (`document`, with `actions`,
//! `condition`, `glob`), kept parsed per bucket (`cache`), evaluated per request
//! (`evaluate`) against the request's lazily read condition values (`context`);
//! `gate` combines the policy's decision with grants and ACLs for the authorizer.

pub mod acl;
pub mod actions;
pub mod cache;
pub mod condition;
pub mod context;
pub mod document;
pub mod evaluate;
pub mod gate;
pub mod glob;
pub mod public_block;

pub use document::{parse, Policy};

/// AWS's limit on a bucket policy document.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Why a policy document is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// Not a well-formed policy (`MalformedPolicy`).
    Malformed(String),
    /// Well-formed, but asks for what Cairn does not evaluate (`NotImplemented`).
    Unsupported(String),
}

#[cfg(test)]
mod tests;
