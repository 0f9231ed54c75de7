//! `cairn server --tls-self-signed`: a certificate for a first try, made once
//! (rcgen, ECDSA P-256, ten years) into `DATA/tls/self-signed.crt` and `.key`
//! and reused on every later start. It names localhost, 127.0.0.1, ::1, the
//! machine's host name and the host of `--listen`; delete both files to make a
//! new one (e.g. after changing `--listen`).

use super::CertFiles;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SelfSignedError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What `ensure` found or made.
#[derive(Debug)]
pub struct SelfSigned {
    pub files: CertFiles,
    /// The names it was made for, when it was made now (`None`: reused).
    pub made_for: Option<Vec<String>>,
}

/// The self-signed certificate of `data_dir`, made now for `listen` if missing.
pub fn ensure(data_dir: &Path, listen: &str) -> Result<SelfSigned, SelfSignedError> {
    let dir = data_dir.join("tls");
    let files = CertFiles {
        cert: dir.join("self-signed.crt"),
        key: dir.join("self-signed.key"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(SelfSigned {
            files,
            made_for: None,
        });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SelfSignedError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let names = names(listen);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.clone())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("Cairn self-signed ({})", names[0]),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    valid_for_days(&mut params, 3650);
    let cert = params.self_signed(&key)?;
    super::write_private(&files.key, &key.serialize_pem()).map_err(io(&files.key))?;
    std::fs::write(&files.cert, cert.pem()).map_err(io(&files.cert))?;
    Ok(SelfSigned {
        files,
        made_for: Some(names),
    })
}

/// From yesterday (clocks differ) for `days`.
pub(crate) fn valid_for_days(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
}

/// The subject alternative names: the machine's name first when it has one.
fn names(listen: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let listen_host = host_of(listen);
    let candidates = [
        Some(hostname),
        Some("localhost".to_string()),
        Some("127.0.0.1".to_string()),
        Some("::1".to_string()),
        listen_host,
    ];
    for name in candidates.into_iter().flatten() {
        let unspecified = name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
        if !name.is_empty() && !unspecified && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The host of HOST:PORT (`[::1]:9000` → `::1`).
pub(crate) fn host_of(addr: &str) -> Option<String> {
    let (host, _port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_and_listen_host() {
        let n = names("192.0.2.7:9443");
        for want in ["localhost", "127.0.0.1", "::1", "192.0.2.7"] {
            assert!(n.iter().any(|x| x == want), "{want} missing from {n:?}");
        }
        assert!(!names("0.0.0.0:9000").iter().any(|x| x == "0.0.0.0"));
        assert_eq!(host_of("[::1]:9000").as_deref(), Some("::1"));
    }
}
