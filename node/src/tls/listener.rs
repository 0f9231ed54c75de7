//! A listener whose connections are plain TCP or TLS, the one abstraction every
//! Cairn listener uses (the node's RPC server; the gateway's S3, admin and console
//! listeners). `accept` only takes the TCP connection (so a slow handshake never
//! holds up the accept loop); the connection's task then runs the `Handshake` over
//! the TCP stream or a wrapper of it (e.g. one with timeouts), getting a
//! `MaybeTls` stream that reads and writes either way.

use rustls::ServerConfig;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A bound TCP listener, with TLS when it has a server configuration.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Listener {
    /// Serves TLS with `tls`, or plain TCP when `None`.
    pub fn new(tcp: TcpListener, tls: Option<Arc<ServerConfig>>) -> Listener {
        Listener {
            tcp,
            tls: tls.map(TlsAcceptor::from),
        }
    }

    /// A plain TCP listener.
    pub fn plain(tcp: TcpListener) -> Listener {
        Listener::new(tcp, None)
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// "https" or "http", for the URLs printed at start.
    pub fn scheme(&self) -> &'static str {
        if self.is_tls() {
            "https"
        } else {
            "http"
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The next TCP connection (its TLS handshake, if any, still to run).
    pub async fn accept(&self) -> io::Result<Incoming> {
        let (tcp, peer) = self.tcp.accept().await?;
        Ok(Incoming {
            tcp,
            handshake: Handshake {
                tls: self.tls.clone(),
                peer,
            },
        })
    }
}

/// An accepted TCP connection and the handshake it still needs.
pub struct Incoming {
    pub tcp: TcpStream,
    pub handshake: Handshake,
}

impl Incoming {
    pub fn peer(&self) -> SocketAddr {
        self.handshake.peer
    }

    /// Runs the handshake over the TCP stream itself.
    pub async fn establish(self, timeout: Duration) -> io::Result<MaybeTls<TcpStream>> {
        self.handshake.run(self.tcp, timeout).await
    }
}

/// The TLS handshake (or nothing, on a plain listener) of one connection.
pub struct Handshake {
    tls: Option<TlsAcceptor>,
    peer: SocketAddr,
}

impl Handshake {
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Completes the handshake over `io` within `timeout` (a plain connection is
    /// ready at once).
    pub async fn run<IO>(self, io: IO, timeout: Duration) -> io::Result<MaybeTls<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let Some(acceptor) = self.tls else {
            return Ok(MaybeTls::Plain(io));
        };
        match tokio::time::timeout(timeout, acceptor.accept(io)).await {
            Ok(Ok(stream)) => Ok(MaybeTls::Tls(Box::new(stream))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake not completed in time",
            )),
        }
    }
}

/// What a failed server-side handshake means, for the log.
pub fn describe_handshake_error(error: &io::Error) -> String {
    use rustls::{CertificateError, Error as E};
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match inner {
        Some(E::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        )) => "its certificate is not signed by the cluster CA".to_string(),
        Some(E::InvalidCertificate(c)) => format!("its certificate is not acceptable: {c:?}"),
        Some(E::NoCertificatesPresented) => "it presented no certificate".to_string(),
        Some(E::AlertReceived(
            rustls::AlertDescription::UnknownCA | rustls::AlertDescription::BadCertificate,
        )) => "it does not trust this listener's certificate (not signed by the CA it trusts)"
            .to_string(),
        Some(E::InvalidMessage(_)) => {
            "it does not speak TLS (a plain-HTTP client on a TLS port?)".to_string()
        }
        Some(other) => other.to_string(),
        None => error.to_string(),
    }
}

/// A connection's stream: plain, or TLS over it.
pub enum MaybeTls<IO> {
    Plain(IO),
    Tls(Box<tokio_rustls::server::TlsStream<IO>>),
}

impl<IO> MaybeTls<IO> {
    /// Whether the peer showed a certificate the server's verifier accepted.
    pub fn peer_certified(&self) -> bool {
        match self {
            MaybeTls::Plain(_) => false,
            MaybeTls::Tls(s) => s
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty()),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_read(cx, buf),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write(cx, buf),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(io) => io.is_write_vectored(),
            MaybeTls::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_flush(cx),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_shutdown(cx),
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}
