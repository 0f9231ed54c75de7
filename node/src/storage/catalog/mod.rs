//! The catalog: buckets and their settings, current object versions and (in
//! versioned buckets) every version, multipart uploads and parts, and access keys,
//! in one redb database — the state machine of the catalog Raft group.
//! Every Raft entry is applied in one transaction committed without fsync (its
//! commands and the applied index, `entries`): the Raft log is the durable record,
//! and a crash replays the entries after the last synced commit.
//! `sync` makes everything durable (before a snapshot lets the log be purged).

mod bucket_docs;
mod buckets;
mod chunk_refs;
mod command;
mod db;
mod entries;
mod keys;
mod lifecycle;
mod listing;
mod objects;
mod snapshot;
mod uploads;
mod usage;
mod version_listing;
mod versions;

pub use chunk_refs::{ChunkOwner, RefCursor};
pub use command::{CatalogCommand, CatalogQuery, CatalogReply, CatalogRequest, Outcome};
pub use db::Catalog;
pub use entries::{EntryWrite, KEPT_REQUESTS};
pub use snapshot::CatalogView;

pub use lifecycle::{CurrentCandidate, VersionCandidate};
pub use listing::{ListPage, ListQuery, ObjectSummary};
pub use uploads::{UploadList, UploadListQuery, UploadSummary};
pub use usage::BucketUsage;
pub use version_listing::{VersionEntry, VersionListQuery, VersionPage};
