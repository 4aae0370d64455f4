//! The Blynk device protocol (DESIGN §4; `../shared/reference/protocols.md`
//! §1), so existing Blynk-library firmware talks to the hub over TCP, TLS
//! or a serial line: the wire format ([`codec`], [`hardware`]), one
//! device's session ([`session`], answering each message through
//! [`requests`]), and the transports that carry sessions ([`server`] for
//! TCP and TLS, [`serial`] for serial ports). It never keeps device state of its own (values,
//! links and tokens are the devices core's and the replica's), and a listener that cannot bind
//! never stops the hub: it is logged and the other transports serve.

pub mod codec;
pub mod hardware;
pub mod requests;
pub mod serial;
pub mod server;
pub mod session;

pub use codec::{BlynkCodec, Frame, FrameError};
pub use hardware::{Hardware, HardwareError};

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::devices::Devices;

/// Where the Blynk listeners ended up.
pub struct Addrs {
    pub plain: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

/// Binds the Blynk listeners and starts them and the serial ports. A
/// listener that cannot bind is logged, not fatal: the hub's other
/// transports and its API still serve (port 8080 is often taken).
pub async fn start(
    config: &Config,
    tls: Option<&Arc<rustls::ServerConfig>>,
    devices: &Arc<Devices>,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
    parts: &mut crate::tasks::Parts,
) -> Addrs {
    let ctx = Arc::new(session::Context {
        devices: devices.clone(),
        shutdown: shutdown.clone(),
        max_body: config.blynk.max_body,
        per_second: f64::from(config.blynk.messages_per_second),
    });
    let acceptor = tls.map(|t| {
        let mut server = (**t).clone();
        server.alpn_protocols.clear();
        tokio_rustls::TlsAcceptor::from(Arc::new(server))
    });
    let mut addrs = Addrs {
        plain: None,
        tls: None,
    };
    // Without a certificate (API TLS off) there is no TLS listener.
    let tls_addr = config.blynk.tls_listen.filter(|_| acceptor.is_some());
    for (addr, acceptor) in [(config.blynk.listen, None), (tls_addr, acceptor)] {
        let Some(addr) = addr else { continue };
        let is_tls = acceptor.is_some();
        match crate::listener::bind(addr).await {
            Ok(listener) => {
                let bound = listener.local_addr().ok();
                if is_tls {
                    addrs.tls = bound;
                } else {
                    addrs.plain = bound;
                }
                let (ctx, tracker) = (ctx.clone(), tracker.clone());
                let name = if is_tls {
                    "Blynk TLS listener"
                } else {
                    "Blynk listener"
                };
                let bounds = crate::listener::Bounds::new(
                    server::MAX_CONNECTIONS,
                    config.blynk.max_connections_per_address,
                );
                let listener = Arc::new(listener);
                parts.spawn_restarting(name, shutdown.clone(), move || {
                    server::serve(
                        listener.clone(),
                        acceptor.clone(),
                        bounds.clone(),
                        ctx.clone(),
                        tracker.clone(),
                    )
                });
            }
            Err(e) => tracing::error!(
                "blynk: cannot listen on {addr}: {e}; Blynk devices cannot connect there"
            ),
        }
    }
    if config.blynk.tls_listen.is_some() && tls.is_none() {
        tracing::info!("blynk: no TLS listener, as [api] tls is off");
    }
    if !config.blynk.serial.is_empty() {
        let ports = config.blynk.serial.clone();
        let tracker = tracker.clone();
        parts.spawn_restarting("serial ports", shutdown.clone(), move || {
            serial::supervise(ports.clone(), ctx.clone(), tracker.clone())
        });
    }
    addrs
}
