//! The one mapping from internal errors to S3 error codes.

use cairn_node::Error;
use s3s::{s3_error, S3Error, S3ErrorCode};

/// Maps a node error to the S3 error a client should see.
pub fn from_node(e: Error) -> S3Error {
    match e {
        Error::NoSuchBucket => s3_error!(NoSuchBucket),
        Error::BucketExists => s3_error!(BucketAlreadyOwnedByYou),
        Error::BucketNotEmpty => s3_error!(BucketNotEmpty),
        Error::NoSuchKey => s3_error!(NoSuchKey),
        Error::NoSuchUpload => s3_error!(NoSuchUpload),
        Error::PreconditionFailed => s3_error!(PreconditionFailed),
        Error::InvalidPart(msg) => S3Error::with_message(S3ErrorCode::InvalidPart, msg),
        Error::NoSuchVersion => s3_error!(NoSuchVersion),
        Error::InvalidArgument(msg) => S3Error::with_message(S3ErrorCode::InvalidArgument, msg),
        Error::AccessDenied(msg) => S3Error::with_message(S3ErrorCode::AccessDenied, msg),
        Error::InvalidBucketState(msg) => {
            S3Error::with_message(S3ErrorCode::InvalidBucketState, msg)
        }
        Error::InvalidRequest(msg) => S3Error::with_message(S3ErrorCode::InvalidRequest, msg),
        Error::InsufficientCapacity(msg) => {
            tracing::warn!(error = %msg, "write refused: no room");
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("InsufficientCapacity".into()),
                format!(
                    "The storage cluster has no room for this data ({msg}); add nodes or capacity."
                ),
            );
            e.set_status_code(http::StatusCode::INSUFFICIENT_STORAGE);
            e
        }
        busy @ (Error::NotLeader { .. } | Error::Unavailable(_)) => {
            tracing::warn!(error = %busy, "cluster unavailable");
            S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                "The storage cluster cannot serve this request now; retry.",
            )
        }
        other => {
            tracing::error!(error = %other, "storage failure");
            S3Error::with_message(S3ErrorCode::InternalError, other.to_string())
        }
    }
}

/// An error whose code s3s does not know (`PolicyTooLarge`, `BadRequest`...), with
/// the status S3 gives it.
pub fn custom(code: &str, status: http::StatusCode, message: impl Into<String>) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.to_string().into()), message.into());
    e.set_status_code(status);
    e
}

/// A `partNumber` read past the object's last part: 416 `InvalidPartNumber`.
pub fn invalid_part_number() -> S3Error {
    custom(
        "InvalidPartNumber",
        http::StatusCode::RANGE_NOT_SATISFIABLE,
        "The requested partnumber is not satisfiable",
    )
}

/// `?`-friendly conversion of node results.
pub trait OrS3<T> {
    fn or_s3(self) -> s3s::S3Result<T>;
}

impl<T> OrS3<T> for cairn_node::Result<T> {
    fn or_s3(self) -> s3s::S3Result<T> {
        self.map_err(from_node)
    }
}

/// The message S3 gives with an error code, for error documents that carry none.
pub fn default_message(code: &str) -> &'static str {
    match code {
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchBucket" => "The specified bucket does not exist.",
        "NoSuchUpload" => "The specified multipart upload does not exist.",
        "NoSuchTagSet" => "The TagSet does not exist.",
        "NoSuchBucketPolicy" => "The bucket policy does not exist.",
        "BucketAlreadyOwnedByYou" => "Your previous request to create the named bucket succeeded and you already own it.",
        "BucketNotEmpty" => "The bucket you tried to delete is not empty.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "KeyTooLongError" => "Your key is too long.",
        "InvalidRange" => "The requested range is not satisfiable.",
        "PreconditionFailed" => "At least one of the preconditions you specified did not hold.",
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema.",
        "InvalidAccessKeyId" => "The AWS access key Id you provided does not exist in our records.",
        "SignatureDoesNotMatch" => "The request signature we calculated does not match the signature you provided.",
        "AccessDenied" => "Access Denied",
        "BadDigest" => "The Content-MD5 or checksum value you specified did not match what we received.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed object size.",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "InvalidPart" => "One or more of the specified parts could not be found.",
        "InvalidPartOrder" => "The list of parts was not in ascending order.",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "InternalError" => "We encountered an internal error. Please try again.",
        "RequestTimeTooSkewed" => "The difference between the request time and the server's time is too large.",
        _ => "The request could not be processed.",
    }
}

/// Completes an S3 error document: adds a `<Message>` (when s3s produced none) and
/// the request's `<RequestId>`. Returns `None` when `xml` is not an error document.
pub fn complete_error_document(xml: &str, request_id: &str) -> Option<String> {
    let code_start = xml.find("<Code>")? + "<Code>".len();
    let code_end = code_start + xml[code_start..].find("</Code>")?;
    let code = &xml[code_start..code_end];
    let mut out = String::with_capacity(xml.len() + 160);
    out.push_str(&xml[..code_end + "</Code>".len()]);
    if !xml.contains("<Message>") {
        out.push_str("<Message>");
        out.push_str(default_message(code));
        out.push_str("</Message>");
    }
    let rest = &xml[code_end + "</Code>".len()..];
    if !xml.contains("<RequestId>") {
        let close = rest.rfind("</Error>")?;
        out.push_str(&rest[..close]);
        out.push_str("<RequestId>");
        out.push_str(request_id);
        out.push_str("</RequestId>");
        out.push_str(&rest[close..]);
    } else {
        out.push_str(rest);
    }
    Some(out)
}

/// `400 InvalidArgument` with a message.
pub fn invalid_argument(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::InvalidArgument, msg);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// `400 AuthorizationQueryParametersError`: a presigned URL's auth parameters are wrong.
pub fn query_auth_error(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::AuthorizationQueryParametersError, msg);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// `400 AuthorizationHeaderMalformed`: a SigV4 credential scope names another region.
pub fn wrong_region(got: &str, expected: &str) -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::AuthorizationHeaderMalformed,
        format!("The authorization header is malformed; the region '{got}' is wrong; expecting '{expected}'"),
    );
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// `503 SlowDown`: the server is at a limit; retry later.
pub fn slow_down(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::with_message(S3ErrorCode::SlowDown, msg)
}

/// `400 RequestTimeout`: the body sent nothing for the body-idle timeout.
pub fn request_timeout() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::RequestTimeout,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    );
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// The HTTP response of an error found before the request reached s3s.
pub fn response(e: S3Error) -> http::Response<s3s::Body> {
    e.to_http_response().unwrap_or_else(|_| {
        let mut resp = http::Response::new(s3s::Body::empty());
        *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn adds_message_and_request_id() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>"#;
        let out = complete_error_document(xml, "abc").unwrap();
        assert_eq!(
            out,
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>abc</RequestId></Error>"#
        );
        let with_msg = "<Error><Code>AccessDenied</Code><Message>no</Message></Error>";
        assert_eq!(
            complete_error_document(with_msg, "r").unwrap(),
            "<Error><Code>AccessDenied</Code><Message>no</Message><RequestId>r</RequestId></Error>"
        );
        assert!(complete_error_document("<ListBucketResult/>", "r").is_none());
    }
}
