//! Access keys and bucket grants as the catalog keeps them: `KeyRecord` (a key's
//! name, id, sealed secret, dates, enabled flag), `Permission` (read / write /
//! owner) and `BucketAccess` (a bucket's owner and per-key grants), and
//! `AccessState`, all of them at once for a gateway's cache. Secrets are sealed by
//! the gateway (AEAD); the catalog never sees a plain one.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One access key. Persisted (postcard): append fields only with a new record type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Unique, chosen by the operator (`cairn key create NAME`).
    pub name: String,
    /// The id clients sign with (unique).
    pub access_key: String,
    /// The secret, sealed by the gateways' sealing key (nonce ‖ ciphertext ‖ tag).
    pub sealed_secret: Vec<u8>,
    pub created_ms: i64,
    /// After this instant the key is refused.
    pub expires_ms: Option<i64>,
    pub enabled: bool,
    /// The admin-owner: acts on every bucket.
    pub admin: bool,
}

impl KeyRecord {
    /// Whether the key may sign requests at `now_ms`.
    pub fn usable(&self, now_ms: i64) -> bool {
        self.enabled && self.expires_ms.is_none_or(|t| now_ms < t)
    }
}

/// What a grant lets a key do on a bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// Get/Head/List objects, versions, uploads, parts, tags.
    pub read: bool,
    /// Put/Copy/Delete objects, multipart uploads, object tags and locks.
    pub write: bool,
    /// The bucket's configuration and its deletion, as its owner.
    pub owner: bool,
}

impl Permission {
    pub fn is_none(&self) -> bool {
        !(self.read || self.write || self.owner)
    }

    /// Every permission of `self` and of `other`.
    pub fn union(self, other: Permission) -> Permission {
        Permission {
            read: self.read || other.read,
            write: self.write || other.write,
            owner: self.owner || other.owner,
        }
    }

    /// `self` without the permissions of `other`.
    pub fn without(self, other: Permission) -> Permission {
        Permission {
            read: self.read && !other.read,
            write: self.write && !other.write,
            owner: self.owner && !other.owner,
        }
    }
}

/// A bucket's owner and grants (access key id → permission). A bucket without
/// one (made before keys had owners) belongs to the admin keys alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketAccess {
    /// The access key id of the key that created the bucket.
    pub owner: String,
    pub grants: BTreeMap<String, Permission>,
}

impl BucketAccess {
    /// What `access_key` may do here: everything as the owner, else its grant.
    pub fn permission_of(&self, access_key: &str) -> Permission {
        if self.owner == access_key {
            return Permission {
                read: true,
                write: true,
                owner: true,
            };
        }
        self.grants.get(access_key).copied().unwrap_or_default()
    }
}

/// Every key and every bucket's access, read in one transaction.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccessState {
    pub keys: Vec<KeyRecord>,
    pub buckets: BTreeMap<String, BucketAccess>,
}
