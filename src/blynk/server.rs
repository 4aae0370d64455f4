//! The Blynk TCP listeners, plain and TLS (the hub's own certificate, or
//! the one configured for the API): accept, then one task per connection
//! running [`session::run`]. A connection that cannot log in, sends a bad
//! frame or goes silent is closed; nothing it does reaches any other. It never serves more
//! than `MAX_CONNECTIONS` at once (the next waits in the kernel's backlog), nor more than
//! `max_connections_per_address` from one address (more are closed at accept), nor waits
//! over 10 s for a handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use super::session::{self, Context, End};

/// Connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 8192;
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts until shutdown; connections are tracked by `tracker`.
pub async fn serve(
    listener: Arc<TcpListener>,
    tls: Option<TlsAcceptor>,
    bounds: crate::listener::Bounds,
    ctx: Arc<Context>,
    tracker: TaskTracker,
) {
    let transport = if tls.is_some() { "tls" } else { "tcp" };
    let shutdown = ctx.shutdown.clone();
    crate::listener::accept(
        listener,
        "blynk",
        bounds,
        shutdown,
        tracker,
        move |stream, peer| {
            let (ctx, tls) = (ctx.clone(), tls.clone());
            async move { connection(stream, peer, tls, &ctx, transport).await }
        },
    )
    .await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    ctx: &Context,
    transport: &'static str,
) {
    let peer = peer.to_string();
    match tls {
        None => run(session::link(stream, ctx.max_body), ctx, &peer, transport).await,
        Some(acceptor) => {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    run(session::link(stream, ctx.max_body), ctx, &peer, transport).await
                }
                Ok(Err(e)) => {
                    session::PRE_LOGIN.warn(&peer, format_args!("TLS handshake failed: {e}"))
                }
                Err(_) => session::PRE_LOGIN.warn(&peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn run<S>(mut link: session::Link<S>, ctx: &Context, peer: &str, transport: &'static str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut first = None;
    let mut bucket = session::Bucket::new(ctx.per_second);
    // A second login on one connection starts a new session on it.
    while let End::Relogin(frame) =
        session::run(&mut link, first.take(), ctx, peer, transport, &mut bucket).await
    {
        first = Some(frame);
    }
}
