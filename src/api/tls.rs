//! The API's TLS identity: a serving certificate issued by the hub's own
//! certificate authority ([`authority`]), or one the admin configured.
//!
//! Browsers trust the hub once its authority is trusted; apps and other
//! hubs pin the authority's SHA-256 fingerprint, which the hub announces by
//! mDNS (TXT `fp`) and shows in `hearth status` and the app's trust page. The
//! authority never changes once made, so a pin survives every reissue of
//! the serving certificate (new addresses, nearing its end); with a
//! configured certificate the pin is that certificate's own fingerprint. A
//! configured certificate is never written. Devices (Blynk TLS) are served
//! a self-signed certificate of the hub's that never changes
//! ([`DEVICE_CERT_FILE`]), which firmware carries as its CA.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::ApiConfig;

pub mod authority;

use authority::{Authority, Issued, Names};

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
    /// Lower-case hex SHA-256 of what clients pin: the hub authority's
    /// certificate, or a configured leaf certificate.
    pub fingerprint: String,
    /// The hub's own authority and what it serves (`None` with a configured
    /// certificate).
    pub serving: Option<Arc<Serving>>,
    /// What the device listener (Blynk TLS) presents: with the hub's
    /// authority, the hub's self-signed device certificate
    /// ([`DEVICE_CERT_FILE`]), which never changes, has no name constraints
    /// (embedded TLS stacks such as mbedTLS refuse a chain with them) and
    /// is what firmware is given as its CA; else the configured one.
    pub devices: Arc<rustls::ServerConfig>,
    /// What firmware is given as its CA for the device port: the device
    /// certificate's PEM (or the configured chain's).
    pub device_ca_pem: Arc<str>,
}

/// The device listener's self-signed certificate and key, relative to the
/// state directory (also the hub's whole identity before hub authorities).
pub const DEVICE_CERT_FILE: &str = "tls/cert.pem";
pub const DEVICE_KEY_FILE: &str = "tls/key.pem";

/// Loads the configured certificate, else serves one issued by the hub's
/// authority (made once) for `hostname` and this machine's addresses now.
///
/// # Errors
/// [`TlsError`] naming the file that could not be read or written.
pub fn load_or_create(
    config: &ApiConfig,
    state_dir: &Path,
    hostname: &str,
    clock: &Clock,
) -> Result<TlsIdentity, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth();
    let (mut server_config, fingerprint, serving, devices, device_cert) =
        match (&config.tls_cert_file, &config.tls_key_file) {
            (Some(cert), Some(key)) => {
                let device_cert = cert.clone();
                let (chain, key) = configured(cert, key)?;
                let fingerprint = fingerprint(&chain[0]);
                let config = Arc::new(builder.clone().with_single_cert(chain, key)?);
                ((*config).clone(), fingerprint, None, config, device_cert)
            }
            _ => {
                let (cert, key) = (
                    state_dir.join(DEVICE_CERT_FILE),
                    state_dir.join(DEVICE_KEY_FILE),
                );
                if !cert.is_file() || !key.is_file() {
                    create_device_pair(&cert, &key, hostname)?;
                }
                let (chain, key) = configured(&cert, &key)?;
                let device_cert = cert.clone();
                let devices = Arc::new(builder.clone().with_single_cert(chain, key)?);
                let authority = Authority::load_or_create(state_dir)?;
                let serving = Arc::new(Serving::new(
                    authority,
                    hostname.to_owned(),
                    clock.clone(),
                    provider,
                )?);
                let fingerprint = serving.authority.fingerprint();
                let config = builder.with_cert_resolver(serving.clone());
                (config, fingerprint, Some(serving), devices, device_cert)
            }
        };
    let device_ca_pem = std::fs::read_to_string(&device_cert).map_err(|e| TlsError::File {
        path: device_cert.clone(),
        reason: e.to_string(),
    })?;
    let device_ca_pem = topmost_certificate(&device_ca_pem);
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsIdentity {
        server_config: Arc::new(server_config),
        fingerprint,
        serving,
        devices,
        device_ca_pem: device_ca_pem.into(),
    })
}

/// The device listener's self-signed pair, made once (kept across restarts
/// and upgrades: firmware carries it as its CA).
fn create_device_pair(cert_path: &Path, key_path: &Path, hostname: &str) -> Result<(), TlsError> {
    let names = vec![hostname.to_owned(), "localhost".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    // Key first: a crash between the two leaves no certificate, so the pair
    // is made again rather than a certificate without its key.
    authority::write_private(key_path, &certified.signing_key.serialize_pem(), 0o600)?;
    authority::write_private(cert_path, &certified.cert.pem(), 0o644)?;
    tracing::info!(cert = %cert_path.display(), "created the hub's device certificate");
    Ok(())
}

/// A configured chain (at least one certificate) and its key.
fn configured(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let file_err = |path: &Path| {
        let path = path.to_owned();
        move |e: rustls::pki_types::pem::Error| TlsError::File {
            path,
            reason: e.to_string(),
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(file_err(cert_path))?
        .collect::<Result<_, _>>()
        .map_err(file_err(cert_path))?;
    if chain.is_empty() {
        return Err(TlsError::File {
            path: cert_path.to_owned(),
            reason: "no certificate in it".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(file_err(key_path))?;
    Ok((chain, key))
}

/// What firmware is given as its CA: the last certificate of a chain file
/// (the issuer nearest the root that the file holds; a self-signed
/// certificate is its own), not the leaf a configured chain starts with.
fn topmost_certificate(pem: &str) -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    match pem.rfind(BEGIN) {
        Some(at) => {
            let block = &pem[at..];
            let end = block
                .find("-----END CERTIFICATE-----")
                .map_or(block.len(), |e| e + "-----END CERTIFICATE-----".len());
            format!("{}\n", &block[..end])
        }
        None => pem.to_owned(),
    }
}

/// SHA-256 of a certificate's DER, lower-case hex: what apps pin.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

/// The hub's authority and the serving certificate it issued, which the
/// API's listener presents, with the authority after it (devices get
/// [`TlsIdentity::devices`]); [`Serving::renew`] swaps in a new one without
/// a restart.
pub struct Serving {
    authority: Authority,
    hostname: String,
    clock: Clock,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: RwLock<Current>,
}

struct Current {
    certified: Arc<CertifiedKey>,
    names: Names,
    not_after_ms: i64,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl Serving {
    fn new(
        authority: Authority,
        hostname: String,
        clock: Clock,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let names = Names::wanted(&hostname, authority::local_addresses());
        let issued = authority.issue(&names, clock.now_ms())?;
        let current = RwLock::new(certified(&authority, &provider, issued)?);
        Ok(Serving {
            authority,
            hostname,
            clock,
            provider,
            current,
        })
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// What the serving certificate is for, and when it ends (Unix ms).
    pub fn serving(&self) -> (Names, i64) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        (current.names.clone(), current.not_after_ms)
    }

    /// Issues a new serving certificate when the names wanted for
    /// `addresses` differ from those served, or the one served has less than
    /// [`authority::RENEW_BEFORE_DAYS`] left; true when it did.
    ///
    /// # Errors
    /// [`TlsError`] when the new certificate cannot be made (the old one is
    /// kept).
    pub fn renew(
        &self,
        addresses: impl IntoIterator<Item = std::net::IpAddr>,
    ) -> Result<bool, TlsError> {
        let names = Names::wanted(&self.hostname, addresses);
        let now = self.clock.now_ms();
        let (served, not_after_ms) = self.serving();
        let ending = not_after_ms - now < authority::RENEW_BEFORE_DAYS * 86_400_000;
        if served == names && !ending {
            return Ok(false);
        }
        let issued = self.authority.issue(&names, now)?;
        let fresh = certified(&self.authority, &self.provider, issued)?;
        tracing::info!(names = ?fresh.names.listed(), "tls: issued a new serving certificate");
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(true)
    }
}

/// How often the machine's addresses are looked at.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Until `shutdown`: every minute, a new serving certificate when this
/// machine's addresses changed or the one served nears its end.
pub async fn keep_renewed(serving: Arc<Serving>, shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = serving.renew(authority::local_addresses()) {
            tracing::error!(
                "tls: cannot issue a new serving certificate (the old one is kept): {e}"
            );
        }
    }
}

fn certified(
    authority: &Authority,
    provider: &rustls::crypto::CryptoProvider,
    issued: Issued,
) -> Result<Current, TlsError> {
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(issued.key))?;
    Ok(Current {
        certified: Arc::new(CertifiedKey::new(
            vec![issued.cert, authority.der().clone()],
            key,
        )),
        names: issued.names,
        not_after_ms: issued.not_after_ms,
    })
}

impl ResolvesServerCert for Serving {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .certified
                .clone(),
        )
    }
}

#[cfg(test)]
mod tests;
