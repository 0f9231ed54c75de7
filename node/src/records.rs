//! Records the catalog stores: buckets, object versions (with their manifest of
//! chunks), multipart uploads and their parts. Encoded with postcard.

use crate::ids::ChunkId;
use serde::{Deserialize, Serialize};

/// One chunk of an object's data, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub id: ChunkId,
    pub len: u64,
}

/// Where an object's bytes are: inline in the record (tiny objects) or in chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectData {
    Inline(Vec<u8>),
    Chunks(Vec<ChunkRef>),
}

impl ObjectData {
    pub fn chunks(&self) -> &[ChunkRef] {
        match self {
            ObjectData::Inline(_) => &[],
            ObjectData::Chunks(c) => c,
        }
    }
}

/// Standard HTTP content headers stored with an object and returned on GET/HEAD.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
}

/// S3 additional checksums (base64 of the raw digest), as the client sent them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// `FULL_OBJECT` or `COMPOSITE`, when any checksum is present.
    pub kind: Option<String>,
}

/// Everything the client set on an object besides its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub headers: ContentHeaders,
    /// `x-amz-meta-*`, and Cairn's own entries under names no header can have
    /// (`RESERVED_PREFIX`): see `ObjectMeta::acl`.
    pub user: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

/// User metadata names starting with this are Cairn's (a header name cannot hold
/// a ':'): never returned as `x-amz-meta-*`.
pub const RESERVED_PREFIX: &str = ":";
/// The object's ACL and owner (the gateway's JSON document).
const ACL_ENTRY: &str = ":acl";

impl ObjectMeta {
    /// The object's ACL document; `None` for the default (private, owned by the
    /// bucket's owner). Kept among the user metadata so that the record's
    /// encoding, and with it every stored record, snapshot and log entry, stays as
    /// it was: records from before ACLs decode unchanged, without one.
    pub fn acl(&self) -> Option<&str> {
        self.user
            .iter()
            .find(|(k, _)| k == ACL_ENTRY)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_acl(&mut self, acl: Option<String>) {
        self.user.retain(|(k, _)| k != ACL_ENTRY);
        if let Some(acl) = acl {
            self.user.push((ACL_ENTRY.to_string(), acl));
        }
    }

    /// The client's own user metadata (`x-amz-meta-*`).
    pub fn client_user(&self) -> impl Iterator<Item = &(String, String)> {
        self.user
            .iter()
            .filter(|(k, _)| !k.starts_with(RESERVED_PREFIX))
    }

    /// Cairn's own entries (kept when a copy replaces the client's metadata).
    pub fn reserved_user(&self) -> impl Iterator<Item = &(String, String)> {
        self.user
            .iter()
            .filter(|(k, _)| k.starts_with(RESERVED_PREFIX))
    }
}

/// The current version of an object. Its first three fields are also decoded on
/// their own as `ObjectHead` (listing): keep them first and in this order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub size: u64,
    /// Hex MD5, or `md5-of-part-md5s-N` for multipart uploads; without quotes.
    pub etag: String,
    pub last_modified_ms: i64,
    pub meta: ObjectMeta,
    pub checksums: Checksums,
    /// Part sizes when the object came from a multipart upload.
    pub part_sizes: Vec<u64>,
    pub data: ObjectData,
}

/// The leading fields of an encoded `ObjectRecord`, decoded without the rest.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ObjectHead {
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
}

impl ObjectHead {
    /// Decodes the head of an encoded `ObjectRecord`.
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::take_from_bytes(bytes).map(|(head, _rest)| head)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub created_ms: i64,
    pub location: String,
    pub tags: Vec<(String, String)>,
    /// Made public-read before ACLs were kept (bucket ACLs are now a bucket
    /// document): anyone may list the bucket and GET/HEAD its objects without an
    /// ACL of their own, as then. No longer set; cleared by the next PutBucketAcl.
    pub public_read_acl: bool,
    /// The bucket policy document, stored as sent.
    pub policy: Option<String>,
}

/// A multipart upload in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub meta: ObjectMeta,
    /// The checksum named at creation, if any: `ALGORITHM/TYPE` (`CRC32/COMPOSITE`,
    /// `CRC64NVME/FULL_OBJECT`), or a bare `ALGORITHM` in records from before the
    /// type was kept. See `UploadRecord::checksum`.
    pub checksum_algorithm: Option<String>,
}

impl UploadRecord {
    /// The checksum algorithm and type (`COMPOSITE` or `FULL_OBJECT`) named at
    /// creation. The type rides in `checksum_algorithm` so that the record's
    /// encoding, and with it every stored record, snapshot and log entry, stays as
    /// it was; a bare algorithm is COMPOSITE, but CRC64NVME, which S3 has only as
    /// FULL_OBJECT.
    pub fn checksum(&self) -> Option<(&str, &str)> {
        let spec = self.checksum_algorithm.as_deref()?;
        Some(match spec.split_once('/') {
            Some((algorithm, kind)) => (algorithm, kind),
            None if spec == "CRC64NVME" => (spec, "FULL_OBJECT"),
            None => (spec, "COMPOSITE"),
        })
    }

    /// The `checksum_algorithm` value for `algorithm` and `kind`.
    pub fn checksum_spec(algorithm: &str, kind: &str) -> String {
        format!("{algorithm}/{kind}")
    }
}

/// One uploaded part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub etag: String,
    pub size: u64,
    pub last_modified_ms: i64,
    pub checksums: Checksums,
    pub chunks: Vec<ChunkRef>,
}

/// What must hold about the current object for a write to go ahead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteCondition {
    #[default]
    Always,
    /// `If-None-Match: *`: only create.
    IfAbsent,
    /// `If-Match: etag`: only replace this version.
    IfEtag(String),
}

/// An in-place change to a bucket's record (its settings, not its objects).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BucketChange {
    SetTags(Vec<(String, String)>),
    SetPublicRead(bool),
    SetPolicy(Option<String>),
}

impl BucketChange {
    pub fn apply(&self, record: &mut BucketRecord) {
        match self {
            BucketChange::SetTags(tags) => record.tags = tags.clone(),
            BucketChange::SetPublicRead(public) => record.public_read_acl = *public,
            BucketChange::SetPolicy(policy) => record.policy = policy.clone(),
        }
    }
}

/// An in-place change to an object's record (not its data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectChange {
    SetTags(Vec<(String, String)>),
}

impl ObjectChange {
    pub fn apply(&self, record: &mut ObjectRecord) {
        match self {
            ObjectChange::SetTags(tags) => record.meta.tags = tags.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn upload_checksum_spec_reads_old_and_new_records() {
        let mut rec = UploadRecord {
            bucket: "b".into(),
            key: "k".into(),
            initiated_ms: 0,
            meta: ObjectMeta::default(),
            checksum_algorithm: None,
        };
        assert_eq!(rec.checksum(), None);
        for (stored, expected) in [
            ("CRC32", ("CRC32", "COMPOSITE")),
            ("CRC64NVME", ("CRC64NVME", "FULL_OBJECT")),
            ("CRC32C/FULL_OBJECT", ("CRC32C", "FULL_OBJECT")),
            ("SHA256/COMPOSITE", ("SHA256", "COMPOSITE")),
        ] {
            rec.checksum_algorithm = Some(stored.into());
            assert_eq!(rec.checksum(), Some(expected));
        }
        assert_eq!(
            UploadRecord::checksum_spec("CRC32", "FULL_OBJECT"),
            "CRC32/FULL_OBJECT"
        );
    }

    #[test]
    fn acl_rides_in_user_metadata_hidden_from_clients() {
        let mut meta = ObjectMeta {
            user: vec![("a".into(), "1".into())],
            ..Default::default()
        };
        assert_eq!(meta.acl(), None);
        meta.set_acl(Some("{}".into()));
        meta.set_acl(Some("{\"grants\":[]}".into()));
        assert_eq!(meta.acl(), Some("{\"grants\":[]}"));
        assert_eq!(meta.client_user().count(), 1);
        let bytes = postcard::to_allocvec(&meta).unwrap();
        let back: ObjectMeta = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, meta);
        meta.set_acl(None);
        assert_eq!(meta.user, vec![("a".to_string(), "1".to_string())]);
    }

    #[test]
    fn head_decodes_from_a_full_record() {
        let rec = ObjectRecord {
            size: 42,
            etag: "abc".into(),
            last_modified_ms: 7,
            meta: ObjectMeta::default(),
            checksums: Checksums::default(),
            part_sizes: vec![1, 2],
            data: ObjectData::Inline(vec![9; 42]),
        };
        let bytes = postcard::to_allocvec(&rec).unwrap();
        let head = ObjectHead::decode(&bytes).unwrap();
        assert_eq!(
            (head.size, head.etag.as_str(), head.last_modified_ms),
            (42, "abc", 7)
        );
    }
}
