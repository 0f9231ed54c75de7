//! HTTPS for the gateway's listeners (S3 endpoint, admin API, console): the
//! `--tls-cert` / `--tls-key` options, the server configuration every listener
//! shares (`Https`, its certificate swapped on SIGHUP by `reload`), the
//! certificate `cairn server --tls-self-signed` makes (`self_signed`), the client
//! side of a request to this process's own listener (`pinned`), `cairn
//! cluster certs` (`cluster_certs`), and `for_axum`, which lets `axum::serve` run
//! on a plain-or-TLS [`Listener`]. A listener is `Listener::new(tcp,
//! https.map(Https::config))`.

pub mod cluster_certs;
pub mod pinned;
pub mod reload;
pub mod self_signed;

pub use cairn_node::tls::{Incoming, Listener, MaybeTls, TlsError};

use rustls::ServerConfig;
use sha2::Digest;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// `--tls-cert` / `--tls-key`: the S3 endpoint (and admin API) serve HTTPS.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TlsArgs {
    /// PEM certificate (chain, leaf first) the S3 endpoint and admin API serve
    /// HTTPS with; reloaded on SIGHUP. Needs --tls-key.
    #[arg(long, env = "CAIRN_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (PKCS#8, RSA or EC).
    #[arg(long, env = "CAIRN_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    pub fn files(&self) -> Option<CertFiles> {
        Some(CertFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }
}

/// Where `cairn server`'s HTTPS certificate comes from.
#[derive(Clone, Debug)]
pub enum TlsSource {
    Files(CertFiles),
    /// Made once into the data directory (`self_signed`).
    SelfSigned,
}

impl TlsSource {
    /// The files to serve (the self-signed ones made now if missing, off the
    /// runtime, saying so).
    pub async fn files(self, data_dir: &Path, listen: &str) -> Result<CertFiles, TlsError> {
        match self {
            TlsSource::Files(files) => return Ok(files),
            TlsSource::SelfSigned => {}
        }
        let (dir, listen) = (data_dir.to_path_buf(), listen.to_string());
        let made = tokio::task::spawn_blocking(move || self_signed::ensure(&dir, &listen))
            .await
            .map_err(|e| TlsError::Config(e.to_string()))?
            .map_err(|e| TlsError::Config(e.to_string()))?;
        if let Some(names) = &made.made_for {
            println!(
                "Made a self-signed TLS certificate for {} in {}",
                names.join(", "),
                made.files.cert.display()
            );
        }
        Ok(made.files)
    }
}

/// A certificate file and its key file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The HTTPS of a gateway's listeners: one server configuration whose
/// certificate is reloaded from its files on SIGHUP.
#[derive(Clone)]
pub struct Https {
    config: Arc<ServerConfig>,
    certs: Arc<reload::Reloader>,
}

impl std::fmt::Debug for Https {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Https({})", self.certs.files().cert.display())
    }
}

impl Https {
    /// Loads `files` (a bad file fails the start) and starts watching for SIGHUP.
    pub fn start(files: &CertFiles) -> Result<Https, TlsError> {
        let certs = reload::Reloader::load(files.clone())?;
        let mut config = ServerConfig::builder_with_provider(cairn_node::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        // HTTP/1.1 only: the connection handling (drains, `Connection: close`) is
        // HTTP/1's, as for plain clients.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        reload::watch_sighup(certs.clone());
        Ok(Https {
            config: Arc::new(config),
            certs,
        })
    }

    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// A client configuration that trusts exactly the certificate served now
    /// (for this process's requests to its own listener, `pinned`).
    pub fn client_of_self(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        pinned::client_config(self.certs.clone()).map_err(|e| TlsError::Config(e.to_string()))
    }

    /// The SHA-256 fingerprint of the certificate served now.
    pub fn fingerprint(&self) -> String {
        self.certs.fingerprint()
    }

    pub fn files(&self) -> &CertFiles {
        self.certs.files()
    }

    /// Prints the certificate's file and fingerprint (under the start banner).
    pub fn announce(&self) {
        println!(
            "  TLS certificate {} (SHA-256 fingerprint {}; reloaded on SIGHUP)",
            self.files().cert.display(),
            self.fingerprint()
        );
    }
}

/// An HTTP client builder for Cairn's own commands (`cairn key`, `cairn bucket`,
/// `cairn healthcheck`): trusting only the CA (or self-signed certificate) in
/// the PEM file `ca` when given (`--ca-cert`), else the system's roots.
pub fn client_trusting(ca: Option<&Path>) -> Result<reqwest::ClientBuilder, TlsError> {
    let builder = reqwest::Client::builder();
    let Some(path) = ca else {
        return Ok(builder);
    };
    let pem = cairn_node::tls::read(path)?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(builder.tls_certs_only(certs))
}

/// `tcp` serving `https` (plain HTTP when `None`).
pub fn listener(https: Option<&Https>, tcp: tokio::net::TcpListener) -> Listener {
    Listener::new(tcp, https.map(Https::config))
}

/// SHA-256 of a DER certificate as colon-separated upper-case hex pairs (as
/// Proxmox Backup Server and `openssl x509 -fingerprint -sha256` show it).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = sha2::Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// Writes a private key readable by its owner only (mode 0600).
pub(crate) fn write_private(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()
}

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `handshake` over `io` (the header timeout bounds it); a failure is
/// logged at debug level (clients that hang up or distrust the certificate).
pub async fn establish<IO>(
    handshake: cairn_node::tls::Handshake,
    io: IO,
    timeout: Duration,
) -> Option<MaybeTls<IO>>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let peer = handshake.peer();
    match handshake.run(io, timeout).await {
        Ok(io) => Some(io),
        Err(error) => {
            let why = cairn_node::tls::listener::describe_handshake_error(&error);
            tracing::debug!(%peer, "TLS handshake failed: {why}");
            None
        }
    }
}

/// An `axum::serve` listener over `listener`: handshakes run in their own tasks
/// (at most 256 at once), finished connections are handed over in order.
pub struct ForAxum {
    ready: tokio::sync::mpsc::Receiver<(MaybeTls<TcpStream>, SocketAddr)>,
    local: std::io::Result<SocketAddr>,
}

/// Serves `listener` to `axum::serve` (admin API, console).
pub fn for_axum(listener: Listener) -> ForAxum {
    let local = listener.local_addr();
    let (tx, ready) = tokio::sync::mpsc::channel(64);
    let handshakes = Arc::new(tokio::sync::Semaphore::new(256));
    tokio::spawn(async move {
        loop {
            let incoming = match listener.accept().await {
                Ok(i) => i,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = incoming.tcp.set_nodelay(true);
            let Ok(turn) = handshakes.clone().try_acquire_owned() else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let peer = incoming.peer();
                if let Some(stream) =
                    establish(incoming.handshake, incoming.tcp, HANDSHAKE_TIMEOUT).await
                {
                    let _ = tx.send((stream, peer)).await;
                }
                drop(turn);
            });
        }
    });
    ForAxum { ready, local }
}

impl axum::serve::Listener for ForAxum {
    type Io = MaybeTls<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}
