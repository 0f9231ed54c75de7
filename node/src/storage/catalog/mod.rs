//! The catalog: buckets and their settings, current object versions and (in
//! versioned buckets) every version, multipart uploads and parts, and access keys, in one redb database — the state machine of the catalog Raft group.
//! Every change is one transaction committed without fsync: the Raft log is the
//! durable record, and a crash replays the entries after the last synced commit.
//! `sync` makes everything durable (before a snapshot lets the log be purged).

mod buckets;
mod command;
mod db;
mod keys;
mod lifecycle;
mod listing;
mod objects;
mod snapshot;
mod uploads;
mod version_listing;
mod versions;

pub use command::{CatalogCommand, CatalogQuery, CatalogReply};
pub use db::Catalog;

pub use lifecycle::{CurrentCandidate, VersionCandidate};
pub use listing::{ListPage, ListQuery, ObjectSummary};
pub use uploads::{UploadList, UploadListQuery, UploadSummary};
pub use version_listing::{VersionEntry, VersionListQuery, VersionPage};
