//! `cairn bench --policy FILE`: the bucket policy the run is measured under (put
//! on the bench bucket before the timed phase; `--policy none` removes any), so
//! the cost of authorising against a policy can be measured next to a run without.

use super::ops::{ReqBody, S3Client};
use super::sigv4;
use bytes::Bytes;
use http::{Method, StatusCode};

impl S3Client {
    /// Puts `text` as the bench bucket's policy, or with `None` deletes it.
    pub async fn set_policy(&self, text: Option<String>) -> Result<(), String> {
        let path = sigv4::bucket_path(&self.bucket);
        match text {
            Some(text) => self
                .expect(
                    Method::PUT,
                    &path,
                    "policy=",
                    &[],
                    ReqBody::Full(Some(Bytes::from(text))),
                    &[StatusCode::OK, StatusCode::NO_CONTENT],
                )
                .await
                .map(drop),
            None => self
                .expect(
                    Method::DELETE,
                    &path,
                    "policy=",
                    &[],
                    ReqBody::Empty,
                    &[StatusCode::OK, StatusCode::NO_CONTENT],
                )
                .await
                .map(drop),
        }
    }
}

/// The policy `--policy` names: the file's text, or `None` for `none`.
pub fn read_policy(arg: &str) -> Result<Option<String>, String> {
    if arg == "none" {
        return Ok(None);
    }
    std::fs::read_to_string(arg)
        .map(Some)
        .map_err(|e| format!("reading policy {arg}: {e}"))
}
