//! The API's TLS identity: the hub's own self-signed certificate, created on
//! first start and kept in the state directory, or one the admin configured.
//!
//! Apps cannot verify a self-signed certificate by a CA; they pin its SHA-256
//! fingerprint instead, which the hub announces by mDNS (TXT `fp`) and shows
//! in `hearth status`. So the certificate must stay the same across restarts: it is never
//! replaced once made (only a missing pair is created), and a configured one is never written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::config::ApiConfig;
use crate::state_dir::{create_private_dir, write_atomic};

/// Where the hub's own certificate lives, relative to the state directory.
pub const CERT_FILE: &str = "tls/cert.pem";
pub const KEY_FILE: &str = "tls/key.pem";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("cannot create the hub certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server configuration and the fingerprint apps pin.
pub struct TlsIdentity {
    pub server_config: Arc<rustls::ServerConfig>,
    /// Lower-case hex SHA-256 of the leaf certificate's DER.
    pub fingerprint: String,
}

/// Loads the configured certificate, else the hub's own (creating it once).
///
/// # Errors
/// [`TlsError`] naming the file that could not be read or written.
pub fn load_or_create(
    config: &ApiConfig,
    state_dir: &Path,
    hostname: &str,
) -> Result<TlsIdentity, TlsError> {
    let (cert_path, key_path) = match (&config.tls_cert_file, &config.tls_key_file) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => {
            let cert = state_dir.join(CERT_FILE);
            let key = state_dir.join(KEY_FILE);
            if !cert.is_file() || !key.is_file() {
                create(&cert, &key, hostname)?;
            }
            (cert, key)
        }
    };
    let file_err = |path: &Path| {
        let path = path.to_owned();
        move |e: rustls::pki_types::pem::Error| TlsError::File {
            path,
            reason: e.to_string(),
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(file_err(&cert_path))?
        .collect::<Result<_, _>>()
        .map_err(file_err(&cert_path))?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::File {
            path: cert_path,
            reason: "no certificate in it".into(),
        });
    };
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(file_err(&key_path))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsIdentity {
        server_config: Arc::new(server_config),
        fingerprint,
    })
}

/// SHA-256 of a certificate's DER, lower-case hex: what apps pin.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

fn create(cert_path: &Path, key_path: &Path, hostname: &str) -> Result<(), TlsError> {
    let names = vec![hostname.to_owned(), "localhost".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let write = |path: &Path, data: &str, mode| {
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(|e| TlsError::File {
                path: dir.to_owned(),
                reason: e.to_string(),
            })?;
        }
        write_atomic(path, data.as_bytes(), mode).map_err(|e| TlsError::File {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    };
    // Key first: a crash between the two leaves no certificate, so the pair
    // is made again rather than a certificate without its key.
    write(key_path, &certified.signing_key.serialize_pem(), 0o600)?;
    write(cert_path, &certified.cert.pem(), 0o644)?;
    tracing::info!(cert = %cert_path.display(), "created the hub's TLS certificate");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_is_created_once_and_keeps_its_fingerprint() {
        let tmp = tempfile::tempdir().unwrap();
        let config = ApiConfig::default();
        let first = load_or_create(&config, tmp.path(), "hearth-abc.local").unwrap();
        let again = load_or_create(&config, tmp.path(), "hearth-abc.local").unwrap();
        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(first.fingerprint.len(), 64);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the private key is readable by its owner only"
        );
    }

    #[test]
    fn configured_files_are_used_and_bad_ones_named() {
        let tmp = tempfile::tempdir().unwrap();
        let own = load_or_create(&ApiConfig::default(), tmp.path(), "h.local").unwrap();
        let config = ApiConfig {
            tls_cert_file: Some(tmp.path().join(CERT_FILE)),
            tls_key_file: Some(tmp.path().join(KEY_FILE)),
            ..ApiConfig::default()
        };
        let other = tempfile::tempdir().unwrap();
        let used = load_or_create(&config, other.path(), "h.local").unwrap();
        assert_eq!(used.fingerprint, own.fingerprint);
        assert!(!other.path().join(CERT_FILE).exists());

        let junk = tmp.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let bad = ApiConfig {
            tls_cert_file: Some(junk.clone()),
            ..config
        };
        let err = load_or_create(&bad, other.path(), "h.local")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("junk.pem"), "{err}");
    }
}
