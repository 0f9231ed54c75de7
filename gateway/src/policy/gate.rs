//! The authorizer's policy step: combines a bucket's policy (and its public-read
//! ACL for anonymous requests) with what the requester's grants allow, the way
//! AWS evaluates a bucket policy next to ACLs:
//!
//! - an explicit Deny that applies refuses the request, whatever grants, ACLs or
//!   the key's admin flag say — except that admin keys may always read, put and
//!   delete the bucket policy (as AWS's account root may), so a policy can never
//!   lock the store's operators out for good;
//! - otherwise the grants, the bucket's or the object's ACL (unless the bucket's
//!   object ownership disables ACLs; `acl::need_of` says which permission an
//!   operation needs of which) or an Allow that applies let the request through;
//! - otherwise it is refused.
//!
//! The bucket's public access block applies first: `BlockPublicAcls` refuses
//! public ACL headers, `IgnorePublicAcls` makes public ACL grants grant nothing, and
//! `RestrictPublicBuckets` keeps a public policy from opening anything to
//! anonymous clients.
//!
//! A bucket without a policy costs one cache lookup; with one, statements whose
//! action sets lack the request's action cost one bit test each.

use super::acl::{need_of, object_acl, On, Perm};
use super::actions::Action;
use super::cache::{BucketAuth, BucketAuthCache};
use super::context::{ConnInfo, Context, Who};
use super::evaluate::Request;
use cairn_node::NodeClient;
use s3s::{s3_error, S3Result};
use std::sync::Arc;

/// What the gate is asked about.
pub struct Asked<'a> {
    pub op: &'a str,
    pub bucket: &'a str,
    pub key: Option<&'a str>,
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
    pub conn: Option<ConnInfo>,
    /// The source bucket of a copy (its expected owner is
    /// `x-amz-source-expected-bucket-owner`).
    pub copy_source: bool,
}

/// The signer of a request, for the gate.
pub struct Signer<'a> {
    pub who: Who<'a>,
    pub admin: bool,
    /// Grants alone allow the request.
    pub granted: bool,
}

#[derive(Clone)]
pub struct Gate {
    pub cache: Arc<BucketAuthCache>,
    node: NodeClient,
}

fn denied() -> s3s::S3Error {
    s3_error!(AccessDenied, "Access Denied")
}

impl Gate {
    pub fn new(node: NodeClient, cache: Arc<BucketAuthCache>) -> Self {
        Gate { cache, node }
    }

    /// Decides a request; `signer` is `None` for an anonymous one.
    pub async fn check(&self, asked: &Asked<'_>, signer: Option<Signer<'_>>) -> S3Result<()> {
        let auth = self
            .cache
            .get(asked.bucket)
            .await
            .map_err(crate::s3::error::from_node)?;
        let block = auth.block;
        if auth.exists {
            expected_owner(asked, &auth.owner)?;
        }
        if block.block_public_acls
            && acl_setting(asked.op)
            && super::public_block::public_acl_headers(asked.headers)
        {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied: the bucket's public access block refuses public ACLs"
            ));
        }
        let who = signer.as_ref().map(|s| s.who.access_key);
        let mut granted = signer.as_ref().is_some_and(|s| s.granted);
        if !granted && auth.exists && auth.ownership.acls_enabled() {
            granted = self.acl_grants(asked, &auth, who).await;
        }
        let Some(policy) = auth.policy.as_deref() else {
            return if granted { Ok(()) } else { Err(denied()) };
        };
        let versioned = asked.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|p| p.starts_with("versionId=") && p.len() > 10)
        });
        let Some(action) = Action::of_op(asked.op, versioned) else {
            return if granted { Ok(()) } else { Err(denied()) };
        };
        let mut req = Request {
            action,
            bucket: asked.bucket,
            key: asked.key,
            cx: Context {
                op: asked.op,
                uri: asked.uri,
                headers: asked.headers,
                conn: asked.conn,
                who: signer.as_ref().map(|s| s.who),
                object_tags: None,
            },
        };
        let tags = match asked.key {
            Some(key) if policy.needs_object_tags(&req) => self.object_tags(asked, key).await,
            _ => None,
        };
        req.cx.object_tags = tags.as_deref();
        if policy.denies(&req) {
            let admin_rescue = signer.as_ref().is_some_and(|s| s.admin)
                && matches!(
                    asked.op,
                    "GetBucketPolicy" | "PutBucketPolicy" | "DeleteBucketPolicy"
                );
            if !admin_rescue {
                tracing::debug!(
                    op = asked.op,
                    bucket = asked.bucket,
                    "refused by an explicit Deny in the bucket policy"
                );
                return Err(denied());
            }
        }
        // RestrictPublicBuckets: a public policy opens nothing to anonymous clients.
        let restricted = signer.is_none() && block.restrict_public_buckets && policy.is_public();
        if granted || (!restricted && policy.allows(&req)) {
            Ok(())
        } else {
            Err(denied())
        }
    }

    /// The tags of the object (or version) a request names, `None` when it has
    /// none or does not exist.
    async fn object_tags(&self, asked: &Asked<'_>, key: &str) -> Option<Vec<(String, String)>> {
        self.object(asked, key).await.map(|r| r.meta.tags)
    }

    /// The object (or version) a request names, `None` when it does not exist.
    async fn object(
        &self,
        asked: &Asked<'_>,
        key: &str,
    ) -> Option<cairn_node::records::ObjectRecord> {
        let version = asked.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|p| p.strip_prefix("versionId="))
                .map(|v| urlencoding::decode(v).map_or_else(|_| v.to_string(), |d| d.into_owned()))
        });
        let view = self
            .node
            .get_version(asked.bucket.to_string(), key.to_string(), version)
            .await
            .ok()?;
        view.row.record
    }

    /// Whether the bucket's ACL, or the object's, gives `who` (`None`: anonymous)
    /// what the request needs. An object's owner may always read and change its
    /// ACL; a missing object passes where the bucket's ACL allows listing (its
    /// handler answers NoSuchKey), as on AWS.
    async fn acl_grants(&self, asked: &Asked<'_>, auth: &BucketAuth, who: Option<&str>) -> bool {
        let Some((on, need)) = need_of(asked.op) else {
            return false;
        };
        let public = !auth.block.ignore_public_acls;
        let (On::Object, Some(key)) = (on, asked.key) else {
            return on == On::Bucket && auth.acl.allows(who, need, public);
        };
        let Some(record) = self.object(asked, key).await else {
            return auth.acl.allows(who, Perm::Read, public);
        };
        let acl = object_acl(&record.meta, auth);
        let owns = who.is_some() && acl.owner.as_deref() == who;
        (owns && need != Perm::Read) || acl.allows(who, need, public)
    }
}

/// `x-amz-expected-bucket-owner` (`x-amz-source-expected-bucket-owner` for a
/// copy's source): the bucket's owner must be the one the client expects.
fn expected_owner(asked: &Asked<'_>, owner: &str) -> S3Result<()> {
    let header = if asked.copy_source {
        "x-amz-source-expected-bucket-owner"
    } else {
        "x-amz-expected-bucket-owner"
    };
    match asked
        .headers
        .get(header)
        .map(|v| v.to_str().unwrap_or("").trim())
    {
        Some(expected) if expected != owner => Err(s3_error!(
            AccessDenied,
            "Access Denied: the bucket is owned by {owner}, not by the expected owner."
        )),
        _ => Ok(()),
    }
}

/// Operations that set an ACL from their headers.
fn acl_setting(op: &str) -> bool {
    matches!(
        op,
        "PutBucketAcl" | "PutObjectAcl" | "PutObject" | "CopyObject" | "CreateMultipartUpload"
    )
}
