//! A TLS client configuration that trusts exactly one certificate: the one this
//! process's own listener serves now (after any SIGHUP reload). The console
//! forwards `/s3/...` to the S3 listener of the same process with it, so no CA is
//! needed and nothing else is trusted: the peer must show the very certificate
//! `Reloader` holds, and prove it owns the key.

use super::reload::Reloader;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};
use std::sync::Arc;

/// Accepts the leaf certificate `certs` serves at the time of the handshake.
#[derive(Debug)]
struct ServedCertificate {
    certs: Arc<Reloader>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.certs.leaf() {
            Some(served) if served.as_ref() == end_entity.as_ref() => {
                Ok(ServerCertVerified::assertion())
            }
            _ => Err(Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration trusting only what `certs` serves.
pub fn client_config(certs: Arc<Reloader>) -> Result<Arc<ClientConfig>, Error> {
    let provider = cairn_node::tls::provider();
    let verifier = Arc::new(ServedCertificate {
        certs,
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
