//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for S3 requests, as the bench client
//! (and the in-process benchmarks) sign them: header-based signing, path-style URIs,
//! `x-amz-content-sha256: UNSIGNED-PAYLOAD` unless the caller passes a payload hash.
//!
//! The caller builds the request's path with [`object_path`] / [`bucket_path`] and its
//! query with [`canonical_query`]; both are already in canonical form, so the same
//! strings go on the wire and into the signature.

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// `x-amz-content-sha256` value for a body that is not hashed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = Hmac<Sha256>;

/// A UTC instant in the two forms SigV4 uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmzDate {
    /// `YYYYMMDD`
    pub date: String,
    /// `YYYYMMDDTHHMMSSZ`
    pub datetime: String,
}

impl AmzDate {
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// From seconds since the Unix epoch.
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let date = format!("{y:04}{m:02}{d:02}");
        let datetime = format!(
            "{date}T{:02}{:02}{:02}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        );
        AmzDate { date, datetime }
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Signs requests with one access key for one region and service.
pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    service: String,
    /// The derived signing key of the last date used.
    key_cache: Mutex<Option<(String, [u8; 32])>>,
}

impl Signer {
    /// A signer for the `s3` service.
    pub fn new(access_key: &str, secret_key: &str, region: &str) -> Self {
        Self::for_service(access_key, secret_key, region, "s3")
    }

    pub fn for_service(access_key: &str, secret_key: &str, region: &str, service: &str) -> Self {
        Signer {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            key_cache: Mutex::new(None),
        }
    }

    fn signing_key(&self, date: &str) -> [u8; 32] {
        if let Ok(cache) = self.key_cache.lock() {
            if let Some((d, k)) = cache.as_ref() {
                if d == date {
                    return *k;
                }
            }
        }
        let key = signing_key(&self.secret_key, date, &self.region, &self.service);
        if let Ok(mut cache) = self.key_cache.lock() {
            *cache = Some((date.to_string(), key));
        }
        key
    }

    /// Signs a request: sets `x-amz-date` and `x-amz-content-sha256` (to
    /// `payload_hash`) in `headers`, signs every header then in `headers` (which must
    /// include `host`), and sets `authorization`. `uri` and `query` are the canonical
    /// path and query string (as sent). Returns the signature (hex).
    pub fn sign(
        &self,
        method: &Method,
        uri: &str,
        query: &str,
        headers: &mut HeaderMap,
        payload_hash: &str,
        when: &AmzDate,
    ) -> String {
        headers.insert("x-amz-date", header_value(&when.datetime));
        headers.insert("x-amz-content-sha256", header_value(payload_hash));

        // Canonical headers: lower-case names (HeaderMap keeps them so), sorted,
        // values trimmed with inner runs of spaces folded, repeated names joined by ','.
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut creq = String::with_capacity(256 + uri.len() + query.len());
        creq.push_str(method.as_str());
        creq.push('\n');
        creq.push_str(uri);
        creq.push('\n');
        creq.push_str(query);
        creq.push('\n');
        for name in &names {
            creq.push_str(name);
            creq.push(':');
            for (i, v) in headers.get_all(*name).iter().enumerate() {
                if i > 0 {
                    creq.push(',');
                }
                push_trimmed(&mut creq, &String::from_utf8_lossy(v.as_bytes()));
            }
            creq.push('\n');
        }
        creq.push('\n');
        let signed_headers = names.join(";");
        creq.push_str(&signed_headers);
        creq.push('\n');
        creq.push_str(payload_hash);

        let scope = format!(
            "{}/{}/{}/aws4_request",
            when.date, self.region, self.service
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
            when.datetime,
            hex::encode(Sha256::digest(creq.as_bytes()))
        );
        let signature = hex::encode(hmac(
            &self.signing_key(&when.date),
            string_to_sign.as_bytes(),
        ));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key
        );
        headers.insert(http::header::AUTHORIZATION, header_value(&auth));
        signature
    }
}

/// The SigV4 signing key of `secret` for one day (`YYYYMMDD`), region and service
/// (also what a POST object policy's `x-amz-signature` is made with).
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Appends `v` trimmed, with each inner run of spaces reduced to one.
fn push_trimmed(out: &mut String, v: &str) {
    let mut space = false;
    for c in v.trim().chars() {
        if c == ' ' {
            space = true;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
}

/// SigV4 URI encoding: every byte but `A-Za-z0-9-._~` as `%XX` (upper-case hex);
/// `/` kept unless `encode_slash`.
pub fn uri_encode(out: &mut String, input: &str, encode_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// The path-style path of a bucket: `/bucket`.
pub fn bucket_path(bucket: &str) -> String {
    let mut s = String::with_capacity(bucket.len() + 1);
    s.push('/');
    uri_encode(&mut s, bucket, true);
    s
}

/// The path-style path of an object, encoded: `/bucket/key`.
pub fn object_path(bucket: &str, key: &str) -> String {
    let mut s = bucket_path(bucket);
    s.push('/');
    uri_encode(&mut s, key, false);
    s
}

/// The canonical query string of `pairs` (names and values unencoded): each encoded,
/// sorted by name then value, `name=value` joined by `&`. Send it as the request's
/// query too.
pub fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let mut enc: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            let mut ek = String::new();
            uri_encode(&mut ek, k, true);
            let mut ev = String::new();
            uri_encode(&mut ev, v, true);
            (ek, ev)
        })
        .collect();
    enc.sort();
    let mut out = String::new();
    for (i, (k, v)) in enc.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn example_date() -> AmzDate {
        // Fri, 24 May 2013 00:00:00 GMT
        AmzDate::from_unix(1_369_353_600)
    }

    #[test]
    fn dates() {
        let d = example_date();
        assert_eq!(d.date, "20130524");
        assert_eq!(d.datetime, "20130524T000000Z");
        assert_eq!(AmzDate::from_unix(0).datetime, "19700101T000000Z");
        assert_eq!(
            AmzDate::from_unix(951_782_400 + 3661).datetime,
            "20000229T010101Z"
        );
        assert_eq!(
            AmzDate::from_unix(1_767_225_599).datetime,
            "20251231T235959Z"
        );
    }

    /// AWS's documented example: "GET Object" with a Range header
    /// (Signature Calculations for the Authorization Header, S3 API reference).
    #[test]
    fn aws_get_object_example() {
        let signer = Signer::new(AK, SK, "us-east-1");
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
        );
        headers.insert("range", HeaderValue::from_static("bytes=0-9"));
        let uri = {
            let mut s = String::from("/");
            uri_encode(&mut s, "test.txt", false);
            s
        };
        let sig = signer.sign(
            &Method::GET,
            &uri,
            "",
            &mut headers,
            EMPTY_SHA256,
            &example_date(),
        );
        assert_eq!(
            sig,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            headers["authorization"].to_str().unwrap(),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        // The cached signing key gives the same answer.
        let mut again = HeaderMap::new();
        again.insert(
            "host",
            HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
        );
        again.insert("range", HeaderValue::from_static("bytes=0-9"));
        let sig2 = signer.sign(
            &Method::GET,
            &uri,
            "",
            &mut again,
            EMPTY_SHA256,
            &example_date(),
        );
        assert_eq!(sig, sig2);
    }

    /// AWS's documented "GET Bucket Lifecycle" and "Get Bucket (List Objects)" examples.
    #[test]
    fn aws_query_examples() {
        let signer = Signer::new(AK, SK, "us-east-1");
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
        );
        let sig = signer.sign(
            &Method::GET,
            "/",
            &canonical_query(&[("lifecycle", "")]),
            &mut headers,
            EMPTY_SHA256,
            &example_date(),
        );
        assert_eq!(
            sig,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );

        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
        );
        let sig = signer.sign(
            &Method::GET,
            "/",
            &canonical_query(&[("prefix", "J"), ("max-keys", "2")]),
            &mut headers,
            EMPTY_SHA256,
            &example_date(),
        );
        assert_eq!(
            sig,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn encoding() {
        assert_eq!(object_path("b", "a b/c+d~é"), "/b/a%20b/c%2Bd~%C3%A9");
        assert_eq!(bucket_path("my-bucket"), "/my-bucket");
        assert_eq!(
            canonical_query(&[("uploadId", "x/y"), ("partNumber", "3"), ("uploads", "")]),
            "partNumber=3&uploadId=x%2Fy&uploads="
        );
        let mut s = String::new();
        push_trimmed(&mut s, "  a   b  c ");
        assert_eq!(s, "a b c");
    }
}
