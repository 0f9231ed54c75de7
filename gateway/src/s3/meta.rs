//! Conversions between S3 DTO fields and catalog records that several operation
//! families share: object metadata in and out, timestamps, ETags, tags, checksums,
//! key validation and write conditions.

use crate::state::MAX_KEY_LEN;
use cairn_node::records::WriteCondition;
use s3s::dto::{ETag, ETagCondition, Tag, Timestamp, TimestampFormat};
use s3s::{s3_error, S3Result};

/// Reads the stored metadata (`ObjectMeta`) from any input that carries the content
/// headers, `x-amz-meta-*` and a `x-amz-tagging` header.
macro_rules! object_meta_from {
    ($input:expr) => {{
        let input = &$input;
        cairn_node::records::ObjectMeta {
            headers: cairn_node::records::ContentHeaders {
                content_type: input.content_type.clone(),
                content_encoding: $crate::s3::meta::stored_content_encoding(
                    input.content_encoding.as_deref(),
                ),
                content_disposition: input.content_disposition.clone(),
                content_language: input.content_language.clone(),
                cache_control: input.cache_control.clone(),
                expires: input.expires.as_ref().map($crate::s3::meta::http_date),
            },
            user: $crate::s3::meta::sorted_pairs(input.metadata.clone()),
            tags: $crate::s3::meta::parse_tagging_header(input.tagging.as_deref())?,
        }
    }};
}
pub(crate) use object_meta_from;

/// Fills the content headers, user metadata and checksums of a GET/HEAD output from
/// an object record (checksums only when the client asked with `checksum_mode`).
macro_rules! fill_object_output {
    ($out:expr, $rec:expr, $with_checksums:expr) => {{
        let rec = &$rec;
        let h = &rec.meta.headers;
        $out.content_type = h.content_type.clone();
        $out.content_encoding = h.content_encoding.clone();
        $out.content_disposition = h.content_disposition.clone();
        $out.content_language = h.content_language.clone();
        $out.cache_control = h.cache_control.clone();
        $out.expires = h
            .expires
            .as_deref()
            .and_then($crate::s3::meta::parse_http_date);
        $out.e_tag = Some($crate::s3::meta::etag(&rec.etag));
        $out.last_modified = Some($crate::s3::meta::timestamp(rec.last_modified_ms));
        $out.accept_ranges = Some("bytes".into());
        let mut user = rec.meta.client_user().peekable();
        if user.peek().is_some() {
            $out.metadata = Some(user.cloned().collect());
        }
        if !rec.part_sizes.is_empty() {
            $out.parts_count = i32::try_from(rec.part_sizes.len()).ok();
        }
        if $with_checksums {
            let c = &rec.checksums;
            $out.checksum_crc32 = c.crc32.clone();
            $out.checksum_crc32c = c.crc32c.clone();
            $out.checksum_crc64nvme = c.crc64nvme.clone();
            $out.checksum_sha1 = c.sha1.clone();
            $out.checksum_sha256 = c.sha256.clone();
            $out.checksum_type = c.kind.clone().map(Into::into);
        }
    }};
}
pub(crate) use fill_object_output;

/// What a body-carrying input (PutObject, UploadPart) says its digests are: takes
/// `content_md5` and the `checksum_*` fields out of the input.
macro_rules! expected_digests {
    ($input:expr, $headers:expr) => {{
        let input = &mut $input;
        $crate::checksum::Expected::from_request(
            &$headers,
            input.checksum_algorithm.as_ref(),
            input.content_md5.take(),
            s3s::dto::Checksum {
                checksum_crc32: input.checksum_crc32.take(),
                checksum_crc32c: input.checksum_crc32c.take(),
                checksum_crc64nvme: input.checksum_crc64nvme.take(),
                checksum_sha1: input.checksum_sha1.take(),
                checksum_sha256: input.checksum_sha256.take(),
                ..Default::default()
            },
        )
    }};
}
pub(crate) use expected_digests;

/// Fills the `checksum_*` fields of a PUT-like output.
macro_rules! fill_checksums {
    ($out:expr, $sums:expr) => {{
        let c = &$sums;
        $out.checksum_crc32 = c.crc32.clone();
        $out.checksum_crc32c = c.crc32c.clone();
        $out.checksum_crc64nvme = c.crc64nvme.clone();
        $out.checksum_sha1 = c.sha1.clone();
        $out.checksum_sha256 = c.sha256.clone();
    }};
}
pub(crate) use fill_checksums;

/// The Content-Encoding to keep: the client's, less the `aws-chunked` transfer
/// coding that only describes this request's body. Codings are listed as HTTP
/// lists them, `, `-separated (repeated header lines arrive joined by `,`, the
/// form SigV4 signs).
pub fn stored_content_encoding(value: Option<&str>) -> Option<String> {
    let value = value?;
    let codings: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let kept: Vec<&str> = codings
        .iter()
        .copied()
        .filter(|c| !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join(", "))
    }
}

pub fn timestamp(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

pub fn millis(ts: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = ts.clone().into();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

pub fn http_date(ts: &Timestamp) -> String {
    let mut buf = Vec::new();
    let _ = ts.format(TimestampFormat::HttpDate, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

pub fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_string())
}

/// Whether an `If-Match`-style condition matches the stored ETag.
pub fn etag_matches(cond: &ETagCondition, stored: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value().trim_matches('"') == stored,
    }
}

pub fn sorted_pairs(
    map: Option<std::collections::HashMap<String, String>>,
) -> Vec<(String, String)> {
    let mut v: Vec<_> = map.unwrap_or_default().into_iter().collect();
    v.sort();
    v
}

/// Parses `x-amz-tagging: k1=v1&k2=v2` (URL-encoded).
pub fn parse_tagging_header(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(header) = header.filter(|h| !h.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut tags = Vec::new();
    for pair in header.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k =
            urlencoding::decode(k).map_err(|_| s3_error!(InvalidArgument, "bad tagging header"))?;
        let v =
            urlencoding::decode(v).map_err(|_| s3_error!(InvalidArgument, "bad tagging header"))?;
        tags.push((k.into_owned(), v.into_owned()));
    }
    validate_tags(&tags)?;
    check_object_tag_count(&tags)?;
    Ok(tags)
}

/// An object carries at most 10 tags (a bucket 50); AWS answers `BadRequest`.
pub const MAX_OBJECT_TAGS: usize = 10;

pub fn check_object_tag_count(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > MAX_OBJECT_TAGS {
        return Err(super::error::custom(
            "BadRequest",
            http::StatusCode::BAD_REQUEST,
            format!("Object tags cannot be greater than {MAX_OBJECT_TAGS}"),
        ));
    }
    Ok(())
}

pub fn validate_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > 50 {
        return Err(s3_error!(InvalidTag, "at most 50 tags"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(s3_error!(InvalidTag, "tag key or value has a bad length"));
        }
        if tags[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(s3_error!(InvalidTag, "duplicate tag key"));
        }
    }
    Ok(())
}

pub fn tags_to_dto(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

pub fn tags_from_dto(tags: Vec<Tag>) -> S3Result<Vec<(String, String)>> {
    let pairs: Vec<_> = tags
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    validate_tags(&pairs)?;
    Ok(pairs)
}

pub fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(s3_error!(KeyTooLongError));
    }
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "empty key"));
    }
    if let Some(c) = key.chars().find(|c| !xml_char(*c)) {
        return Err(s3_error!(
            InvalidArgument,
            "Object key contains the character U+{:04X}, which XML listings cannot carry; Cairn refuses such keys.",
            u32::from(c)
        ));
    }
    Ok(())
}

/// Whether a listing's XML can carry `c` as it is: XML 1.0's `Char` production,
/// less the carriage return, which XML parsers turn into a line feed (s3s writes
/// it unescaped). Keys with other characters could not be listed without
/// `encoding-type=url` (AWS's advice), so Cairn refuses them when written.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The write condition of `If-None-Match: *` / `If-Match: etag` on a PUT or complete.
pub fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<WriteCondition> {
    match (if_match, if_none_match) {
        (None, None) => Ok(WriteCondition::Always),
        (None, Some(ETagCondition::Any)) => Ok(WriteCondition::IfAbsent),
        (Some(ETagCondition::ETag(e)), None) => Ok(WriteCondition::IfEtag(
            e.value().trim_matches('"').to_string(),
        )),
        (Some(ETagCondition::Any), None) => {
            Err(s3_error!(NotImplemented, "If-Match: * is not supported"))
        }
        (None, Some(_)) => Err(s3_error!(NotImplemented, "If-None-Match only supports *")),
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidArgument,
            "If-Match and If-None-Match together"
        )),
    }
}
