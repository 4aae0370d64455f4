//! The API's accept loop and its bounds per peer (DESIGN §5): at most
//! `max_connections` at once and `max_per_address` from one address (an
//! IPv6 one by its /64), a TLS handshake within [`HANDSHAKE_TIMEOUT`], a
//! request's head within `header_timeout`, and a connection with nothing in
//! flight closed after `idle_timeout` without a byte either way. An upgraded
//! connection (a WebSocket stream or sync socket) keeps its own liveness
//! checks. So whoever holds everything one address may hold still leaves the
//! hub answering everyone else at once. The caps are the one accept loop's
//! (`listener::accept`: past `max_connections` it stops accepting and the
//! kernel queues); it never spawns a connection outside the hub's tracker.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::ApiConfig;

/// A client that has not finished the TLS handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The bounds of one API listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Limits {
    pub fn from_config(config: &ApiConfig) -> Self {
        Limits {
            max_connections: config.max_connections.max(1),
            max_per_address: config.max_connections_per_address.max(1),
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs.max(1)),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&ApiConfig::default())
    }
}

/// Accepts connections until `shutdown`, then drains open ones for at most
/// `drain`. Every connection task is tracked by `tracker`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    let bounds = crate::listener::Bounds::new(limits.max_connections, limits.max_per_address);
    crate::listener::accept(
        std::sync::Arc::new(listener),
        "api",
        bounds,
        shutdown.clone(),
        tracker,
        |stream, peer| {
            let watcher = graceful.watcher();
            let activity = Arc::new(Activity::new());
            // Handlers that throttle by source address read it as `ConnectInfo`.
            let service = TowerToHyperService::new(
                router
                    .clone()
                    .layer(axum::Extension(ConnectInfo(peer)))
                    .layer(axum::middleware::from_fn_with_state(
                        activity.clone(),
                        track_request,
                    )),
            );
            let tls = tls.clone();
            let shutdown = shutdown.clone();
            async move {
                let conn = serve_connection(stream, tls, service, watcher, &activity, limits);
                tokio::select! {
                    // A half-open handshake is not a connection to drain: dropped
                    // on shutdown; a served one drains through its watcher.
                    () = async {
                        shutdown.cancelled().await;
                        if activity.handshaken.load(Ordering::Relaxed) {
                            std::future::pending::<()>().await;
                        }
                    } => {}
                    () = conn => {}
                    () = idle(&activity, limits.idle_timeout) => {
                        tracing::debug!("idle connection closed");
                    }
                }
            }
        },
    )
    .await;
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("api: connections still open after {drain:?}; closing them");
    }
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    service: TowerToHyperService<Router>,
    watcher: hyper_util::server::graceful::Watcher,
    activity: &Arc<Activity>,
    limits: Limits,
) {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let stream = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    let result = match tls {
        Some(acceptor) => {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return;
                    }
                };
            activity.handshaken.store(true, Ordering::Relaxed);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(conn.into_owned()).await
        }
        None => {
            activity.handshaken.store(true, Ordering::Relaxed);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(conn.into_owned()).await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

/// What the idle check knows of one connection.
struct Activity {
    started: Instant,
    /// Milliseconds since `started` of the last byte read or written.
    last: AtomicU64,
    in_flight: AtomicUsize,
    upgraded: AtomicBool,
    handshaken: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            upgraded: AtomicBool::new(false),
            handshaken: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

/// Resolves once the connection has been idle for `timeout`: no request in
/// flight, not upgraded, and no byte either way.
async fn idle(activity: &Activity, timeout: Duration) {
    loop {
        let last = activity.started + Duration::from_millis(activity.last.load(Ordering::Relaxed));
        tokio::time::sleep_until((last + timeout).into()).await;
        if activity.upgraded.load(Ordering::Relaxed) {
            return std::future::pending().await;
        }
        let last = activity.started + Duration::from_millis(activity.last.load(Ordering::Relaxed));
        if activity.in_flight.load(Ordering::Relaxed) == 0 && last.elapsed() >= timeout {
            return;
        }
        if activity.in_flight.load(Ordering::Relaxed) > 0 {
            // A request being served (a long poll, a queued password check)
            // is not idleness; look again a timeout later.
            activity.touch();
        }
    }
}

async fn track_request(
    axum::extract::State(activity): axum::extract::State<Arc<Activity>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    activity.in_flight.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path()
    );
    let response = next.run(request).instrument(span).await;
    activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    activity.touch();
    if response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS {
        activity.upgraded.store(true, Ordering::Relaxed);
    }
    response
}

/// A connection's byte stream, telling [`Activity`] of every byte.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
