//! `Gateway`: what every S3 handler works with — the node client and the gateway's
//! settings. Handlers take `&Gateway`; the S3 dispatch in `s3/mod.rs` owns one.

use cairn_node::NodeClient;

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub region: String,
    /// Objects are cut into chunks of this many bytes.
    pub chunk_size: usize,
    /// Objects up to this size are stored inline in their catalog record.
    pub inline_max: usize,
    /// Chunk writes in flight per request; with `chunk_size` it bounds a PUT's memory.
    pub write_window: usize,
    /// Chunks fetched ahead of the one being sent on a GET.
    pub read_ahead: usize,
}

impl GatewayConfig {
    pub fn new(region: String, chunk_size: usize) -> Self {
        GatewayConfig {
            region,
            chunk_size,
            inline_max: 64 * 1024,
            write_window: 4,
            read_ahead: 2,
        }
    }
}

#[derive(Clone)]
pub struct Gateway {
    pub node: NodeClient,
    pub cfg: GatewayConfig,
    /// Buckets' CORS rules as last read (the listener answers preflights from it).
    pub cors: std::sync::Arc<crate::cors::cache::CorsCache>,
    /// Buckets' policies and ACL settings as last read (the authorizer decides on them).
    pub bucket_auth: std::sync::Arc<crate::policy::cache::BucketAuthCache>,
}

impl Gateway {
    pub fn new(node: NodeClient, cfg: GatewayConfig) -> Self {
        let cors = std::sync::Arc::new(crate::cors::cache::CorsCache::new(node.clone()));
        let bucket_auth =
            std::sync::Arc::new(crate::policy::cache::BucketAuthCache::new(node.clone()));
        Gateway {
            node,
            cfg,
            cors,
            bucket_auth,
        }
    }
}

/// S3's size limits.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_NUMBER: i32 = 10_000;
pub const MAX_KEY_LEN: usize = 1024;
