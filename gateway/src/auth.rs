//! Who may do what. Secrets come from the access cache (s3s checks the
//! signatures); a key that is disabled, deleted or expired is refused within a
//! second. What a signed key's grants allow follows from the permission its
//! operation asks for (`permissions::required`) on its bucket (and on a copy's
//! source bucket): admin keys have every permission everywhere, other keys what
//! they own or were granted. The bucket policy then has its say (`policy::gate`):
//! an explicit Deny refuses, an Allow or an ACL may open what grants do not, and
//! anonymous requests pass only where the policy or an ACL opens them.
//! Every request then passes the refusals of `s3::refuse`. The requester goes to
//! the handlers in the request's extensions.

use crate::access_cache::{AccessCache, KnownKey, Snapshot, ALL};
use crate::permissions::{required, Need};
use crate::policy::context::{ConnInfo, Who};
use crate::policy::gate::{Asked, Gate, Signer};
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
    pub key: Arc<KnownKey>,
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
    gate: Gate,
}

impl Authorizer {
    pub fn new(gateway: &crate::state::Gateway, cache: Arc<AccessCache>) -> Self {
        Authorizer {
            node: gateway.node.clone(),
            cache,
            gate: Gate::new(gateway.node.clone(), gateway.bucket_auth.clone()),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Authorizer {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name().to_string();
        crate::op_metrics::OpSlot::name(cx.extensions_mut(), &op);
        let op = op.as_str();
        let conn = cx.extensions_mut().get::<ConnInfo>().copied();
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.as_ref()), None),
            S3Path::Object { bucket, key } => (Some(bucket.as_ref()), Some(key.as_ref())),
        };
        let asked = bucket.map(|bucket| Asked {
            op,
            bucket,
            key,
            uri: cx.uri(),
            headers: cx.headers(),
            conn,
            copy_source: false,
        });
        let requester = match cx.credentials().map(|c| c.access_key.clone()) {
            None => match &asked {
                Some(asked) => {
                    self.gate.check(asked, None).await?;
                    None
                }
                None => return Err(s3_error!(AccessDenied, "Access Denied")),
            },
            Some(access_key) => Some(self.authorize(asked.as_ref(), access_key).await?),
        };
        crate::s3::refuse::check_request(op, cx.uri(), cx.headers())?;
        if let Some(requester) = requester {
            cx.extensions_mut().insert(requester);
        }
        Ok(())
    }
}

impl Authorizer {
    /// The permission check of a signed request: grants, then the bucket policy
    /// (of the bucket, and of a copy's source bucket).
    async fn authorize(
        &self,
        asked: Option<&Asked<'_>>,
        access_key: String,
    ) -> S3Result<Requester> {
        let need = asked.map_or(Need::Any, |a| required(a.op));
        let (mut requester, granted) = self
            .key_and_grant(access_key, asked.map(|a| a.bucket), need)
            .await?;
        let Some(asked) = asked else {
            return Ok(requester);
        };
        self.gate
            .check(asked, Some(signer(&requester, granted)))
            .await?;
        if let Some((source, key)) = crate::permissions::copy_source(asked.op, asked.headers) {
            let granted;
            (requester, granted) = self.grant(requester, &source, Need::Read).await?;
            let source_asked = Asked {
                op: "GetObject",
                bucket: &source,
                key: Some(&key),
                uri: &http::Uri::from_static("/"),
                headers: asked.headers,
                conn: asked.conn,
                copy_source: true,
            };
            self.gate
                .check(&source_asked, Some(signer(&requester, granted)))
                .await?;
        }
        Ok(requester)
    }

    /// The requester of a POST object (browser form) upload of `key` to
    /// `bucket`, signed by `access_key` (the form's signature was checked by the
    /// caller): authorised as a PutObject of the key, as `authorize` does for
    /// every other request.
    pub async fn authorize_post(
        &self,
        access_key: String,
        bucket: &str,
        key: &str,
        parts: &http::request::Parts,
    ) -> S3Result<Requester> {
        let asked = Asked {
            op: "PutObject",
            bucket,
            key: Some(key),
            uri: &parts.uri,
            headers: &parts.headers,
            conn: parts.extensions.get::<ConnInfo>().copied(),
            copy_source: false,
        };
        self.authorize(Some(&asked), access_key).await
    }

    /// The requester signing with `access_key`, if the key may sign now, and
    /// whether its grants give it `need` on `bucket`.
    async fn key_and_grant(
        &self,
        access_key: String,
        bucket: Option<&str>,
        need: Need,
    ) -> S3Result<(Requester, bool)> {
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
            key,
            access_key,
            snapshot: snap,
            checked: Vec::new(),
        };
        match (bucket, need == Need::Any || requester.admin) {
            (Some(bucket), false) => self.grant(requester, bucket, need).await,
            _ => Ok((requester, true)),
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

    /// Whether `requester`'s grants give it `need` on `bucket`; a bucket that
    /// does not exist passes (its handler answers NoSuchBucket).
    async fn grant(
        &self,
        mut requester: Requester,
        bucket: &str,
        need: Need,
    ) -> S3Result<(Requester, bool)> {
        if requester.admin {
            return Ok((requester, true));
        }
        if requester.snapshot.buckets.contains_key(bucket) {
            let ok = need.met_by(requester.permission(bucket));
            return Ok((requester, ok));
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
            requester.checked.push((bucket.to_string(), p));
            return Ok((requester, need.met_by(p)));
        }
        match self.node.get_bucket(bucket.to_string()).await {
            Ok(_) => Ok((requester, false)),
            Err(cairn_node::Error::NoSuchBucket) => Ok((requester, true)),
            Err(e) => Err(crate::s3::error::from_node(e)),
        }
    }
}

/// The gate's view of a signed requester whose grants do (`granted`) or do not
/// allow its request.
pub(crate) fn signer(requester: &Requester, granted: bool) -> Signer<'_> {
    Signer {
        who: Who {
            access_key: &requester.access_key,
            name: &requester.key.record.name,
        },
        admin: requester.admin,
        granted,
    }
}
