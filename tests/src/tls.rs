//! TLS for tests: a test CA (rcgen) that issues server and client certificates,
//! clients that trust it (aws-sdk-s3, reqwest, with or without a client
//! certificate), the fingerprint of the certificate a listener serves, a `cairn
//! server` over HTTPS ([`TlsServer`]) and a recording TCP relay ([`Relay`]) to
//! look at what crosses the wire.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_smithy_http_client::tls;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use sha2::Digest;

use crate::process::{wait_health_with, Proc};
use crate::{
    cairn_bin, free_port, s3_config_builder, server_command, ACCESS_KEY, ADMIN_TOKEN, SECRET_KEY,
};

/// A certificate authority of a test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
}

/// A certificate and key written to files.
#[derive(Clone, Debug)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    /// Certificate and key in one PEM (for `reqwest::Identity`).
    pub fn identity_pem(&self) -> Vec<u8> {
        let mut pem = std::fs::read(&self.cert).expect("read cert");
        pem.extend(std::fs::read(&self.key).expect("read key"));
        pem
    }

    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(&self.cert).expect("read cert")
    }
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("test CA {name}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("CA cert");
        TestCa {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
        }
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.cert_pem).expect("write CA cert");
    }

    /// Issues a certificate for `names` into `dir/NAME.crt` and `.key`.
    pub fn issue(&self, dir: &Path, file: &str, names: &[&str]) -> Pair {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("test {file}"));
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let pair = Pair {
            cert: dir.join(format!("{file}.crt")),
            key: dir.join(format!("{file}.key")),
        };
        std::fs::write(&pair.cert, cert.pem()).expect("write cert");
        std::fs::write(&pair.key, key.serialize_pem()).expect("write key");
        pair
    }
}

/// SHA-256 of a DER certificate, colon-separated upper-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    let hex: Vec<String> = sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    hex.join(":")
}

/// A path-style S3 client of `endpoint` (https) trusting only `ca_pem`.
pub fn s3_client(endpoint: &str, ca_pem: &str) -> Client {
    let trust = tls::TrustStore::empty().with_pem_certificate(ca_pem.as_bytes());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .expect("tls context"),
        )
        .build_https();
    let conf = s3_config_builder(endpoint, ACCESS_KEY, SECRET_KEY)
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

/// A reqwest client trusting only `ca_pem`, showing `identity` if given.
pub fn https_client(ca_pem: &str, identity: Option<&Pair>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA pem");
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([ca]);
    if let Some(pair) = identity {
        b = b.identity(reqwest::Identity::from_pem(&pair.identity_pem()).expect("identity"));
    }
    b.build().expect("reqwest client")
}

/// The fingerprint of the certificate `addr` serves to a new connection
/// (accepting any certificate, as a client that pins fingerprints does).
pub async fn served_fingerprint(addr: SocketAddr) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .tls_danger_accept_invalid_certs(true)
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = http
        .get(format!("https://{addr}/health"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let info = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .ok_or("no TLS info")?;
    Ok(fingerprint(
        info.peer_certificate().ok_or("no certificate")?,
    ))
}

/// `cairn server` with HTTPS (its `args` choose the certificate).
pub struct TlsServer {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub dir: PathBuf,
    proc: Proc,
    _root: tempfile::TempDir,
}

impl TlsServer {
    /// A fresh data directory; nothing started.
    pub fn new() -> TlsServer {
        let root = tempfile::Builder::new()
            .prefix("cairn-tls-")
            .tempdir()
            .expect("temp dir");
        let local = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        TlsServer {
            addr: local(free_port()),
            admin_addr: local(free_port()),
            data_dir: root.path().join("data"),
            dir: root.path().to_path_buf(),
            proc: Proc::new("cairn server", root.path().join("server.log")),
            _root: root,
        }
    }

    /// Starts `cairn server ARGS` and waits for `https://ADDR/health`.
    pub async fn start(&mut self, args: &[&str]) {
        let mut cmd = server_command(self.addr, &self.data_dir);
        cmd.arg("--admin-listen")
            .arg(self.admin_addr.to_string())
            .args(args)
            .env("CAIRN_ACCESS_KEY", ACCESS_KEY)
            .env("CAIRN_SECRET_KEY", SECRET_KEY)
            .env("CAIRN_ADMIN_TOKEN", ADMIN_TOKEN);
        self.proc.spawn(cmd, &format!("{args:?}"));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .tls_danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        let url = format!("https://{}/health", self.addr);
        if let Err(e) =
            wait_health_with(&url, &http, Duration::from_secs(30), &mut [&mut self.proc]).await
        {
            panic!("{e}\n{}", self.log());
        }
    }

    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid().expect("running")
    }

    pub fn is_running(&mut self) -> bool {
        self.proc.exited().is_none() && self.proc.is_running()
    }

    pub fn stop(&mut self) {
        self.proc.stop();
    }

    pub fn log(&self) -> String {
        self.proc.log_tail(256 * 1024)
    }
}

impl Default for TlsServer {
    fn default() -> Self {
        Self::new()
    }
}

/// A TCP relay on loopback that forwards every connection to `target` and
/// records the bytes of both directions.
pub struct Relay {
    pub addr: SocketAddr,
    recorded: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens on `addr`, forwarding to `target` (connected when a client comes).
    pub async fn start(addr: SocketAddr, target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("relay bind");
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let rec = recorded.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rec = rec.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, rec.clone()), pump(sr, cw, rec));
                });
            }
        });
        Relay {
            addr,
            recorded,
            task,
        }
    }

    /// Every byte relayed so far, both directions.
    pub fn recorded(&self) -> Vec<u8> {
        self.recorded.lock().expect("relay lock").clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    rec: Arc<Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Ok(mut r) = rec.lock() {
            r.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `cairn cluster certs --config CONFIG --out DIR` (panics on failure).
pub fn cluster_certs(config: &Path, dir: &Path) {
    let out = Command::new(cairn_bin())
        .args(["cluster", "certs", "--config"])
        .arg(config)
        .arg("--out")
        .arg(dir)
        .output()
        .expect("run cairn cluster certs");
    assert!(
        out.status.success(),
        "cairn cluster certs: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client of nodes' `/health` and `/metrics`: plain, or trusting the cluster
/// CA `ca` (no client certificate: those pages need none).
pub fn node_client(ca: Option<&Path>) -> reqwest::Client {
    let b = reqwest::Client::builder().timeout(Duration::from_secs(3));
    let b = match ca {
        Some(ca) => {
            let pem = std::fs::read(ca).expect("read cluster CA");
            b.tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("CA pem")])
        }
        None => b,
    };
    b.build().expect("reqwest client")
}
