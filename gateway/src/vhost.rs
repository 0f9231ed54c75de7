//! Virtual-hosted-style addressing: `BUCKET.DOMAIN[:port]` names the bucket; any
//! other host (an IP, `localhost`, the bare domain) is path-style. Unlike s3s's
//! `SingleDomain`, the port clients send in `Host` is ignored.

use s3s::host::{S3Host, VirtualHost};
use s3s::S3Result;

#[derive(Debug)]
pub struct DomainHost {
    domain: String,
}

impl DomainHost {
    pub fn new(domain: &str) -> Self {
        DomainHost {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
        }
    }
}

/// `host` without a trailing `:port`.
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

impl S3Host for DomainHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host);
        let bucket = name
            .strip_suffix(self.domain.as_str())
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|b| !b.is_empty());
        Ok(match bucket {
            Some(bucket) => VirtualHost::new(self.domain.as_str()).with_bucket(bucket),
            None => VirtualHost::new(name),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bucket_from_host_with_or_without_port() {
        let h = DomainHost::new("s3.example.com");
        assert_eq!(
            h.parse_host_header("photos.s3.example.com:9000")
                .unwrap()
                .bucket(),
            Some("photos")
        );
        assert_eq!(
            h.parse_host_header("photos.s3.example.com")
                .unwrap()
                .bucket(),
            Some("photos")
        );
        assert_eq!(
            h.parse_host_header("s3.example.com:9000").unwrap().bucket(),
            None
        );
        assert_eq!(
            h.parse_host_header("localhost:9000").unwrap().bucket(),
            None
        );
    }
}
