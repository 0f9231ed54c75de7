//! Veeam's Smart Object Storage API (SOSAPI 1.0): `GET`/`HEAD` of
//! `<bucket>/.system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/system.xml` and
//! `.../capacity.xml` answered as virtual read-only objects, so Veeam sizes its
//! work to the cluster: the protocol version and recommendations, and the
//! cluster's usable capacity, used and available bytes (after replication).

use super::error::OrS3;
use super::meta::{etag, timestamp};
use crate::state::Gateway;
use s3s::dto::*;
use s3s::S3Result;

/// The folder Veeam reads the virtual objects from.
pub const SOSAPI_DIR: &str = ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/";

/// The bytes of a virtual object, if `key` names one (in an existing bucket).
async fn document(gw: &Gateway, bucket: &str, key: &str) -> S3Result<Option<Vec<u8>>> {
    let Some(name) = key.strip_prefix(SOSAPI_DIR) else {
        return Ok(None);
    };
    if name != "system.xml" && name != "capacity.xml" {
        return Ok(None);
    }
    gw.node.get_bucket(bucket.to_string()).await.or_s3()?;
    let xml = if name == "system.xml" {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<SystemInfo>\n  \
             <ProtocolVersion>\"1.0\"</ProtocolVersion>\n  <ModelName>\"Cairn\"</ModelName>\n  \
             <ProtocolCapabilities>\n    <CapacityInfo>true</CapacityInfo>\n    \
             <UploadSessions>false</UploadSessions>\n    <IAMSTS>false</IAMSTS>\n  \
             </ProtocolCapabilities>\n  <SystemRecommendations>\n    \
             <S3ConcurrentTaskLimit>64</S3ConcurrentTaskLimit>\n    \
             <S3MultiObjectDeleteLimit>1000</S3MultiObjectDeleteLimit>\n    \
             <StorageCurrentTasksLimit>4</StorageCurrentTasksLimit>\n    \
             <KbBlockSize>{}</KbBlockSize>\n  </SystemRecommendations>\n</SystemInfo>\n",
            (gw.cfg.chunk_size / 1024).clamp(256, 8192)
        )
    } else {
        let c = gw.node.capacity().await.or_s3()?;
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<CapacityInfo>\n  \
             <Capacity>{}</Capacity>\n  <Available>{}</Available>\n  <Used>{}</Used>\n\
             </CapacityInfo>\n",
            c.total, c.available, c.used
        )
    };
    Ok(Some(xml.into_bytes()))
}

/// A GetObject answer for a virtual object.
pub async fn get(gw: &Gateway, bucket: &str, key: &str) -> S3Result<Option<GetObjectOutput>> {
    let Some(bytes) = document(gw, bucket, key).await? else {
        return Ok(None);
    };
    Ok(Some(GetObjectOutput {
        content_length: i64::try_from(bytes.len()).ok(),
        content_type: Some("application/xml".into()),
        e_tag: Some(etag(&hex::encode(md5_of(&bytes)))),
        last_modified: Some(timestamp(cairn_node::now_ms())),
        body: Some(StreamingBlob::from(s3s::Body::from(bytes))),
        ..Default::default()
    }))
}

/// A HeadObject answer for a virtual object: the GetObject answer's headers.
pub async fn head(gw: &Gateway, bucket: &str, key: &str) -> S3Result<Option<HeadObjectOutput>> {
    Ok(get(gw, bucket, key).await?.map(|o| HeadObjectOutput {
        content_length: o.content_length,
        content_type: o.content_type,
        e_tag: o.e_tag,
        last_modified: o.last_modified,
        ..Default::default()
    }))
}

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(bytes).into()
}
