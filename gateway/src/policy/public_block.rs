//! A bucket's public access block (the four AWS settings), stored as a catalog
//! bucket document (JSON, so it can grow), and what each setting means for a
//! request: `BlockPublicAcls` refuses requests that would set a public ACL,
//! `IgnorePublicAcls` makes public ACLs grant nothing, `BlockPublicPolicy`
//! refuses a public bucket policy, `RestrictPublicBuckets` keeps a public
//! policy's Allow statements from opening the bucket to anonymous clients.

use serde::{Deserialize, Serialize};

/// The catalog bucket document kind.
pub const DOC_KIND: &str = "public-access-block";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(doc: &[u8]) -> Option<Self> {
        serde_json::from_slice(doc).ok()
    }
}

/// The AllUsers and AuthenticatedUsers group URIs: grants to them are public.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Whether a canned ACL is public (AWS: it grants to AllUsers or
/// AuthenticatedUsers).
pub fn public_canned(acl: &str) -> bool {
    matches!(
        acl,
        "public-read" | "public-read-write" | "authenticated-read"
    )
}

/// Whether a request's ACL headers (`x-amz-acl`, `x-amz-grant-*`) would make
/// something public.
pub fn public_acl_headers(headers: &http::HeaderMap) -> bool {
    let canned = headers
        .get("x-amz-acl")
        .and_then(|v| v.to_str().ok())
        .is_some_and(public_canned);
    canned
        || headers.iter().any(|(name, value)| {
            name.as_str().starts_with("x-amz-grant-")
                && value
                    .to_str()
                    .is_ok_and(|v| v.contains(ALL_USERS) || v.contains(AUTHENTICATED_USERS))
        })
}
