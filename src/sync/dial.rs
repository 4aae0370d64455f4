//! Dialing a peer: a WebSocket over TCP (`ws://`) or TLS (`wss://`, the
//! certificate pinned to the fingerprint the link was made with), the
//! credential in the upgrade's `Authorization` header, the connection bound
//! to the peer id the credential proves. samod calls [`WsDialer`] again on
//! every reconnection, after its exponential backoff with jitter.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rustls::pki_types::ServerName;
use samod::{DialError, Dialer, PeerId, Transport};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use url::Url;

/// A connection attempt that takes longer than this is abandoned (and retried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum DialFailure {
    #[error("{0} is not a ws:// or wss:// URL with a host")]
    Url(String),
    #[error("cannot reach {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error(
        "{addr} presented a certificate other than the one this link pinned; if that hub's certificate changed, link it again"
    )]
    Fingerprint { addr: String },
    #[error("TLS with {addr} failed: {source}")]
    Tls {
        addr: String,
        source: std::io::Error,
    },
    #[error("the WebSocket upgrade at {addr} failed: {reason}")]
    Upgrade { addr: String, reason: String },
    #[error("no answer from {0} within {CONNECT_TIMEOUT:?}")]
    Timeout(String),
}

/// Where and as whom to dial, and whom to expect at the other end.
#[derive(Clone)]
pub struct WsDialer {
    pub url: Url,
    /// Sent as `Authorization: Bearer`; never logged.
    pub token: String,
    /// SHA-256 of the peer's certificate, for `wss://`.
    pub fingerprint: Option<String>,
    /// The peer id the other end must claim in the handshake.
    pub expected: PeerId,
    /// Where the last failure is told (for `hearth sync status`).
    pub failures: Arc<std::sync::Mutex<super::links::LinkState>>,
    /// Where each connection's writer runs (the replica's tasks).
    pub tasks: crate::tenancy::replica::RepoTasks,
}

impl Dialer for WsDialer {
    type Error = Infallible;

    fn url(&self) -> Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Infallible>>> {
        let dialer = self.clone();
        Box::pin(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, dialer.open()).await {
                Ok(Ok(transport)) => Ok(transport.with_expected_peer_id(dialer.expected.clone())),
                Ok(Err(e)) => Err(dialer.failed(e)),
                Err(_) => Err(dialer.failed(DialFailure::Timeout(dialer.url.to_string()))),
            }
        })
    }
}

impl WsDialer {
    fn failed(&self, e: DialFailure) -> DialError<Infallible> {
        tracing::warn!(peer = %self.expected, "sync: {e}; will retry");
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last_error = Some(e.to_string());
        DialError::transient(e)
    }

    /// One attempt: TCP, TLS when `wss`, the authenticated upgrade.
    async fn open(&self) -> Result<Transport, DialFailure> {
        let url = &self.url;
        let host = url
            .host_str()
            .ok_or_else(|| DialFailure::Url(url.to_string()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| DialFailure::Url(url.to_string()))?;
        // IPv6 literals keep their brackets in `host_str`; connect wants them off.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addr = format!("{host}:{port}");
        let tcp = tokio::net::TcpStream::connect((bare, port))
            .await
            .map_err(|source| DialFailure::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| DialFailure::Upgrade {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let bearer = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| DialFailure::Url("a token that is not header-safe".into()))?;
        request.headers_mut().insert("authorization", bearer);
        let upgrade_failed = |e: tokio_tungstenite::tungstenite::Error| DialFailure::Upgrade {
            addr: addr.clone(),
            reason: e.to_string(),
        };
        match url.scheme() {
            "ws" => {
                let (ws, _) = tokio_tungstenite::client_async(request, tcp)
                    .await
                    .map_err(upgrade_failed)?;
                Ok(super::wire::from_tungstenite(ws, &self.tasks))
            }
            "wss" => {
                let fingerprint = self.fingerprint.as_deref().unwrap_or_default();
                let config = crate::client::pinned::config(fingerprint);
                let name = ServerName::try_from(bare.to_owned())
                    .map_err(|_| DialFailure::Url(url.to_string()))?;
                let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|source| tls_failed(addr.clone(), source))?;
                let (ws, _) = tokio_tungstenite::client_async(request, tls)
                    .await
                    .map_err(upgrade_failed)?;
                Ok(super::wire::from_tungstenite(ws, &self.tasks))
            }
            _ => Err(DialFailure::Url(url.to_string())),
        }
    }
}

/// A TLS failure, said as a pinning failure only when the certificate is
/// what failed (a cut connection is not a wrong fingerprint).
fn tls_failed(addr: String, source: std::io::Error) -> DialFailure {
    if crate::client::pinned::is_pin_mismatch(&source) {
        DialFailure::Fingerprint { addr }
    } else {
        DialFailure::Tls { addr, source }
    }
}

/// The sync URL of a peer whose API is at `base` (`https://host:port` or
/// `http://host:port`), for the route `path`.
///
/// # Errors
/// [`DialFailure::Url`] for anything but an http(s) URL with a host.
pub fn sync_url(base: &str, path: &str) -> Result<Url, DialFailure> {
    let mut url = Url::parse(base).map_err(|_| DialFailure::Url(base.to_owned()))?;
    let scheme = match url.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        _ => return Err(DialFailure::Url(base.to_owned())),
    };
    if url.host_str().is_none() || url.set_scheme(scheme).is_err() {
        return Err(DialFailure::Url(base.to_owned()));
    }
    url.set_path(path);
    url.set_query(None);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_urls_follow_the_api_scheme() {
        let url = sync_url("https://127.0.0.1:8443", "/cloud/v1/sync").unwrap();
        assert_eq!(url.as_str(), "wss://127.0.0.1:8443/cloud/v1/sync");
        let url = sync_url("http://[::1]:80/ignored?x=1", "/api/v1/sync").unwrap();
        assert_eq!(url.as_str(), "ws://[::1]/api/v1/sync");
        assert!(sync_url("ftp://host", "/x").is_err());
        assert!(sync_url("not a url", "/x").is_err());
    }
}
