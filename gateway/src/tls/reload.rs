//! The HTTPS certificate, swapped without a restart: `Reloader` answers every
//! handshake with the certificate loaded last, and `watch_sighup` reloads its
//! files on SIGHUP. A new file that fails to load (unreadable, not PEM, key not
//! matching) keeps the previous certificate and logs why.

use super::{fingerprint, CertFiles, TlsError};
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::{Arc, RwLock};

/// The certificate served now and the files it came from.
pub struct Reloader {
    files: CertFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reloader({})", self.files.cert.display())
    }
}

impl Reloader {
    pub fn load(files: CertFiles) -> Result<Arc<Reloader>, TlsError> {
        let current = cairn_node::tls::load_certified_key(&files.cert, &files.key)?;
        Ok(Arc::new(Reloader {
            files,
            current: RwLock::new(current),
        }))
    }

    pub fn files(&self) -> &CertFiles {
        &self.files
    }

    fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }

    /// The leaf certificate served now.
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.current().and_then(|c| c.cert.first().cloned())
    }

    /// The SHA-256 fingerprint of the leaf certificate served now.
    pub fn fingerprint(&self) -> String {
        self.leaf().map(|der| fingerprint(&der)).unwrap_or_default()
    }

    /// Reads the files again (off the runtime); on success serves the new
    /// certificate to every later handshake.
    pub async fn reload(self: &Arc<Self>) -> Result<(), TlsError> {
        let files = self.files.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            cairn_node::tls::load_certified_key(&files.cert, &files.key)
        })
        .await
        .map_err(|e| TlsError::Config(format!("reload task: {e}")))??;
        if let Ok(mut current) = self.current.write() {
            *current = loaded;
        }
        Ok(())
    }
}

impl ResolvesServerCert for Reloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// Reloads `certs` on every SIGHUP, for the life of the process.
pub fn watch_sighup(certs: Arc<Reloader>) {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered now, so a SIGHUP right after the start is not fatal.
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(error) => {
            tracing::warn!(%error, "cannot watch for SIGHUP: the TLS certificate will not be reloaded");
            return;
        }
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let cert = certs.files.cert.display().to_string();
            match certs.reload().await {
                Ok(()) => tracing::info!(
                    %cert,
                    fingerprint = %certs.fingerprint(),
                    "SIGHUP: TLS certificate reloaded"
                ),
                Err(error) => tracing::error!(
                    %cert,
                    fingerprint = %certs.fingerprint(),
                    "SIGHUP: TLS certificate not reloaded, still serving the previous one: {error}"
                ),
            }
        }
    });
}
