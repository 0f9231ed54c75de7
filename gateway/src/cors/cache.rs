//! The CORS rules of buckets as this gateway last read them from the catalog, kept
//! for at most a second (so a change made through another gateway takes effect
//! within one) and dropped at once when a change goes through this one. Only
//! requests that carry an `Origin` header look here.

use super::rules::{CorsConfig, DOC_KIND};
use cairn_node::NodeClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a bucket's rules are used before they are read again.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Buckets remembered at most (the oldest half is dropped past it).
const MAX_BUCKETS: usize = 4096;

type Entry = (Instant, Option<Arc<CorsConfig>>);

pub struct CorsCache {
    node: NodeClient,
    buckets: Mutex<HashMap<String, Entry>>,
}

impl CorsCache {
    pub fn new(node: NodeClient) -> Self {
        CorsCache {
            node,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The bucket's rules; `None` when it has none or does not exist (or the
    /// catalog cannot be read: a cross-origin request is then not allowed).
    pub async fn rules(&self, bucket: &str) -> Option<Arc<CorsConfig>> {
        if let Some((at, rules)) = self.lock().get(bucket) {
            if at.elapsed() < FRESH_FOR {
                return rules.clone();
            }
        }
        let rules = match self.node.bucket_doc(bucket.to_string(), DOC_KIND).await {
            Ok(doc) => doc.and_then(|d| CorsConfig::decode(&d)).map(Arc::new),
            Err(error) => {
                tracing::debug!(bucket, %error, "CORS rules not readable");
                return None;
            }
        };
        let mut map = self.lock();
        if map.len() >= MAX_BUCKETS {
            let mut ages: Vec<Instant> = map.values().map(|(at, _)| *at).collect();
            ages.sort();
            let cutoff = ages[ages.len() / 2];
            map.retain(|_, (at, _)| *at > cutoff);
        }
        map.insert(bucket.to_string(), (Instant::now(), rules.clone()));
        rules
    }

    /// Forgets the bucket's rules (they were just changed through this gateway).
    pub fn forget(&self, bucket: &str) {
        self.lock().remove(bucket);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }
}
