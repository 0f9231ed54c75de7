//! Which permission each S3 operation needs on its bucket: object reads and
//! listings need read, object writes need write, everything about the bucket
//! itself (its configuration, ACL, policy, deletion) needs owner; ListBuckets and
//! CreateBucket need only a usable key. A copy also needs read on its source.

use cairn_node::access::Permission;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Any,
    Read,
    Write,
    Owner,
}

impl Need {
    /// Whether `p` allows it (an owner grant allows everything).
    pub fn met_by(self, p: Permission) -> bool {
        match self {
            Need::Any => true,
            Need::Read => p.read || p.owner,
            Need::Write => p.write || p.owner,
            Need::Owner => p.owner,
        }
    }
}

/// The permission operation `op` (as s3s names it) needs; an operation not
/// listed needs owner.
pub fn required(op: &str) -> Need {
    match op {
        "ListBuckets" | "CreateBucket" => Need::Any,
        "GetObject"
        | "HeadObject"
        | "GetObjectAttributes"
        | "GetObjectTagging"
        | "GetObjectRetention"
        | "GetObjectLegalHold"
        | "GetObjectAcl"
        | "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "ListParts"
        | "ListMultipartUploads"
        | "HeadBucket"
        | "GetBucketLocation" => Need::Read,
        "PutObject"
        | "CopyObject"
        | "DeleteObject"
        | "DeleteObjects"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "PutObjectTagging"
        | "DeleteObjectTagging"
        | "PutObjectRetention"
        | "PutObjectLegalHold"
        | "PutObjectAcl" => Need::Write,
        _ => Need::Owner,
    }
}

/// The source bucket and key of a CopyObject / UploadPartCopy (`x-amz-copy-source:
/// [/]BUCKET/KEY[?versionId=..]`, URL-encoded).
pub fn copy_source(op: &str, headers: &http::HeaderMap) -> Option<(String, String)> {
    if !matches!(op, "CopyObject" | "UploadPartCopy") {
        return None;
    }
    let raw = headers.get("x-amz-copy-source")?.to_str().ok()?;
    let raw = raw.split_once("?versionId=").map_or(raw, |(path, _)| path);
    let decoded = urlencoding::decode(raw).ok()?;
    let (bucket, key) = decoded.trim_start_matches('/').split_once('/')?;
    (!bucket.is_empty()).then(|| (bucket.to_string(), key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(required("GetObject"), Need::Read);
        assert_eq!(required("PutObject"), Need::Write);
        assert_eq!(required("PutBucketPolicy"), Need::Owner);
        assert_eq!(required("SomethingNew"), Need::Owner);
        let read = Permission {
            read: true,
            ..Default::default()
        };
        assert!(Need::Read.met_by(read));
        assert!(!Need::Write.met_by(read));
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-copy-source",
            "/src%2Dbucket/a/b".parse().expect("hv"),
        );
        assert_eq!(
            copy_source("CopyObject", &h),
            Some(("src-bucket".into(), "a/b".into()))
        );
        assert_eq!(copy_source("PutObject", &h), None);
    }
}
