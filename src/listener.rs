//! The accept loop every device listener (Blynk TCP/TLS, MQTT) shares:
//! accept until shutdown, at most `max` connections at once (more are
//! closed at accept, with one log line), one tracked task each, no spinning
//! when accept fails (out of file descriptors and the like).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
        tracker.spawn(async move {
            let _slot = slot;
            connection.await;
        });
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
