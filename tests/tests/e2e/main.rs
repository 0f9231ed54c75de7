//! End-to-end tests: the real `cairn server` process driven by aws-sdk-s3 and raw
//! signed HTTP. One test binary (one link of the SDK) with a module per area.

#![allow(clippy::unwrap_used)]
mod access;
mod acl;
mod acl_ownership;
mod admin_api;
mod buckets;
mod checksums;
mod chunk_counters;
mod chunked;
mod concurrency;
mod conditional;
mod copy;
mod cors;
mod crash;
mod crash_versions;
mod dedup;
mod disk_full;
mod errors;
mod headers;
mod lifecycle;
mod limits;
mod listing;
mod listing_aws;
mod multipart;
mod multipart_checksums;
mod object_lock;
mod objects;
mod parts;
mod persistence;
mod policy_conditions;
mod policy_eval;
mod post_object;
mod post_object_policy;
mod post_object_stream;
mod public_access;
mod refusals;
mod request_limits;
mod retried_writes;
mod scrub;
mod transport;
mod versioning;
