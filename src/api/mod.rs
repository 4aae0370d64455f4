//! The local API: HTTPS (or, by config, plain HTTP) with axum under `/api/v1`.
//!
//! Owns the listener, the accept loop and the router. Each connection is a
//! task in the hub's tracker; on shutdown the loop stops accepting and open
//! connections get a bounded drain. Only `health`, `setup` and `login`
//! answer without a token; every other route takes the [`auth::Authed`]
//! extractor.

mod account;
pub mod auth;
mod ble;
pub mod console;
mod devices;
mod endpoints;
pub mod error;
mod external;
mod health;
mod metrics;
mod people;
mod provisioning;
mod stream;
mod sync;
pub mod tls;
mod values;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::tenancy::Replica;

/// Most connections served at once; the next waits in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;
/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler may read.
#[derive(Clone)]
pub struct AppState {
    pub hub_id: Arc<str>,
    pub started: Instant,
    pub accounts: Arc<Accounts>,
    pub replica: Arc<Replica>,
    pub devices: Arc<crate::devices::Devices>,
    pub ble: Arc<crate::ble::Ble>,
    /// This hub's sync links and replication grants.
    pub sync: Arc<crate::sync::links::SyncLinks>,
    /// The hub's shutdown: live streams close when it fires.
    pub shutdown: CancellationToken,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", endpoints::router())
        .nest("/external/api", external::router())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "code": "not_found",
            "message": "no such route; the API lives under /api/v1",
        })),
    )
}

/// Binds the configured address. The default `[::]` falls back to
/// `0.0.0.0` on the same port where the kernel has no IPv6.
///
/// # Errors
/// The bind error, with the address in its message.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(e) if addr.ip().is_unspecified() && addr.is_ipv6() && no_ipv6(&e) => {
            let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, addr.port()));
            tracing::warn!("no IPv6 here ({e}); API listening on {v4} instead");
            TcpListener::bind(v4).await
        }
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr}: {e}"),
        )),
    }
}

fn no_ipv6(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::AddrNotAvailable | ErrorKind::Unsupported
    ) || e.raw_os_error() == Some(97) // EAFNOSUPPORT
}

/// Accepts connections until `shutdown`, then drains open ones for at most
/// `drain`. Every connection task is tracked by `tracker`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("api: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let watcher = graceful.watcher();
        // Handlers that throttle by source address read it as `ConnectInfo`.
        let service =
            TowerToHyperService::new(router.clone().layer(axum::Extension(ConnectInfo(peer))));
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let _permit = permit;
            serve_connection(stream, peer, tls, service, watcher, shutdown).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("api: connections still open after {drain:?}; closing them");
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    service: TowerToHyperService<Router>,
    watcher: hyper_util::server::graceful::Watcher,
    shutdown: CancellationToken,
) {
    // Small answers and stream messages go out at once, not after an ACK.
    let _ = stream.set_nodelay(true);
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let result = match tls {
        Some(acceptor) => {
            // A half-open handshake is not a connection to drain: drop it on shutdown.
            let handshake = tokio::select! {
                _ = shutdown.cancelled() => return,
                done = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => done,
            };
            let stream = match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "api: TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "api: TLS handshake timed out");
                    return;
                }
            };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(conn.into_owned()).await
        }
        None => {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(conn.into_owned()).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "api: connection ended: {e}");
    }
}
