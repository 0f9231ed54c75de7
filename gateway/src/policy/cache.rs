//! What authorisation needs of a bucket — its parsed policy, its bucket ACL flag
//! and public access block (`public_block`) — as this gateway last read it from the catalog, used
//! for at most a second (a change through another gateway takes effect within
//! one) and dropped at once when a change goes through this gateway. A request
//! looks up its bucket under a read lock and clones one `Arc`; the policy text is
//! parsed once per change, never per request.

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
    /// Canned `public-read` bucket ACL.
    pub public_read_acl: bool,
    pub block: PublicAccessBlock,
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
        let block = match self.node.bucket_doc(bucket.to_string(), BLOCK_DOC).await {
            Ok(doc) => doc
                .as_deref()
                .and_then(PublicAccessBlock::decode)
                .unwrap_or_default(),
            Err(cairn_node::Error::NoSuchBucket) => return Ok(BucketAuth::default()),
            Err(e) => return Err(e),
        };
        Ok(BucketAuth {
            exists: true,
            policy,
            public_read_acl: rec.public_read_acl,
            block,
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
