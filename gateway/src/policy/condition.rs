//! Condition operators: parsed with their values when a policy is put (values
//! that cannot be what the operator compares — a bad CIDR, number or date — make
//! the policy malformed), evaluated against a request's `Context` as AWS does:
//! several values of one key are alternatives, several keys and operators must
//! all hold; a key absent from the request fails positive operators and passes
//! negated ones; `…IfExists` passes when the key is absent; `Null` tests
//! absence; `ForAnyValue:`/`ForAllValues:` compare sets of request values.

use super::context::{canonical, Context, Key, Val};
use super::glob::Glob;
use super::PolicyError;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Single,
    AnyValue,
    AllValues,
}

/// What an operator compares, with its policy values compiled.
#[derive(Debug)]
enum Test {
    StrEq(Vec<String>),
    StrEqIgnoreCase(Vec<String>),
    StrLike(Vec<Glob>),
    Num(Cmp, Vec<f64>),
    Date(Cmp, Vec<i64>),
    Bool(Vec<bool>),
    Ip(Vec<(IpAddr, u8)>),
    Null(bool),
}

/// One key tested by one operator.
#[derive(Debug)]
pub struct Condition {
    pub key: Key,
    test: Test,
    negated: bool,
    if_exists: bool,
    set: SetOp,
}

fn malformed(msg: String) -> PolicyError {
    PolicyError::Malformed(msg)
}

impl Condition {
    /// Parses operator `op` on `key` with the policy's `values`.
    pub fn parse(op: &str, key: &str, values: &[&str]) -> Result<Condition, PolicyError> {
        let (set, rest) = if let Some(r) = op.strip_prefix("ForAnyValue:") {
            (SetOp::AnyValue, r)
        } else if let Some(r) = op.strip_prefix("ForAllValues:") {
            (SetOp::AllValues, r)
        } else {
            (SetOp::Single, op)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let parsed_key = Key::parse(key)
            .ok_or_else(|| malformed(format!("Policy has an invalid condition key: {key}")))?;
        let unknown = || malformed(format!("Invalid Condition type : {op}"));
        if values.is_empty() {
            return Err(malformed(format!("Condition {op} on {key} has no values")));
        }
        let num = |v: &&str| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| malformed(format!("Condition {op} on {key}: {v} is not a number")))
        };
        let date = |v: &&str| {
            parse_date(v)
                .ok_or_else(|| malformed(format!("Condition {op} on {key}: {v} is not a date")))
        };
        let cmp = |suffix: &str| match suffix {
            "Equals" | "NotEquals" => Some(Cmp::Eq),
            "LessThan" => Some(Cmp::Lt),
            "LessThanEquals" => Some(Cmp::Le),
            "GreaterThan" => Some(Cmp::Gt),
            "GreaterThanEquals" => Some(Cmp::Ge),
            _ => None,
        };
        let owned = || values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        let (test, negated) = match base {
            "StringEquals" | "ArnEquals" => (Test::StrEq(owned()), false),
            "StringNotEquals" | "ArnNotEquals" => (Test::StrEq(owned()), true),
            "StringEqualsIgnoreCase" => (Test::StrEqIgnoreCase(owned()), false),
            "StringNotEqualsIgnoreCase" => (Test::StrEqIgnoreCase(owned()), true),
            "StringLike" | "ArnLike" => (Test::StrLike(globs(values)), false),
            "StringNotLike" | "ArnNotLike" => (Test::StrLike(globs(values)), true),
            "Bool" => {
                let b = values
                    .iter()
                    .map(|v| match v.to_ascii_lowercase().as_str() {
                        "true" => Ok(true),
                        "false" => Ok(false),
                        _ => Err(malformed(format!(
                            "Condition Bool on {key}: {v} is not a boolean"
                        ))),
                    })
                    .collect::<Result<_, _>>()?;
                (Test::Bool(b), false)
            }
            "IpAddress" | "NotIpAddress" => {
                let nets = values
                    .iter()
                    .map(|v| {
                        parse_cidr(v).ok_or_else(|| {
                            malformed(format!(
                                "Condition {op} on {key}: {v} is not an IP address or CIDR"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                (Test::Ip(nets), base == "NotIpAddress")
            }
            "Null" => {
                if if_exists || set != SetOp::Single {
                    return Err(unknown());
                }
                let b = match values {
                    [v] if v.eq_ignore_ascii_case("true") => true,
                    [v] if v.eq_ignore_ascii_case("false") => false,
                    _ => {
                        return Err(malformed(format!(
                            "Condition Null on {key} needs true or false"
                        )))
                    }
                };
                (Test::Null(b), false)
            }
            _ => {
                if let Some(s) = base.strip_prefix("Numeric") {
                    let c = cmp(s).ok_or_else(unknown)?;
                    let v = values.iter().map(num).collect::<Result<_, _>>()?;
                    (Test::Num(c, v), s == "NotEquals")
                } else if let Some(s) = base.strip_prefix("Date") {
                    let c = cmp(s).ok_or_else(unknown)?;
                    let v = values.iter().map(date).collect::<Result<_, _>>()?;
                    (Test::Date(c, v), s == "NotEquals")
                } else if base.starts_with("Binary") {
                    return Err(PolicyError::Unsupported(format!(
                        "The condition operator {op} is not evaluated by Cairn"
                    )));
                } else {
                    return Err(unknown());
                }
            }
        };
        Ok(Condition {
            key: parsed_key,
            test,
            negated,
            if_exists,
            set,
        })
    }

    /// Whether the condition holds for the request.
    pub fn holds(&self, cx: &Context<'_>) -> bool {
        let values = cx.values(&self.key);
        if let Test::Null(absent) = self.test {
            return values.is_none_or(|v| v.is_empty()) == absent;
        }
        let values = match values {
            Some(v) if !v.is_empty() => v,
            _ => {
                return match self.set {
                    SetOp::AllValues => true,
                    SetOp::AnyValue => false,
                    SetOp::Single => self.if_exists || self.negated,
                }
            }
        };
        let one = |v: &Val<'_>| self.matches(v) != self.negated;
        match self.set {
            SetOp::AnyValue => values.iter().any(one),
            SetOp::AllValues => values.iter().all(one),
            // A single-valued key has one value; should a multi-valued key be
            // tested without a set operator, every value must pass.
            SetOp::Single => values.iter().all(one),
        }
    }

    /// Whether request value `v` matches one of the policy's values.
    fn matches(&self, v: &Val<'_>) -> bool {
        match &self.test {
            Test::StrEq(want) => {
                let t = v.text();
                want.iter().any(|w| *w == t)
            }
            Test::StrEqIgnoreCase(want) => {
                let t = v.text();
                want.iter()
                    .any(|w| w.eq_ignore_ascii_case(&t) || w.to_lowercase() == t.to_lowercase())
            }
            Test::StrLike(globs) => {
                let t = v.text();
                globs.iter().any(|g| g.matches(&t))
            }
            Test::Num(cmp, want) => {
                let n = match v {
                    Val::Num(n) => *n,
                    other => match other.text().trim().parse::<f64>() {
                        Ok(n) => n,
                        Err(_) => return false,
                    },
                };
                want.iter().any(|w| compare(*cmp, n.partial_cmp(w)))
            }
            Test::Date(cmp, want) => {
                let ms = match v {
                    Val::Time(ms) => *ms,
                    Val::Num(n) => (*n * 1000.0) as i64,
                    other => match parse_date(&other.text()) {
                        Some(ms) => ms,
                        None => return false,
                    },
                };
                want.iter().any(|w| compare(*cmp, Some(ms.cmp(w))))
            }
            Test::Bool(want) => {
                let b = match v {
                    Val::Bool(b) => *b,
                    other => match other.text().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return false,
                    },
                };
                want.contains(&b)
            }
            Test::Ip(nets) => {
                let ip = match v {
                    Val::Ip(ip) => *ip,
                    other => match other.text().parse::<IpAddr>() {
                        Ok(ip) => canonical(ip),
                        Err(_) => return false,
                    },
                };
                nets.iter().any(|(net, len)| in_net(ip, *net, *len))
            }
            Test::Null(_) => false,
        }
    }

    /// Whether this condition pins the key to fixed values that do not open the
    /// bucket to everyone (AWS's "non-public" conditions): an IP range narrower
    /// than /8 (IPv4) or /32 (IPv6), or exact user names or ids.
    pub fn restricts_public(&self) -> bool {
        if self.negated || self.if_exists || self.set != SetOp::Single {
            return false;
        }
        match (&self.key, &self.test) {
            (Key::SourceIp, Test::Ip(nets)) => nets.iter().all(|(net, len)| match net {
                IpAddr::V4(_) => *len >= 8,
                IpAddr::V6(_) => *len >= 32,
            }),
            (Key::Username | Key::Userid, Test::StrEq(v)) => {
                v.iter().all(|s| !s.contains(['*', '?']))
            }
            _ => false,
        }
    }
}

fn globs(values: &[&str]) -> Vec<Glob> {
    values.iter().map(|v| Glob::new(v)).collect()
}

fn compare(cmp: Cmp, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    matches!(
        (cmp, ord),
        (Cmp::Eq, Some(Equal))
            | (Cmp::Lt, Some(Less))
            | (Cmp::Le, Some(Less | Equal))
            | (Cmp::Gt, Some(Greater))
            | (Cmp::Ge, Some(Greater | Equal))
    )
}

/// An ISO 8601 date-time (`2026-01-01T00:00:00Z`), a date (`2026-01-01`), or
/// epoch seconds, as epoch milliseconds.
fn parse_date(v: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    let t = time::OffsetDateTime::parse(v, &Rfc3339)
        .ok()
        .or_else(|| time::OffsetDateTime::parse(&format!("{v}T00:00:00Z"), &Rfc3339).ok())?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// `ADDR` or `ADDR/LEN`.
fn parse_cidr(v: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match v.trim().split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (v.trim(), None),
    };
    let ip = canonical(addr.parse::<IpAddr>().ok()?);
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_dates() {
        let (n, l) = parse_cidr("10.0.0.0/8").expect("cidr");
        assert!(in_net("10.9.8.7".parse().expect("ip"), n, l));
        assert!(!in_net("11.0.0.1".parse().expect("ip"), n, l));
        let (n, l) = parse_cidr("2001:db8::/32").expect("cidr");
        assert!(in_net("2001:db8::1".parse().expect("ip"), n, l));
        assert!(!in_net("2001:db9::1".parse().expect("ip"), n, l));
        let (n, l) = parse_cidr("0.0.0.0/0").expect("cidr");
        assert!(in_net("1.2.3.4".parse().expect("ip"), n, l));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("nonsense").is_none());
        assert_eq!(parse_date("1970-01-01T00:00:10Z"), Some(10_000));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("5"), Some(5000));
    }

    #[test]
    fn operators_parse() {
        for op in [
            "StringEquals",
            "StringNotLikeIfExists",
            "ForAnyValue:StringLike",
            "ForAllValues:StringEquals",
            "NumericLessThanEquals",
            "DateGreaterThan",
            "Bool",
            "ArnLike",
        ] {
            let v = if op.starts_with("Numeric") {
                "5"
            } else if op.starts_with("Date") {
                "2020-01-01T00:00:00Z"
            } else {
                "true"
            };
            assert!(Condition::parse(op, "aws:Referer", &[v]).is_ok(), "{op}");
        }
        assert!(matches!(
            Condition::parse("StringEqualz", "aws:Referer", &["x"]),
            Err(PolicyError::Malformed(_))
        ));
        assert!(matches!(
            Condition::parse("StringEquals", "aws:Nope", &["x"]),
            Err(PolicyError::Malformed(_))
        ));
        assert!(matches!(
            Condition::parse("IpAddress", "aws:SourceIp", &["1.2.3"]),
            Err(PolicyError::Malformed(_))
        ));
        assert!(matches!(
            Condition::parse("NumericLessThan", "s3:max-keys", &["x"]),
            Err(PolicyError::Malformed(_))
        ));
        assert!(matches!(
            Condition::parse("NumericBetween", "s3:max-keys", &["1"]),
            Err(PolicyError::Malformed(_))
        ));
    }
}
