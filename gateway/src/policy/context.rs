//! The condition values of one request, looked up only when a condition asks
//! for them (most requests against a policy never build any): the connection's
//! peer address and transport, headers, query parameters, the signing key, and
//! for `s3:ExistingObjectTag/…` the object's tags, which the gate reads before
//! evaluation only when the bucket's policy mentions them.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// What the listener knows of a connection, put in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// TLS (`aws:SecureTransport`).
    pub secure: bool,
}

/// The condition keys Cairn evaluates (names compare case-insensitively; a tag
/// key after the `/` as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    SourceIp,
    SecureTransport,
    Referer,
    UserAgent,
    CurrentTime,
    EpochTime,
    Username,
    Userid,
    PrincipalType,
    Prefix,
    Delimiter,
    MaxKeys,
    XAmzAcl,
    VersionId,
    ExistingObjectTag(String),
    RequestObjectTag(String),
    RequestObjectTagKeys,
}

impl Key {
    /// The key a policy names, `None` when Cairn does not know it.
    pub fn parse(name: &str) -> Option<Key> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "aws:sourceip" => Key::SourceIp,
            "aws:securetransport" => Key::SecureTransport,
            "aws:referer" => Key::Referer,
            "aws:useragent" => Key::UserAgent,
            "aws:currenttime" => Key::CurrentTime,
            "aws:epochtime" => Key::EpochTime,
            "aws:username" => Key::Username,
            "aws:userid" => Key::Userid,
            "aws:principaltype" => Key::PrincipalType,
            "s3:prefix" => Key::Prefix,
            "s3:delimiter" => Key::Delimiter,
            "s3:max-keys" => Key::MaxKeys,
            "s3:x-amz-acl" => Key::XAmzAcl,
            "s3:versionid" => Key::VersionId,
            "s3:requestobjecttagkeys" => Key::RequestObjectTagKeys,
            _ => {
                let tag = |p: &str| {
                    lower
                        .starts_with(p)
                        .then(|| name[p.len()..].to_string())
                        .filter(|t| !t.is_empty())
                };
                if let Some(t) = tag("s3:existingobjecttag/") {
                    Key::ExistingObjectTag(t)
                } else if let Some(t) = tag("s3:requestobjecttag/") {
                    Key::RequestObjectTag(t)
                } else {
                    return None;
                }
            }
        })
    }

    /// Whether the key can have several values (`ForAnyValue`/`ForAllValues`).
    pub fn multi(&self) -> bool {
        matches!(self, Key::RequestObjectTagKeys)
    }
}

/// One value of a key in a request.
#[derive(Debug, Clone)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Ip(IpAddr),
    Bool(bool),
    /// Milliseconds since the epoch.
    Time(i64),
    Num(f64),
}

impl Val<'_> {
    /// The value as a string (for string operators on typed keys).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s),
            Val::Ip(ip) => Cow::Owned(ip.to_string()),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Val::Time(ms) => Cow::Owned(
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(*ms) * 1_000_000)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default(),
            ),
            Val::Num(n) => Cow::Owned(n.to_string()),
        }
    }
}

/// The signed requester, as conditions and principals see it.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub access_key: &'a str,
    pub name: &'a str,
}

/// Borrowed parts of a request, from which values are read on demand.
pub struct Context<'a> {
    pub op: &'a str,
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
    pub conn: Option<ConnInfo>,
    pub who: Option<Who<'a>>,
    /// The object's tags, when the policy needs them and the object exists.
    pub object_tags: Option<&'a [(String, String)]>,
}

impl<'a> Context<'a> {
    /// The values of `key` in this request (`None`: the key is absent).
    pub fn values(&self, key: &Key) -> Option<Vec<Val<'a>>> {
        let one = |v: Val<'a>| Some(vec![v]);
        let header = |name: &str| {
            self.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| Val::Str(Cow::Borrowed(s)))
        };
        match key {
            Key::SourceIp => self.conn.map(|c| vec![Val::Ip(canonical(c.peer.ip()))]),
            Key::SecureTransport => one(Val::Bool(self.conn.is_some_and(|c| c.secure))),
            Key::Referer => header("referer").map(|v| vec![v]),
            Key::UserAgent => header("user-agent").map(|v| vec![v]),
            Key::CurrentTime => one(Val::Time(cairn_node::now_ms())),
            Key::EpochTime => one(Val::Num((cairn_node::now_ms() / 1000) as f64)),
            Key::Username => self.who.map(|w| vec![Val::Str(Cow::Borrowed(w.name))]),
            Key::Userid => self
                .who
                .map(|w| vec![Val::Str(Cow::Borrowed(w.access_key))]),
            Key::PrincipalType => one(Val::Str(Cow::Borrowed(if self.who.is_some() {
                "User"
            } else {
                "Anonymous"
            }))),
            Key::Prefix | Key::Delimiter | Key::MaxKeys => {
                if !matches!(
                    self.op,
                    "ListObjects" | "ListObjectsV2" | "ListObjectVersions"
                ) {
                    return None;
                }
                let name = match key {
                    Key::Prefix => "prefix",
                    Key::Delimiter => "delimiter",
                    _ => "max-keys",
                };
                let v = self.query(name)?;
                if *key == Key::MaxKeys {
                    return v.trim().parse::<f64>().ok().map(|n| vec![Val::Num(n)]);
                }
                one(Val::Str(v))
            }
            Key::XAmzAcl => header("x-amz-acl").map(|v| vec![v]),
            Key::VersionId => self.query("versionId").map(|v| vec![Val::Str(v)]),
            Key::ExistingObjectTag(tag) => self
                .object_tags?
                .iter()
                .find(|(k, _)| k == tag)
                .map(|(_, v)| vec![Val::Str(Cow::Borrowed(v.as_str()))]),
            Key::RequestObjectTag(tag) => self
                .request_tags()?
                .into_iter()
                .find(|(k, _)| k == tag)
                .map(|(_, v)| vec![Val::Str(v)]),
            Key::RequestObjectTagKeys => Some(
                self.request_tags()?
                    .into_iter()
                    .map(|(k, _)| Val::Str(k))
                    .collect(),
            ),
        }
    }

    /// A query parameter, percent-decoded.
    fn query(&self, name: &str) -> Option<Cow<'a, str>> {
        let q = self.uri.query()?;
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| decode(v))
        })
    }

    /// The tags of `x-amz-tagging` (`k1=v1&k2=v2`, URL-encoded).
    fn request_tags(&self) -> Option<Vec<(Cow<'a, str>, Cow<'a, str>)>> {
        let raw = self.headers.get("x-amz-tagging")?.to_str().ok()?;
        Some(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }
}

fn decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    match urlencoding::decode(&spaced) {
        Ok(d) => Cow::Owned(d.into_owned()),
        Err(_) => Cow::Owned(spaced),
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
