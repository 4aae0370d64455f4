//! Certificate pinning: the client was told one SHA-256 fingerprint (mDNS
//! `fp`, `hearth status`) and accepts a server certificate only when it is
//! that certificate (a configured one, or a hub from before hub authorities)
//! or was issued by that certificate, sent with it in the chain: the hub's
//! own authority, so a pin survives every reissue of the serving
//! certificate. The handshake's signatures are checked with the server
//! certificate either way. It never falls back to a CA store or a hostname
//! check (a hub is reached by whatever address it has; the pin is its
//! identity), and never trusts a certificate on first use: a fingerprint
//! that differs fails the handshake.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What the verifier says when the certificate is not the pinned one.
const PIN_MISMATCH: &str = "the hub's certificate does not have the expected fingerprint";

/// Did a TLS handshake fail because the certificate was not the pinned one
/// (rather than the connection being cut, say)?
pub fn is_pin_mismatch(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::General(m) if m == PIN_MISMATCH))
}
use sha2::{Digest, Sha256};

#[derive(Debug)]
struct Pinned {
    fingerprint: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// A client configuration that trusts only the certificate `fingerprint`.
pub fn config(fingerprint: &str) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            fingerprint: fingerprint.to_ascii_lowercase().replace(':', ""),
            provider,
        }))
        .with_no_client_auth()
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned = |cert: &CertificateDer<'_>| {
            hex::encode(Sha256::digest(cert.as_ref())) == self.fingerprint
        };
        if pinned(end_entity) {
            return Ok(ServerCertVerified::assertion());
        }
        let Some(authority) = intermediates.iter().find(|c| pinned(c)) else {
            return Err(rustls::Error::General(PIN_MISMATCH.into()));
        };
        // Issued by the pinned authority, valid now, for serving (its name
        // constraints apply); the authority as the only trust anchor.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(authority.clone().into_owned())?;
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots,
            &[],
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
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
