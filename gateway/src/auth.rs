//! Who may do what: SigV4/SigV2 secrets come from the catalog's access keys (s3s
//! checks the signatures); signed requests may do everything; anonymous requests may
//! only GET/HEAD objects that a public-read bucket ACL or the bucket policy opens;
//! then every request passes the refusals of `s3::refuse`.

use cairn_node::NodeClient;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{s3_error, S3Result};
use std::collections::HashMap;
use std::sync::RwLock;

/// Secrets by access key, looked up in the catalog once and then kept in memory
/// (keys are only ever added), so signed requests skip a catalog read.
pub struct KeyAuth {
    node: NodeClient,
    known: RwLock<HashMap<String, String>>,
}

impl KeyAuth {
    pub fn new(node: NodeClient) -> Self {
        KeyAuth {
            node,
            known: RwLock::new(HashMap::new()),
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if let Some(secret) = self
            .known
            .read()
            .ok()
            .and_then(|k| k.get(access_key).cloned())
        {
            return Ok(SecretKey::from(secret));
        }
        match self.node.get_secret(access_key.to_string()).await {
            Ok(Some(secret)) => {
                if let Ok(mut known) = self.known.write() {
                    known.insert(access_key.to_string(), secret.clone());
                }
                Ok(SecretKey::from(secret))
            }
            Ok(None) => Err(s3_error!(InvalidAccessKeyId)),
            Err(e) => Err(crate::s3::error::from_node(e)),
        }
    }
}

pub struct PublicReadAccess {
    node: NodeClient,
    /// Parsed bucket policies, so an anonymous GET does not parse JSON.
    policies: crate::policy::PolicyCache,
}

impl PublicReadAccess {
    pub fn new(node: NodeClient) -> Self {
        PublicReadAccess {
            node,
            policies: crate::policy::PolicyCache::default(),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for PublicReadAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name();
        if cx.credentials().is_none() && !self.anonymous_may(cx).await {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        // Whoever asks, what Cairn cannot keep is refused before any body is read.
        crate::s3::refuse::check_request(op, cx.uri(), cx.headers())
    }
}

impl PublicReadAccess {
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
