//! The identifiers every layer shares, with no imports from the crate: nodes
//! (`NodeId`), Raft groups (`GroupId`: 0 is the catalog, `1 + pg` placement group
//! `pg`), placement groups (`PgId`) and chunks (`ChunkId`, the BLAKE3 hash of a
//! chunk's bytes, its name everywhere).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node of the cluster, as `cluster.toml` numbers it.
pub type NodeId = u64;

/// A Raft group: 0 is the catalog, `1 + pg` is placement group `pg`.
pub type GroupId = u64;

/// A placement group: chunks are spread over PGs by the leading bits of their id.
pub type PgId = u32;

/// The catalog's Raft group.
pub const CATALOG_GROUP: GroupId = 0;

/// The Raft group of placement group `pg`.
pub fn pg_group(pg: PgId) -> GroupId {
    1 + GroupId::from(pg)
}

/// The placement group of a group id, `None` for the catalog.
pub fn group_pg(group: GroupId) -> Option<PgId> {
    group.checked_sub(1).and_then(|g| PgId::try_from(g).ok())
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChunkId(pub [u8; 32]);

impl ChunkId {
    /// The id of `data`: its BLAKE3 hash.
    pub fn of(data: &[u8]) -> Self {
        ChunkId(*blake3::hash(data).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(ChunkId(out))
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkId({})", self.to_hex())
    }
}
