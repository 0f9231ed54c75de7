//! What a gateway knows of keys and grants: a snapshot of the catalog's access
//! state (every key with its secret opened, every bucket's owner and grants),
//! reloaded every 250 ms by a background task; a key or bucket the snapshot lacks
//! is read from the catalog directly (a key or bucket made a moment ago). A
//! request never decides on a snapshot older than one second (it reloads first),
//! so a disabled, deleted or expired key stops working within a second on every
//! gateway.

use crate::sealing::SealingKey;
use cairn_node::access::{AccessState, BucketAccess, KeyRecord, Permission};
use cairn_node::NodeClient;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Background reload interval.
const RELOAD_EVERY: Duration = Duration::from_millis(250);
/// No decision is taken on an older snapshot.
const MAX_AGE: Duration = Duration::from_secs(1);

/// A key as requests use it.
pub struct KnownKey {
    pub record: KeyRecord,
    /// The opened secret (never logged: no `Debug`).
    pub secret: String,
}

/// One consistent view of the access state.
pub struct Snapshot {
    pub keys: HashMap<String, Arc<KnownKey>>,
    pub buckets: std::collections::BTreeMap<String, BucketAccess>,
    pub loaded: Instant,
}

impl Snapshot {
    fn build(state: AccessState, sealing: &SealingKey) -> Self {
        let mut keys = HashMap::new();
        for record in state.keys {
            match sealing.open(&record.sealed_secret) {
                Ok(secret) => {
                    keys.insert(
                        record.access_key.clone(),
                        Arc::new(KnownKey { record, secret }),
                    );
                }
                Err(error) => {
                    tracing::warn!(key = %record.name, %error, "access key cannot be opened; refused")
                }
            }
        }
        Snapshot {
            keys,
            buckets: state.buckets,
            loaded: Instant::now(),
        }
    }

    /// What `access_key` may do on `bucket`; `None` when the bucket has no access
    /// row (it does not exist, or predates owners and belongs to admin keys).
    pub fn permission(&self, access_key: &str, bucket: &str) -> Option<Permission> {
        let admin = self.keys.get(access_key).is_some_and(|k| k.record.admin);
        if admin {
            return Some(ALL);
        }
        self.buckets
            .get(bucket)
            .map(|access| access.permission_of(access_key))
    }
}

pub const ALL: Permission = Permission {
    read: true,
    write: true,
    owner: true,
};

pub struct AccessCache {
    node: NodeClient,
    sealing: SealingKey,
    current: RwLock<Arc<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
}

impl AccessCache {
    /// Loads the first snapshot and starts the background reloads.
    pub async fn start(node: NodeClient, sealing: SealingKey) -> cairn_node::Result<Arc<Self>> {
        let state = node.access_state().await?;
        let cache = Arc::new(AccessCache {
            current: RwLock::new(Arc::new(Snapshot::build(state, &sealing))),
            node,
            sealing,
            reload: tokio::sync::Mutex::new(()),
        });
        let weak = Arc::downgrade(&cache);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let Some(cache) = weak.upgrade() else { return };
                if let Err(error) = cache.reload_if_older(RELOAD_EVERY / 2).await {
                    tracing::debug!(%error, "access state reload failed");
                }
            }
        });
        Ok(cache)
    }

    pub fn sealing(&self) -> &SealingKey {
        &self.sealing
    }

    fn current(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads unless the snapshot is younger than `age` (one reload at a time;
    /// a caller that waited for another's reload uses it).
    async fn reload_if_older(&self, age: Duration) -> cairn_node::Result<Arc<Snapshot>> {
        let _turn = self.reload.lock().await;
        let snap = self.current();
        if snap.loaded.elapsed() < age {
            return Ok(snap);
        }
        let state = self.node.access_state().await?;
        let fresh = Arc::new(Snapshot::build(state, &self.sealing));
        match self.current.write() {
            Ok(mut c) => *c = fresh.clone(),
            Err(poisoned) => *poisoned.into_inner() = fresh.clone(),
        }
        Ok(fresh)
    }

    /// A snapshot at most one second old.
    pub async fn fresh(&self) -> cairn_node::Result<Arc<Snapshot>> {
        let snap = self.current();
        if snap.loaded.elapsed() < MAX_AGE {
            return Ok(snap);
        }
        self.reload_if_older(MAX_AGE).await
    }

    /// A fresh snapshot and the key `access_key` if the catalog has it and it may
    /// sign requests now (read from the catalog when the snapshot lacks it).
    pub async fn key(
        &self,
        access_key: &str,
    ) -> cairn_node::Result<(Arc<Snapshot>, Option<Arc<KnownKey>>)> {
        let snap = self.fresh().await?;
        let known = match snap.keys.get(access_key) {
            Some(k) => Some(k.clone()),
            None => self
                .node
                .key_record(access_key.to_string())
                .await?
                .and_then(|record| {
                    let secret = self.sealing.open(&record.sealed_secret).ok()?;
                    Some(Arc::new(KnownKey { record, secret }))
                }),
        };
        let usable = known.filter(|k| k.record.usable(cairn_node::now_ms()));
        Ok((snap, usable))
    }

    /// `bucket`'s owner and grants as the catalog has them now, when the snapshot
    /// lacks them (`None`: no access row).
    pub async fn bucket_access(&self, bucket: &str) -> cairn_node::Result<Option<BucketAccess>> {
        self.node.bucket_access(bucket.to_string()).await
    }

    /// Reloads now (after this gateway changed keys or grants).
    pub async fn reload(&self) -> cairn_node::Result<Arc<Snapshot>> {
        self.reload_if_older(Duration::ZERO).await
    }
}
