//! Versioning and object-lock records: a bucket's versioning state and lock
//! configuration, one stored version of a key (an object or a delete marker) with
//! its lock, the lock rules every path that removes or changes a version obeys,
//! and the requests and answers of versioned operations. Kept apart from
//! `records` so that the encoding of the records stored before versioning
//! existed stays as it was.

use crate::lifecycle::LifecycleConfig;
use crate::records::ObjectRecord;
use serde::{Deserialize, Serialize};

/// The version id S3 gives the one version of an unversioned (or suspended) write.
pub const NULL_VERSION: &str = "null";

const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// Never enabled: writes replace the key's only version.
    #[default]
    Unversioned,
    Enabled,
    /// Writes replace the `null` version; older versions stay.
    Suspended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionMode {
    Governance,
    Compliance,
}

impl RetentionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(RetentionMode::Governance),
            "COMPLIANCE" => Some(RetentionMode::Compliance),
            _ => None,
        }
    }
}

/// A retention period as the bucket's default rule states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

impl RetentionPeriod {
    pub fn millis(self) -> i64 {
        match self {
            RetentionPeriod::Days(d) => i64::from(d) * DAY_MS,
            RetentionPeriod::Years(y) => i64::from(y) * 365 * DAY_MS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    pub period: RetentionPeriod,
}

/// A bucket's settings beyond its record: versioning, object lock, lifecycle.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketConfig {
    pub versioning: Versioning,
    /// Object lock is enabled (for ever: S3 has no way to turn it off).
    pub object_lock: bool,
    pub default_retention: Option<DefaultRetention>,
    /// The lifecycle rules (`CatalogCommand::SetLifecycle`).
    pub lifecycle: Option<LifecycleConfig>,
}

/// A change to a bucket's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigChange {
    Versioning(Versioning),
    /// Enable object lock (versioning must be enabled) with this default rule.
    ObjectLock(Option<DefaultRetention>),
}

/// The retention and legal hold of one version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    /// Mode and retain-until time (ms since the epoch).
    pub retention: Option<(RetentionMode, i64)>,
    pub legal_hold: bool,
}

impl ObjectLock {
    /// The retention in force at `now_ms` (an expired one protects nothing).
    pub fn active_retention(&self, now_ms: i64) -> Option<RetentionMode> {
        self.retention
            .filter(|(_, until)| *until > now_ms)
            .map(|(mode, _)| mode)
    }

    /// Why this version may not be deleted at `now_ms`, if it may not.
    pub fn forbids_delete(&self, now_ms: i64, bypass_governance: bool) -> Option<&'static str> {
        if self.legal_hold {
            return Some("the object version is under a legal hold");
        }
        match self.active_retention(now_ms) {
            Some(RetentionMode::Compliance) => {
                Some("the object version is locked in COMPLIANCE mode")
            }
            Some(RetentionMode::Governance) if !bypass_governance => {
                Some("the object version is locked in GOVERNANCE mode")
            }
            _ => None,
        }
    }

    /// Why the retention may not become `new` at `now_ms`, if it may not:
    /// COMPLIANCE can only be extended; GOVERNANCE can be extended, and changed
    /// otherwise only with the bypass.
    pub fn forbids_retention(
        &self,
        new: Option<(RetentionMode, i64)>,
        now_ms: i64,
        bypass_governance: bool,
    ) -> Option<&'static str> {
        let (mode, until) = self.retention.filter(|(_, u)| *u > now_ms)?;
        let extends = matches!(new, Some((m, u)) if m == mode && u >= until);
        match mode {
            _ if extends => None,
            RetentionMode::Compliance => Some(
                "a COMPLIANCE retention can be extended but never shortened, changed or removed",
            ),
            RetentionMode::Governance if bypass_governance => None,
            RetentionMode::Governance => Some(
                "shortening or removing a GOVERNANCE retention needs x-amz-bypass-governance-retention",
            ),
        }
    }
}

/// One version of a key: an object, or a delete marker (`record: None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    /// The `null` version (written while unversioned or suspended).
    pub null: bool,
    pub record: Option<ObjectRecord>,
    /// When a delete marker was written (objects carry their own time).
    pub marker_ms: i64,
    pub lock: ObjectLock,
}

impl VersionRow {
    pub fn last_modified_ms(&self) -> i64 {
        self.record
            .as_ref()
            .map_or(self.marker_ms, |r| r.last_modified_ms)
    }
}

/// A version as a read finds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    /// `None` in a bucket that was never versioned (no version header is sent).
    pub version_id: Option<String>,
    pub latest: bool,
    pub row: VersionRow,
}

/// The version id of the version with sequence number `seq`.
pub fn version_id(seq: u64, null: bool) -> String {
    if null {
        NULL_VERSION.to_string()
    } else {
        format!("{seq:016x}")
    }
}

/// The sequence number a (non-null) version id names; `None` if it is not one.
pub fn parse_version_id(id: &str) -> Option<u64> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

/// One key (and version) of a versioned delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteTarget {
    pub key: String,
    pub version_id: Option<String>,
}

/// What deleting one target did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOutcome {
    pub key: String,
    /// The version removed, or the delete marker written.
    pub version_id: Option<String>,
    /// A delete marker was written, or the version removed was one.
    pub delete_marker: bool,
    /// The S3 error code and message when this target was refused.
    pub error: Option<(String, String)>,
}

/// An in-place change to one version (not its data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionChange {
    SetTags(Vec<(String, String)>),
    SetRetention {
        retention: Option<(RetentionMode, i64)>,
        bypass_governance: bool,
    },
    SetLegalHold(bool),
    /// The version's ACL document (`ObjectMeta::acl`), `None` for the default.
    SetAcl(Option<String>),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn version_ids_round_trip_and_sort_by_age() {
        assert_eq!(parse_version_id(&version_id(42, false)), Some(42));
        assert_eq!(version_id(42, true), "null");
        assert_eq!(parse_version_id("null"), None);
        assert_eq!(parse_version_id("xyz"), None);
        assert!(version_id(9, false) < version_id(10, false));
    }

    #[test]
    fn lock_rules() {
        let now = 1_000;
        let compliance = ObjectLock {
            retention: Some((RetentionMode::Compliance, now + 10)),
            legal_hold: false,
        };
        assert!(compliance.forbids_delete(now, true).is_some());
        assert!(
            compliance.forbids_delete(now + 10, false).is_none(),
            "expired"
        );
        let shorter = Some((RetentionMode::Compliance, now + 5));
        let longer = Some((RetentionMode::Compliance, now + 50));
        assert!(compliance.forbids_retention(shorter, now, true).is_some());
        assert!(compliance.forbids_retention(None, now, true).is_some());
        assert!(compliance
            .forbids_retention(Some((RetentionMode::Governance, now + 50)), now, true)
            .is_some());
        assert!(compliance.forbids_retention(longer, now, false).is_none());

        let governance = ObjectLock {
            retention: Some((RetentionMode::Governance, now + 10)),
            legal_hold: false,
        };
        assert!(governance.forbids_delete(now, false).is_some());
        assert!(governance.forbids_delete(now, true).is_none());
        assert!(governance.forbids_retention(None, now, false).is_some());
        assert!(governance.forbids_retention(None, now, true).is_none());

        let held = ObjectLock {
            retention: None,
            legal_hold: true,
        };
        assert!(held.forbids_delete(now, true).is_some());
    }
}
