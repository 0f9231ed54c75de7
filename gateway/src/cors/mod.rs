//! Cross-origin resource sharing: a bucket's rules (`rules`), the gateway's
//! short-lived copy of them (`cache`), and preflight answers and response headers
//! (`respond`). Put/Get/DeleteBucketCors are in `s3::cors`.

pub mod cache;
pub mod respond;
pub mod rules;
