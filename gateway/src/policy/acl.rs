//! S3 ACLs as Cairn keeps and evaluates them: grants of READ, WRITE, READ_ACP,
//! WRITE_ACP or FULL_CONTROL to a key (its access key id is its canonical user
//! id), to AllUsers (anyone, anonymous included) or to AuthenticatedUsers (any
//! valid key); the canned ACLs as grant lists; the `x-amz-acl` / `x-amz-grant-*`
//! headers of a request; what each operation needs of a bucket's or an object's
//! ACL; and the bucket's object ownership setting (`BucketOwnerEnforced` turns
//! ACLs off). A bucket's ACL is a catalog bucket document (`DOC_KIND`), an
//! object's rides in its metadata (`ObjectMeta::acl`), both JSON.

use super::cache::BucketAuth;
use super::public_block::{ALL_USERS, AUTHENTICATED_USERS};
use s3s::{s3_error, S3Result};
use serde::{Deserialize, Serialize};

/// The catalog bucket document kinds: the bucket's ACL, its object ownership.
pub const DOC_KIND: &str = "acl";
pub const OWNERSHIP_DOC_KIND: &str = "object-ownership";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// A Cairn key, by access key id.
    Key(String),
    AllUsers,
    AuthenticatedUsers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Perm {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Perm {
    pub const ALL: [Perm; 5] = [
        Perm::Read,
        Perm::Write,
        Perm::ReadAcp,
        Perm::WriteAcp,
        Perm::FullControl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Perm::Read => "READ",
            Perm::Write => "WRITE",
            Perm::ReadAcp => "READ_ACP",
            Perm::WriteAcp => "WRITE_ACP",
            Perm::FullControl => "FULL_CONTROL",
        }
    }

    pub fn parse(s: &str) -> Option<Perm> {
        Perm::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The `x-amz-grant-*` header that grants it.
    pub fn header(self) -> &'static str {
        match self {
            Perm::Read => "x-amz-grant-read",
            Perm::Write => "x-amz-grant-write",
            Perm::ReadAcp => "x-amz-grant-read-acp",
            Perm::WriteAcp => "x-amz-grant-write-acp",
            Perm::FullControl => "x-amz-grant-full-control",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub perm: Perm,
}

/// An ACL: exactly the grants that were set, in order, and (objects) the owner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// The object owner's key id (a bucket's owner is its access row's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub grants: Vec<Grant>,
}

fn grant(grantee: Grantee, perm: Perm) -> Grant {
    Grant { grantee, perm }
}

impl Acl {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(doc: &[u8]) -> Option<Acl> {
        serde_json::from_slice(doc).ok()
    }

    /// The owner's full control alone (`private`).
    pub fn private(owner: &str) -> Acl {
        Acl {
            owner: None,
            grants: vec![grant(Grantee::Key(owner.into()), Perm::FullControl)],
        }
    }

    /// The grants of canned ACL `name` for a resource owned by `owner` in a bucket
    /// owned by `bucket_owner` (AWS's table; the bucket-owner ACLs are private on
    /// a bucket).
    pub fn canned(name: &str, owner: &str, bucket_owner: &str) -> S3Result<Acl> {
        let mut acl = Acl::private(owner);
        let g = &mut acl.grants;
        match name {
            "private" => {}
            "public-read" => g.push(grant(Grantee::AllUsers, Perm::Read)),
            "public-read-write" => {
                g.push(grant(Grantee::AllUsers, Perm::Read));
                g.push(grant(Grantee::AllUsers, Perm::Write));
            }
            "authenticated-read" => g.push(grant(Grantee::AuthenticatedUsers, Perm::Read)),
            "bucket-owner-read" if owner != bucket_owner => {
                g.push(grant(Grantee::Key(bucket_owner.into()), Perm::Read))
            }
            "bucket-owner-full-control" if owner != bucket_owner => {
                g.push(grant(Grantee::Key(bucket_owner.into()), Perm::FullControl))
            }
            "bucket-owner-read" | "bucket-owner-full-control" => {}
            "log-delivery-write" | "aws-exec-read" => {
                return Err(s3_error!(
                    NotImplemented,
                    "The canned ACL {name} is not supported: Cairn has no log delivery or EC2 service accounts."
                ))
            }
            _ => {
                return Err(s3_error!(
                    InvalidArgument,
                    "The canned ACL {name} is not valid."
                ))
            }
        }
        Ok(acl)
    }

    /// Whether a grant goes to AllUsers or AuthenticatedUsers.
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| g.grantee.is_public())
    }

    /// Whether the ACL gives `who` (`None`: anonymous) `need`. Public grants
    /// count only when `public` (IgnorePublicAcls off).
    pub fn allows(&self, who: Option<&str>, need: Perm, public: bool) -> bool {
        self.grants.iter().any(|g| {
            (g.perm == need || g.perm == Perm::FullControl)
                && match &g.grantee {
                    Grantee::Key(id) => who == Some(id.as_str()),
                    Grantee::AllUsers => public,
                    Grantee::AuthenticatedUsers => public && who.is_some(),
                }
        })
    }

    /// Whether it grants nothing but `owner`'s full control (what a bucket whose
    /// ACLs are disabled may be set to).
    pub fn owner_only(&self, owner: &str) -> bool {
        self.grants
            .iter()
            .all(|g| g.perm == Perm::FullControl && g.grantee == Grantee::Key(owner.into()))
    }
}

impl Grantee {
    pub fn is_public(&self) -> bool {
        matches!(self, Grantee::AllUsers | Grantee::AuthenticatedUsers)
    }

    /// A group grantee by URI.
    pub fn group(uri: &str) -> S3Result<Grantee> {
        match uri {
            ALL_USERS => Ok(Grantee::AllUsers),
            AUTHENTICATED_USERS => Ok(Grantee::AuthenticatedUsers),
            "http://acs.amazonaws.com/groups/s3/LogDelivery" => Err(s3_error!(
                NotImplemented,
                "Grants to the LogDelivery group are not supported: Cairn has no log delivery."
            )),
            _ => Err(s3_error!(InvalidArgument, "Invalid group uri: {uri}")),
        }
    }
}

/// An email grantee: Cairn keys have no email address.
pub fn email_refused(email: &str) -> s3s::S3Error {
    crate::s3::error::custom(
        "UnresolvableGrantByEmailAddress",
        http::StatusCode::BAD_REQUEST,
        format!("The e-mail address {email} you provided does not match any account on record: Cairn grants to keys by id."),
    )
}

/// What a request's ACL headers ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requested {
    /// `x-amz-acl`.
    Canned(String),
    /// `x-amz-grant-*`: exactly these grants (key ids not yet checked to exist).
    Grants(Vec<Grant>),
}

impl Requested {
    /// The request's `x-amz-acl` or `x-amz-grant-*` headers (not both), checked
    /// for form; `None` without any.
    pub fn from_headers(headers: &http::HeaderMap) -> S3Result<Option<Requested>> {
        let canned = headers
            .get("x-amz-acl")
            .map(|v| v.to_str().unwrap_or("").trim().to_string());
        let mut grants = Vec::new();
        for perm in Perm::ALL {
            for value in headers.get_all(perm.header()) {
                grants.extend(parse_grantees(perm, value.to_str().unwrap_or(""))?);
            }
        }
        match canned {
            Some(_) if !grants.is_empty() => Err(s3_error!(
                InvalidRequest,
                "Specifying both Canned ACLs and Header Grants is not allowed"
            )),
            Some(name) => {
                // The form of the name, whoever the owners are.
                Acl::canned(&name, "", "")?;
                Ok(Some(Requested::Canned(name)))
            }
            None if grants.is_empty() => Ok(None),
            None => Ok(Some(Requested::Grants(grants))),
        }
    }

    /// Whether it would make something public.
    pub fn is_public(&self) -> bool {
        match self {
            Requested::Canned(name) => super::public_block::public_canned(name),
            Requested::Grants(g) => g.iter().any(|g| g.grantee.is_public()),
        }
    }

    /// The ACL it sets on a resource owned by `owner` in a bucket owned by
    /// `bucket_owner`.
    pub fn resolve(&self, owner: &str, bucket_owner: &str) -> S3Result<Acl> {
        match self {
            Requested::Canned(name) => Acl::canned(name, owner, bucket_owner),
            Requested::Grants(grants) => Ok(Acl {
                owner: None,
                grants: grants.clone(),
            }),
        }
    }
}

/// `id="KEY", uri="http://...", emailAddress="..."`: the grantees of one header.
fn parse_grantees(perm: Perm, value: &str) -> S3Result<Vec<Grant>> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (kind, who) = item.split_once('=').ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Invalid grantee {item} in {}: expected id=\"...\" or uri=\"...\"",
                perm.header()
            )
        })?;
        let who = who.trim().trim_matches('"');
        let grantee = match kind.trim().to_ascii_lowercase().as_str() {
            "id" if !who.is_empty() => Grantee::Key(who.to_string()),
            "uri" => Grantee::group(who)?,
            "emailaddress" => return Err(email_refused(who)),
            _ => {
                return Err(s3_error!(
                    InvalidArgument,
                    "Invalid grantee {item} in {}: expected id=\"...\" or uri=\"...\"",
                    perm.header()
                ))
            }
        };
        out.push(grant(grantee, perm));
    }
    Ok(out)
}

/// A bucket's object ownership setting. A bucket without one (made before Cairn
/// kept it) is `ObjectWriter`, as AWS buckets made before April 2023; new
/// buckets get `BucketOwnerEnforced` unless they ask otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ownership {
    /// ACLs are disabled: the bucket owner owns every object.
    BucketOwnerEnforced,
    /// Objects written with `bucket-owner-full-control` belong to the bucket owner.
    BucketOwnerPreferred,
    /// Objects belong to the key that wrote them.
    #[default]
    ObjectWriter,
}

impl Ownership {
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::BucketOwnerEnforced => "BucketOwnerEnforced",
            Ownership::BucketOwnerPreferred => "BucketOwnerPreferred",
            Ownership::ObjectWriter => "ObjectWriter",
        }
    }

    pub fn parse(s: &str) -> S3Result<Ownership> {
        [
            Ownership::BucketOwnerEnforced,
            Ownership::BucketOwnerPreferred,
            Ownership::ObjectWriter,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| s3_error!(MalformedXML, "Unknown ObjectOwnership {s}"))
    }

    /// The stored document (`OWNERSHIP_DOC_KIND`).
    pub fn encode(self) -> Vec<u8> {
        self.as_str().as_bytes().to_vec()
    }

    pub fn decode(doc: &[u8]) -> Option<Ownership> {
        Ownership::parse(std::str::from_utf8(doc).ok()?).ok()
    }

    pub fn acls_enabled(self) -> bool {
        self != Ownership::BucketOwnerEnforced
    }

    /// The owner of an object `writer` stores with ACL `requested` in a bucket
    /// owned by `bucket_owner`.
    pub fn object_owner<'a>(
        self,
        writer: Option<&'a str>,
        requested: Option<&Requested>,
        bucket_owner: &'a str,
    ) -> &'a str {
        let to_bucket_owner =
            matches!(requested, Some(Requested::Canned(n)) if n == "bucket-owner-full-control");
        match (self, writer) {
            (Ownership::BucketOwnerEnforced, _) | (_, None) => bucket_owner,
            (Ownership::BucketOwnerPreferred, _) if to_bucket_owner => bucket_owner,
            (_, Some(writer)) => writer,
        }
    }
}

/// The refusal of an ACL on a bucket whose ACLs are disabled.
pub fn acls_disabled() -> s3s::S3Error {
    crate::s3::error::custom(
        "AccessControlListNotSupported",
        http::StatusCode::BAD_REQUEST,
        "The bucket does not allow ACLs",
    )
}

/// Whether `requested` may be set on a bucket whose ACLs are disabled: only the
/// bucket owner's full control (`bucket-owner-full-control`, or `private`, or
/// grants saying the same).
pub fn allowed_when_disabled(requested: &Requested, bucket_owner: &str) -> bool {
    match requested {
        Requested::Canned(n) => matches!(n.as_str(), "private" | "bucket-owner-full-control"),
        Requested::Grants(g) => g
            .iter()
            .all(|g| g.perm == Perm::FullControl && g.grantee == Grantee::Key(bucket_owner.into())),
    }
}

/// An object's ACL with its owner: as stored, or the default (private, the
/// bucket owner's; readable by anyone in a bucket made public before ACLs were
/// kept, as such buckets were). With ACLs disabled the bucket owner owns every
/// object and its ACL is the owner's full control.
pub fn object_acl(meta: &cairn_node::records::ObjectMeta, bucket: &BucketAuth) -> Acl {
    let enabled = bucket.ownership.acls_enabled();
    let stored = meta.acl().and_then(|d| Acl::decode(d.as_bytes()));
    if let Some(mut acl) = stored.filter(|_| enabled) {
        acl.owner.get_or_insert_with(|| bucket.owner.clone());
        return acl;
    }
    let mut acl = Acl::private(&bucket.owner);
    acl.owner = Some(bucket.owner.clone());
    if enabled && bucket.public_read_acl {
        acl.grants.push(grant(Grantee::AllUsers, Perm::Read));
    }
    acl
}

/// Whether the ACL a permission is looked up in is the bucket's or the object's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    Bucket,
    Object,
}

/// What operation `op` needs of an ACL (AWS's mapping of ACL permissions to
/// operations); `None`: no ACL grants it.
pub fn need_of(op: &str) -> Option<(On, Perm)> {
    Some(match op {
        "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "ListMultipartUploads"
        | "HeadBucket" => (On::Bucket, Perm::Read),
        "PutObject"
        | "CopyObject"
        | "DeleteObject"
        | "DeleteObjects"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "ListParts" => (On::Bucket, Perm::Write),
        "GetBucketAcl" => (On::Bucket, Perm::ReadAcp),
        "PutBucketAcl" => (On::Bucket, Perm::WriteAcp),
        "GetObject" | "HeadObject" => (On::Object, Perm::Read),
        "GetObjectAcl" => (On::Object, Perm::ReadAcp),
        "PutObjectAcl" => (On::Object, Perm::WriteAcp),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn canned_acls_and_their_grants() {
        let acl = Acl::canned("public-read-write", "o", "o").unwrap();
        assert_eq!(acl.grants.len(), 3);
        assert!(acl.allows(None, Perm::Write, true));
        assert!(!acl.allows(None, Perm::Write, false));
        assert!(acl.allows(Some("o"), Perm::WriteAcp, false));
        let auth = Acl::canned("authenticated-read", "o", "o").unwrap();
        assert!(!auth.allows(None, Perm::Read, true));
        assert!(auth.allows(Some("k"), Perm::Read, true));
        let bor = Acl::canned("bucket-owner-read", "w", "o").unwrap();
        assert!(bor.allows(Some("o"), Perm::Read, true));
        assert!(!bor.allows(Some("o"), Perm::ReadAcp, true));
        assert_eq!(
            Acl::canned("bucket-owner-full-control", "o", "o").unwrap(),
            Acl::private("o")
        );
        assert!(Acl::canned("log-delivery-write", "o", "o").is_err());
        assert!(Acl::canned("nope", "o", "o").is_err());
    }

    #[test]
    fn grant_headers() {
        let r = Requested::from_headers(&headers(&[
            (
                "x-amz-grant-read",
                "id=\"AK1\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            ),
            ("x-amz-grant-write-acp", "id=AK2"),
        ]))
        .unwrap()
        .unwrap();
        let Requested::Grants(g) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(g.len(), 3);
        assert_eq!(g[1].grantee, Grantee::AllUsers);
        assert_eq!(g[2], grant(Grantee::Key("AK2".into()), Perm::WriteAcp));
        assert!(r.is_public());
        let code = |pairs: &[(&'static str, &'static str)]| {
            Requested::from_headers(&headers(pairs))
                .err()
                .map(|e| e.code().as_str().to_string())
        };
        assert_eq!(
            code(&[("x-amz-grant-read", "emailAddress=\"a@b.c\"")]).as_deref(),
            Some("UnresolvableGrantByEmailAddress")
        );
        assert_eq!(
            code(&[("x-amz-grant-read", "uri=\"http://x\"")]).as_deref(),
            Some("InvalidArgument")
        );
        assert_eq!(
            code(&[("x-amz-acl", "private"), ("x-amz-grant-read", "id=\"a\"")]).as_deref(),
            Some("InvalidRequest")
        );
        assert_eq!(Requested::from_headers(&headers(&[])).unwrap(), None);
    }

    #[test]
    fn buckets_made_public_before_acls_keep_their_objects_open() {
        let mut auth = BucketAuth {
            exists: true,
            public_read_acl: true,
            owner: "o".into(),
            acl: crate::policy::cache::bucket_acl(None, true, "o"),
            ..Default::default()
        };
        assert_eq!(auth.ownership, Ownership::ObjectWriter);
        assert!(auth.acl.allows(None, Perm::Read, true));
        assert!(!auth.acl.allows(None, Perm::Write, true));
        let mut meta = cairn_node::records::ObjectMeta::default();
        let acl = object_acl(&meta, &auth);
        assert_eq!(acl.owner.as_deref(), Some("o"));
        assert!(acl.allows(None, Perm::Read, true));
        // An ACL set since is the object's own.
        let mut own = Acl::private("w");
        own.owner = Some("w".into());
        meta.set_acl(Some(own.encode()));
        assert_eq!(object_acl(&meta, &auth), own);
        // ACLs disabled: the bucket owner's, whatever is stored.
        auth.ownership = Ownership::BucketOwnerEnforced;
        let acl = object_acl(&meta, &auth);
        assert_eq!(acl.owner.as_deref(), Some("o"));
        assert!(acl.owner_only("o"));
    }

    #[test]
    fn owners_of_written_objects() {
        let bofc = Requested::Canned("bucket-owner-full-control".into());
        assert_eq!(
            Ownership::ObjectWriter.object_owner(Some("w"), Some(&bofc), "o"),
            "w"
        );
        assert_eq!(
            Ownership::BucketOwnerPreferred.object_owner(Some("w"), Some(&bofc), "o"),
            "o"
        );
        assert_eq!(
            Ownership::BucketOwnerPreferred.object_owner(Some("w"), None, "o"),
            "w"
        );
        assert_eq!(
            Ownership::BucketOwnerEnforced.object_owner(Some("w"), None, "o"),
            "o"
        );
        assert_eq!(
            Ownership::decode(b"BucketOwnerPreferred"),
            Some(Ownership::BucketOwnerPreferred)
        );
    }
}
