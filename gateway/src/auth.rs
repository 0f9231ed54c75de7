//! Who may do what. Secrets come from the access cache (s3s checks the
//! signatures); a key that is disabled, deleted or expired is refused within a
//! second. A signed request then needs the permission its operation asks for
//! (`permissions::required`) on its bucket (and on a copy's source bucket): admin
//! keys have every permission everywhere, other keys what they own or were
//! granted. Anonymous requests may only GET/HEAD objects that a public-read bucket
//! ACL or the bucket policy opens. Every request then passes the refusals of
//! `s3::refuse`. The requester goes to the handlers in the request's extensions.

use crate::access_cache::{AccessCache, Snapshot, ALL};
use crate::permissions::{required, Need};
use cairn_node::access::Permission;
use cairn_node::NodeClient;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{s3_error, S3Result};
use std::sync::Arc;

/// Secrets by access key, from the access cache.
pub struct KeyAuth {
    cache: Arc<AccessCache>,
}

impl KeyAuth {
    pub fn new(cache: Arc<AccessCache>) -> Self {
        KeyAuth { cache }
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let (_, key) = self
            .cache
            .key(access_key)
            .await
            .map_err(crate::s3::error::from_node)?;
        match key {
            Some(key) => Ok(SecretKey::from(key.secret.clone())),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

/// The signed requester of a request, for its handler.
#[derive(Clone)]
pub struct Requester {
    pub access_key: String,
    pub admin: bool,
    pub snapshot: Arc<Snapshot>,
    /// Buckets checked from the catalog because the snapshot lacked them.
    pub checked: Vec<(String, Permission)>,
}

impl Requester {
    /// What this key may do on `bucket` (nothing on a bucket without an access row
    /// unless admin).
    pub fn permission(&self, bucket: &str) -> Permission {
        if self.admin {
            return ALL;
        }
        if let Some((_, p)) = self.checked.iter().find(|(b, _)| b == bucket) {
            return *p;
        }
        self.snapshot
            .permission(&self.access_key, bucket)
            .unwrap_or_default()
    }

    /// Whether it may bypass GOVERNANCE retention on `bucket`: as its owner or with
    /// an owner grant.
    pub fn may_bypass_governance(&self, bucket: &str) -> bool {
        self.permission(bucket).owner
    }
}

/// The requester a handler was called for (`None`: anonymous).
pub fn requester(ext: &http::Extensions) -> Option<&Requester> {
    ext.get::<Requester>()
}

/// Whether the request's `x-amz-bypass-governance-retention` may be honoured.
pub fn bypass_allowed(ext: &http::Extensions, bucket: &str, asked: bool) -> bool {
    asked && requester(ext).is_some_and(|r| r.may_bypass_governance(bucket))
}

pub struct Authorizer {
    node: NodeClient,
    cache: Arc<AccessCache>,
    /// Parsed bucket policies, so an anonymous GET does not parse JSON.
    policies: crate::policy::PolicyCache,
}

impl Authorizer {
    pub fn new(node: NodeClient, cache: Arc<AccessCache>) -> Self {
        Authorizer {
            node,
            cache,
            policies: crate::policy::PolicyCache::default(),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Authorizer {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name().to_string();
        crate::op_metrics::OpSlot::name(cx.extensions_mut(), &op);
        let op = op.as_str();
        match cx.credentials().map(|c| c.access_key.clone()) {
            None => {
                if !self.anonymous_may(cx).await {
                    return Err(s3_error!(AccessDenied, "Access Denied"));
                }
            }
            Some(access_key) => {
                let requester = self.authorize(cx, op, access_key).await?;
                cx.extensions_mut().insert(requester);
            }
        }
        // Whoever asks, what Cairn cannot keep is refused before any body is read.
        crate::s3::refuse::check_request(op, cx.uri(), cx.headers())
    }
}

impl Authorizer {
    /// The permission check of a signed request.
    async fn authorize(
        &self,
        cx: &S3AccessContext<'_>,
        op: &str,
        access_key: String,
    ) -> S3Result<Requester> {
        let bucket = match cx.s3_path() {
            S3Path::Root => None,
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => Some(bucket.as_ref()),
        };
        let mut requester = self.authorize_key(access_key, bucket, required(op)).await?;
        if requester.admin {
            return Ok(requester);
        }
        if let Some(source) = crate::permissions::copy_source_bucket(op, cx.headers()) {
            requester = self.check_bucket(requester, &source, Need::Read).await?;
        }
        Ok(requester)
    }

    /// The requester signing with `access_key`, if the key may sign now and has
    /// `need` on `bucket` (a POST object upload checks its signature itself and
    /// comes here for the rest).
    pub async fn authorize_key(
        &self,
        access_key: String,
        bucket: Option<&str>,
        need: Need,
    ) -> S3Result<Requester> {
        let (snap, key) = self
            .cache
            .key(&access_key)
            .await
            .map_err(crate::s3::error::from_node)?;
        let Some(key) = key else {
            return Err(s3_error!(InvalidAccessKeyId));
        };
        let requester = Requester {
            admin: key.record.admin,
            access_key,
            snapshot: snap,
            checked: Vec::new(),
        };
        if requester.admin {
            return Ok(requester);
        }
        match (bucket, need == Need::Any) {
            (Some(bucket), false) => self.check_bucket(requester, bucket, need).await,
            _ => Ok(requester),
        }
    }

    /// The secret of `access_key` if the key may sign now.
    pub async fn secret_of(&self, access_key: &str) -> S3Result<String> {
        let (_, key) = self
            .cache
            .key(access_key)
            .await
            .map_err(crate::s3::error::from_node)?;
        key.map(|k| k.secret.clone())
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))
    }

    /// Refuses unless `requester` has `need` on `bucket`; a bucket that does not
    /// exist passes (its handler answers NoSuchBucket).
    async fn check_bucket(
        &self,
        mut requester: Requester,
        bucket: &str,
        need: Need,
    ) -> S3Result<Requester> {
        if requester.snapshot.buckets.contains_key(bucket) {
            if need.met_by(requester.permission(bucket)) {
                return Ok(requester);
            }
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        // Not in the snapshot: made a moment ago, made before owners (the admin
        // keys' alone), or missing.
        let access = self
            .cache
            .bucket_access(bucket)
            .await
            .map_err(crate::s3::error::from_node)?;
        if let Some(access) = access {
            let p = access.permission_of(&requester.access_key);
            if need.met_by(p) {
                requester.checked.push((bucket.to_string(), p));
                return Ok(requester);
            }
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        match self.node.get_bucket(bucket.to_string()).await {
            Ok(_) => Err(s3_error!(AccessDenied, "Access Denied")),
            Err(cairn_node::Error::NoSuchBucket) => Ok(requester),
            Err(e) => Err(crate::s3::error::from_node(e)),
        }
    }

    /// Whether an anonymous request is a GET/HEAD of an object that a public-read
    /// bucket ACL or the bucket policy opens.
    async fn anonymous_may(&self, cx: &S3AccessContext<'_>) -> bool {
        let op = cx.s3_op().name();
        let (S3Path::Object { bucket, key }, "GetObject" | "HeadObject") = (cx.s3_path(), op)
        else {
            return false;
        };
        let Ok(rec) = self.node.get_bucket(bucket.to_string()).await else {
            return false;
        };
        rec.public_read_acl
            || rec.policy.as_deref().is_some_and(|text| {
                self.policies
                    .get(bucket, text)
                    .is_some_and(|p| p.allows_anonymous_get(bucket, key))
            })
    }
}
