//! Listening, in one place: [`bind`] for every TCP listener (the API's and
//! the devices'), with the IPv6 fallback; the address key every per-address
//! limit counts by; and the accept loop every device listener (Blynk
//! TCP/TLS, MQTT) shares:
//! accept until shutdown, at most `max` connections at once (more are
//! closed at accept, with one log line), one tracked task each, no spinning
//! when accept fails (out of file descriptors and the like). It never reads or writes a
//! connection's bytes (that is the transport's `serve`), nor spawns a task outside the tracker.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub async fn accept<F, Fut>(
    listener: TcpListener,
    name: &'static str,
    max: usize,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max));
    let over = crate::service::noisy::Noisy::new(name, "connections over the limit");
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("{name}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            over.warn(
                &peer.to_string(),
                format_args!("over {max} connections; closed"),
            );
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = serve(stream, peer);
        // Every line the connection logs names its transport and peer, and
        // the device or bridge once it logged in (`client`, recorded then).
        let span = tracing::info_span!(
            "connection",
            transport = name,
            %peer,
            client = tracing::field::Empty
        );
        tracker.spawn(
            async move {
                let _slot = slot;
                connection.await;
            }
            .instrument(span),
        );
    }
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
            tracing::warn!("no IPv6 here ({e}); listening on {v4} instead");
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

/// An address as throttling counts it ([`address_key`], as text).
pub fn source_key(ip: IpAddr) -> String {
    match address_key(ip) {
        IpAddr::V6(prefix) => format!("{prefix}/64"),
        v4 => v4.to_string(),
    }
}

/// An address as caps and throttles count it: an IPv4 one whole (a mapped
/// one as IPv4), an IPv6 one by its /64, which one host may hold whole.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
        v4 => v4,
    }
}
