//! Refusals of request elements that ask for something Cairn does not do. A client
//! that asks for a guarantee (encryption, a storage class, a website
//! redirect...) gets a clear error before anything is
//! read or stored, never a success that silently drops the request element.
//!
//! `check_request` runs on every request once its identity is known (from the
//! access check, before s3s reads any body); ACL headers are checked for form
//! here (`policy::acl::Requested`), their grantees and the bucket's object
//! ownership by the handlers; the body-borne parts (ACL documents, bucket
//! policies, create-bucket configurations) are checked by their handlers.

use super::error::custom;
use http::{HeaderMap, Uri};
use s3s::{s3_error, S3Result};

/// The checksum algorithms Cairn computes and verifies.
pub const CHECKSUM_ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// Operations whose body s3s reads whole (an XML or JSON document) before the
/// handler runs; every other operation streams its body.
fn streams_body(op: &str) -> bool {
    matches!(op, "PutObject" | "UploadPart" | "PostObject")
}

/// The largest document body accepted (s3s's own default limit, refused here
/// before a byte of it is read).
pub const MAX_DOCUMENT_BODY: u64 = 20 * 1024 * 1024;

/// Refuses what the headers and query of a request ask for and Cairn cannot keep.
pub fn check_request(op: &str, uri: &Uri, headers: &HeaderMap) -> S3Result<()> {
    check_document_length(op, headers)?;
    check_query(uri)?;
    crate::policy::acl::Requested::from_headers(headers)?;
    for (name, value) in headers {
        let name = name.as_str();
        let value = value.to_str().unwrap_or("").trim();
        check_header(name, value)?;
    }
    Ok(())
}

fn check_header(name: &str, value: &str) -> S3Result<()> {
    if name.starts_with("x-amz-server-side-encryption")
        || name.starts_with("x-amz-copy-source-server-side-encryption")
    {
        return Err(s3_error!(
            NotImplemented,
            "Server-side encryption ({name}) is not supported yet: Cairn stores objects unencrypted."
        ));
    }
    match name {
        "x-amz-storage-class" if value != "STANDARD" => Err(s3_error!(
            InvalidStorageClass,
            "The storage class you specified is not valid: Cairn has only STANDARD."
        )),
        "x-amz-website-redirect-location" => Err(s3_error!(
            NotImplemented,
            "Website redirects (x-amz-website-redirect-location) are not supported yet."
        )),
        "x-amz-checksum-algorithm" | "x-amz-sdk-checksum-algorithm" => {
            check_checksum_name(name, value)
        }
        "x-amz-trailer" => value.split(',').try_for_each(|t| {
            let t = t.trim().to_ascii_lowercase();
            match t.strip_prefix("x-amz-checksum-") {
                Some(algo) => check_checksum_name(name, algo),
                None => Err(s3_error!(
                    InvalidRequest,
                    "Unsupported trailer {t}: only x-amz-checksum-* trailers are accepted."
                )),
            }
        }),
        _ => match name.strip_prefix("x-amz-checksum-") {
            Some("type" | "mode") | None => Ok(()),
            Some(algo) => check_checksum_name(name, algo),
        },
    }
}

fn check_checksum_name(header: &str, algo: &str) -> S3Result<()> {
    if CHECKSUM_ALGORITHMS.contains(&algo.to_ascii_lowercase().as_str()) {
        Ok(())
    } else {
        Err(s3_error!(
            InvalidRequest,
            "Checksum algorithm {algo} ({header}) is not supported: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256."
        ))
    }
}

/// Refuses, unread, a document body larger than the limit, and one without a
/// declared length (it could not be bounded before reading it).
fn check_document_length(op: &str, headers: &HeaderMap) -> S3Result<()> {
    if streams_body(op) {
        return Ok(());
    }
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > MAX_DOCUMENT_BODY => Err(s3_error!(
            MaxMessageLengthExceeded,
            "Your request was too big: {op} bodies are limited to {MAX_DOCUMENT_BODY} bytes."
        )),
        None if headers.contains_key(http::header::TRANSFER_ENCODING) => Err(custom(
            "MissingContentLength",
            http::StatusCode::LENGTH_REQUIRED,
            "You must provide the Content-Length HTTP header.",
        )),
        _ => Ok(()),
    }
}

/// Sub-resources of operations newer than s3s's routing table: without this, s3s
/// would take `PUT /b/k?renameObject` for a PutObject of an empty body, and
/// `GET /b?abac` for a listing.
const UNROUTED_SUBRESOURCES: [&str; 5] = [
    "renameObject",
    "abac",
    "metadataConfiguration",
    "metadataInventoryTable",
    "metadataJournalTable",
];

/// Operations s3s does not know are refused rather than taken for others.
fn check_query(uri: &Uri) -> S3Result<()> {
    let Some(query) = uri.query() else {
        return Ok(());
    };
    for pair in query.split('&') {
        let (k, _) = pair.split_once('=').unwrap_or((pair, ""));
        if UNROUTED_SUBRESOURCES.contains(&k) {
            return Err(s3_error!(
                NotImplemented,
                "The {k} operation is not implemented."
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    fn code(op: &str, uri: &str, pairs: &[(&'static str, &'static str)]) -> Option<String> {
        let uri: Uri = uri.parse().unwrap();
        check_request(op, &uri, &headers(pairs))
            .err()
            .map(|e| e.code().as_str().to_string())
    }

    #[test]
    fn refuses_what_is_not_kept() {
        let put = "PutObject";
        let u = "/b/k";
        assert_eq!(code(put, u, &[]), None);
        assert_eq!(
            code(put, u, &[("x-amz-server-side-encryption", "AES256")]).as_deref(),
            Some("NotImplemented")
        );
        assert_eq!(
            code(put, u, &[("x-amz-storage-class", "GLACIER")]).as_deref(),
            Some("InvalidStorageClass")
        );
        assert_eq!(code(put, u, &[("x-amz-storage-class", "STANDARD")]), None);
        assert_eq!(code(put, u, &[("x-amz-acl", "public-read-write")]), None);
        assert_eq!(
            code(put, u, &[("x-amz-acl", "log-delivery-write")]).as_deref(),
            Some("NotImplemented")
        );
        assert_eq!(
            code(put, u, &[("x-amz-grant-read", "id=\"someone\"")]),
            None
        );
        assert_eq!(
            code(put, u, &[("x-amz-grant-read", "emailAddress=\"a@b.c\"")]).as_deref(),
            Some("UnresolvableGrantByEmailAddress")
        );
        assert_eq!(
            code(put, u, &[("x-amz-checksum-sha512", "abc")]).as_deref(),
            Some("InvalidRequest")
        );
        assert_eq!(code(put, u, &[("x-amz-checksum-crc32", "abc")]), None);
        assert_eq!(
            code("PutObject", "/b/k?renameObject", &[]).as_deref(),
            Some("NotImplemented")
        );
        assert_eq!(
            code(
                "DeleteObjects",
                "/b?delete",
                &[("content-length", "26214400")]
            )
            .as_deref(),
            Some("MaxMessageLengthExceeded")
        );
        assert_eq!(
            code("PutObject", u, &[("content-length", "26214400")]),
            None
        );
    }
}
