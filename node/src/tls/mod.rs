//! TLS for every Cairn listener and for the internal RPC (rustls 0.23 with the
//! aws-lc-rs provider, chosen here once): reading PEM certificates and keys,
//! `listener` (a TCP listener whose connections are plain or TLS, shared by the
//! node's RPC server and the gateway's S3, admin and console listeners) and
//! `cluster` (the mutual-TLS configurations of a cluster: every process shows a
//! certificate signed by the cluster CA and checks its peer's).

pub mod cluster;
pub mod listener;

pub use listener::{Handshake, Incoming, Listener, MaybeTls};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a certificate, key or TLS configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no PEM certificate in the file (expected \"-----BEGIN CERTIFICATE-----\")", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: no PEM private key in the file (expected \"-----BEGIN PRIVATE KEY-----\", PKCS#8, RSA or EC)", .0.display())]
    NoKey(PathBuf),
    #[error("{}: not valid PEM: {msg}", path.display())]
    Pem { path: PathBuf, msg: String },
    #[error("the certificate in {} does not go with the key in {}: {msg}", cert.display(), key.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        msg: String,
    },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The crypto provider of every TLS configuration Cairn builds.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The bytes of `path`, or `TlsError::Read` naming it.
pub fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate of a PEM file (a chain: the leaf first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

/// The private key of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey(path.to_path_buf()),
        other => TlsError::Pem {
            path: path.to_path_buf(),
            msg: other.to_string(),
        },
    })
}

/// A certificate chain and its key, checked to belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = load_certs(cert)?;
    let der = load_key(key)?;
    CertifiedKey::from_der(chain, der, &provider())
        .map(Arc::new)
        .map_err(|e| TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            msg: e.to_string(),
        })
}

/// The rustls error inside an error chain (reqwest → hyper → io → rustls), if any.
pub fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // `io::Error::source` skips the error it wraps: look inside it.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(inner);
        }
        next = e.source();
    }
    None
}
