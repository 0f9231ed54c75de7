//! S3 action names as policies spell them, and the action each s3s operation
//! asks for. Action patterns (`s3:Get*`, `*`) are compiled into a bit set over
//! `ACTIONS` when a policy is parsed, so a request tests one bit.

use super::glob::Glob;

/// Every action a Cairn request can ask for (at most 128).
pub const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:GetObjectAcl",
    "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAttributes",
    "s3:GetObjectVersionAttributes",
    "s3:GetObjectRetention",
    "s3:PutObjectRetention",
    "s3:GetObjectLegalHold",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:ListAllMyBuckets",
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketAcl",
    "s3:PutBucketAcl",
    "s3:GetBucketCORS",
    "s3:PutBucketCORS",
    "s3:GetBucketVersioning",
    "s3:PutBucketVersioning",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
    "s3:GetLifecycleConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:GetBucketObjectLockConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls",
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:GetBucketNotification",
    "s3:PutBucketNotification",
    "s3:GetBucketLogging",
    "s3:PutBucketLogging",
    "s3:GetBucketWebsite",
    "s3:PutBucketWebsite",
    "s3:DeleteBucketWebsite",
    "s3:GetReplicationConfiguration",
    "s3:PutReplicationConfiguration",
    "s3:GetAccelerateConfiguration",
    "s3:PutAccelerateConfiguration",
    "s3:GetBucketRequestPayment",
    "s3:PutBucketRequestPayment",
    "s3:GetAnalyticsConfiguration",
    "s3:PutAnalyticsConfiguration",
    "s3:GetInventoryConfiguration",
    "s3:PutInventoryConfiguration",
    "s3:GetMetricsConfiguration",
    "s3:PutMetricsConfiguration",
    "s3:GetIntelligentTieringConfiguration",
    "s3:PutIntelligentTieringConfiguration",
    "s3:RestoreObject",
];

/// A set of actions (bit `i`: `ACTIONS[i]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionSet(u128);

impl ActionSet {
    /// The actions `pattern` names (case-insensitive, `*` and `?`); empty when it
    /// names none.
    pub fn of_pattern(pattern: &str) -> ActionSet {
        let glob = Glob::new(&pattern.to_ascii_lowercase());
        let mut bits = 0u128;
        for (i, name) in ACTIONS.iter().enumerate() {
            if glob.matches(&name.to_ascii_lowercase()) {
                bits |= 1 << i;
            }
        }
        ActionSet(bits)
    }

    pub fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, action: Action) -> bool {
        self.0 & (1 << action.0) != 0
    }

    pub fn complement(self) -> ActionSet {
        ActionSet(!self.0 & ((1u128 << ACTIONS.len()) - 1))
    }
}

/// One action of `ACTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action(u8);

impl Action {
    pub fn named(name: &str) -> Option<Action> {
        ACTIONS
            .iter()
            .position(|a| a.eq_ignore_ascii_case(name))
            .and_then(|i| u8::try_from(i).ok())
            .map(Action)
    }

    pub fn name(self) -> &'static str {
        ACTIONS[usize::from(self.0)]
    }

    /// The action operation `op` (as s3s names it) asks for; `versioned` when the
    /// request names a version (`?versionId=`).
    pub fn of_op(op: &str, versioned: bool) -> Option<Action> {
        let v =
            |plain: &'static str, version: &'static str| if versioned { version } else { plain };
        let name = match op {
            "GetObject" | "HeadObject" => v("s3:GetObject", "s3:GetObjectVersion"),
            "PutObject"
            | "CopyObject"
            | "CreateMultipartUpload"
            | "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload"
            | "PostObject" => "s3:PutObject",
            "DeleteObject" | "DeleteObjects" => v("s3:DeleteObject", "s3:DeleteObjectVersion"),
            "GetObjectAcl" => v("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
            "PutObjectAcl" => v("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
            "GetObjectTagging" => v("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
            "PutObjectTagging" => v("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
            "DeleteObjectTagging" => v("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
            "GetObjectAttributes" => v("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
            "ListObjects" | "ListObjectsV2" | "HeadBucket" => "s3:ListBucket",
            "ListObjectVersions" => "s3:ListBucketVersions",
            "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
            "ListParts" => "s3:ListMultipartUploadParts",
            "ListBuckets" => "s3:ListAllMyBuckets",
            "GetBucketCors" => "s3:GetBucketCORS",
            "PutBucketCors" | "DeleteBucketCors" => "s3:PutBucketCORS",
            "DeleteBucketTagging" => "s3:PutBucketTagging",
            "GetBucketLifecycleConfiguration" | "GetBucketLifecycle" => {
                "s3:GetLifecycleConfiguration"
            }
            "PutBucketLifecycleConfiguration" | "PutBucketLifecycle" | "DeleteBucketLifecycle" => {
                "s3:PutLifecycleConfiguration"
            }
            "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
            "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
            "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
            "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
            "DeleteBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
            "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
            "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration",
            "GetBucketNotificationConfiguration" => "s3:GetBucketNotification",
            "PutBucketNotificationConfiguration" => "s3:PutBucketNotification",
            "GetBucketReplication" => "s3:GetReplicationConfiguration",
            "PutBucketReplication" | "DeleteBucketReplication" => "s3:PutReplicationConfiguration",
            "GetBucketAccelerateConfiguration" => "s3:GetAccelerateConfiguration",
            "PutBucketAccelerateConfiguration" => "s3:PutAccelerateConfiguration",
            other => {
                return ACTIONS
                    .iter()
                    .position(|a| a.strip_prefix("s3:") == Some(other))
                    .and_then(|i| u8::try_from(i).ok())
                    .map(Action)
            }
        };
        ACTIONS
            .iter()
            .position(|a| *a == name)
            .and_then(|i| u8::try_from(i).ok())
            .map(Action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_ops() {
        assert!(ACTIONS.len() <= 128);
        let get = ActionSet::of_pattern("s3:Get*");
        let obj = Action::of_op("GetObject", false).expect("known");
        assert!(get.contains(obj));
        assert!(!get.contains(Action::of_op("PutObject", false).expect("known")));
        assert!(ActionSet::of_pattern("*").contains(obj));
        assert!(ActionSet::of_pattern("S3:GETOBJECT").contains(obj));
        assert!(ActionSet::of_pattern("s3:NoSuchThing").is_empty());
        assert!(!ActionSet::of_pattern("s3:GetObject")
            .complement()
            .contains(obj));
        assert_eq!(
            Action::of_op("HeadObject", true).map(Action::name),
            Some("s3:GetObjectVersion")
        );
        assert_eq!(
            Action::of_op("ListObjectsV2", false).map(Action::name),
            Some("s3:ListBucket")
        );
        assert_eq!(
            Action::of_op("GetBucketPolicy", false).map(Action::name),
            Some("s3:GetBucketPolicy")
        );
        for op in [
            "GetBucketVersioning",
            "PutBucketTagging",
            "DeleteBucket",
            "GetBucketAcl",
        ] {
            assert!(Action::of_op(op, false).is_some(), "{op}");
        }
    }
}
