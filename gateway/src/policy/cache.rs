//! What authorisation needs of a bucket — its parsed policy, its owner, ACL and
//! object ownership (`acl`) and public access block (`public_block`) — as this gateway last read it from the catalog, used
//! for at most a second (a change through another gateway takes effect within
//! one) and dropped at once when a change goes through this gateway. A request
//! looks up its bucket under a read lock and clones one `Arc`; the policy text is
//! parsed once per change, never per request.

use super::acl::{Acl, Grant, Grantee, Ownership, Perm, DOC_KIND as ACL_DOC, OWNERSHIP_DOC_KIND};
use super::document::{parse, Policy};
use super::public_block::{PublicAccessBlock, DOC_KIND as BLOCK_DOC};
use cairn_node::NodeClient;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a bucket's settings are used before they are read again.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Buckets remembered at most (the oldest half is dropped past it).
const MAX_BUCKETS: usize = 4096;

/// The access settings of one bucket.
#[derive(Debug, Default)]
pub struct BucketAuth {
    /// The bucket exists.
    pub exists: bool,
    /// Its policy, if it has one that parses (a stored policy that no longer
    /// parses grants nothing and denies nothing).
    pub policy: Option<Arc<Policy>>,
    /// The public-read flag of a bucket made public before ACLs were kept (it
    /// opens its objects too, as it did then); cleared by the next PutBucketAcl.
    pub public_read_acl: bool,
    pub block: PublicAccessBlock,
    /// The owner's key id (`OWNER_ID` for a bucket made before owners).
    pub owner: String,
    pub ownership: Ownership,
    /// The bucket's ACL as set (the owner's full control without one).
    pub acl: Acl,
}

/// The canonical id of the owner of buckets made before keys had owners (they
/// belong to the admin keys).
pub const OWNER_ID: &str = "cairn";

/// A bucket's ACL from its stored document, its legacy public-read flag and its
/// owner.
pub fn bucket_acl(doc: Option<&[u8]>, public_read: bool, owner: &str) -> Acl {
    if let Some(acl) = doc.and_then(Acl::decode) {
        return acl;
    }
    let mut acl = Acl::private(owner);
    if public_read {
        acl.grants.push(Grant {
            grantee: Grantee::AllUsers,
            perm: Perm::Read,
        });
    }
    acl
}

type Entry = (Instant, Arc<BucketAuth>);

pub struct BucketAuthCache {
    node: NodeClient,
    buckets: RwLock<HashMap<String, Entry>>,
}

impl BucketAuthCache {
    pub fn new(node: NodeClient) -> Self {
        BucketAuthCache {
            node,
            buckets: RwLock::new(HashMap::new()),
        }
    }

    /// The bucket's settings, read from the catalog when not fresh.
    pub async fn get(&self, bucket: &str) -> cairn_node::Result<Arc<BucketAuth>> {
        {
            let map = self.buckets.read().unwrap_or_else(|p| p.into_inner());
            if let Some((at, auth)) = map.get(bucket) {
                if at.elapsed() < FRESH_FOR {
                    return Ok(auth.clone());
                }
            }
        }
        let auth = Arc::new(self.load(bucket).await?);
        let mut map = self.buckets.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_BUCKETS {
            let mut ages: Vec<Instant> = map.values().map(|(at, _)| *at).collect();
            ages.sort();
            let cutoff = ages[ages.len() / 2];
            map.retain(|_, (at, _)| *at > cutoff);
        }
        map.insert(bucket.to_string(), (Instant::now(), auth.clone()));
        Ok(auth)
    }

    async fn load(&self, bucket: &str) -> cairn_node::Result<BucketAuth> {
        let rec = match self.node.get_bucket(bucket.to_string()).await {
            Ok(rec) => rec,
            Err(cairn_node::Error::NoSuchBucket) => return Ok(BucketAuth::default()),
            Err(e) => return Err(e),
        };
        let policy = rec.policy.as_deref().and_then(|text| match parse(text) {
            Ok(p) => Some(Arc::new(p)),
            Err(error) => {
                tracing::warn!(
                    bucket,
                    ?error,
                    "stored bucket policy does not parse; not evaluated"
                );
                None
            }
        });
        let doc = |kind: &'static str| self.node.bucket_doc(bucket.to_string(), kind);
        let (block, acl, ownership, access) = match tokio::try_join!(
            doc(BLOCK_DOC),
            doc(ACL_DOC),
            doc(OWNERSHIP_DOC_KIND),
            self.node.bucket_access(bucket.to_string())
        ) {
            Ok(found) => found,
            Err(cairn_node::Error::NoSuchBucket) => return Ok(BucketAuth::default()),
            Err(e) => return Err(e),
        };
        let owner = access.map_or_else(|| OWNER_ID.to_string(), |a| a.owner);
        Ok(BucketAuth {
            exists: true,
            policy,
            public_read_acl: rec.public_read_acl,
            block: block
                .as_deref()
                .and_then(PublicAccessBlock::decode)
                .unwrap_or_default(),
            acl: bucket_acl(acl.as_deref(), rec.public_read_acl, &owner),
            ownership: ownership
                .as_deref()
                .and_then(Ownership::decode)
                .unwrap_or_default(),
            owner,
        })
    }

    /// Forgets the bucket's settings (they were just changed through this gateway).
    pub fn forget(&self, bucket: &str) {
        self.buckets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(bucket);
    }
}
