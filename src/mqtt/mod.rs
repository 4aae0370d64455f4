//! MQTT (DESIGN §4; `../shared/reference/protocols.md` §2): Hearth's own
//! listener, a device endpoint rather than a general broker. Devices log in
//! with username `device` and their token and speak Blynk's Device MQTT API
//! ([`topics`]); each sees only its own topics ([`session`]). BLE-to-MQTT
//! bridges log in with username `bridge` and a bridge token and publish
//! their reports under `home/<bridge name>/BTtoMQTT/` (see [`crate::ble`]). It never relays
//! between clients as a general broker would (only one bridge's own connections hear each other,
//! see `bridge_bus`), and a listener that cannot bind never stops the hub.

pub mod bridge_bus;
pub mod broker;
pub mod codec;
pub mod home_assistant;
pub mod ingest;
pub mod session;
pub mod topics;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::devices::Devices;

/// Connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 8192;

/// What every MQTT session needs from the hub.
pub struct Context {
    pub devices: Arc<Devices>,
    pub ble: Arc<crate::ble::Ble>,
    pub shutdown: CancellationToken,
    /// Largest packet accepted from a client, in bytes.
    pub max_packet: usize,
    /// Messages between connections of one bridge.
    pub bridges: bridge_bus::BridgeBus,
    /// Messages a device may publish per second, and a bridge over all its
    /// connections (whose allowances are kept here, by name).
    pub per_second: f64,
    pub bridge_per_second: f64,
    pub bridge_allowances:
        std::sync::Mutex<std::collections::HashMap<String, crate::devices::allowance::Allowance>>,
}

/// Starts the client of the household's broker, if configured, and binds
/// and starts the listener; where it listens, if it does. A listener that
/// cannot bind is logged, not fatal (1883 may be taken by a broker already
/// running on the machine).
pub async fn start(
    config: &Config,
    hub_id: &str,
    devices: &Arc<Devices>,
    ble: &Arc<crate::ble::Ble>,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
    parts: &mut crate::tasks::Parts,
) -> Option<SocketAddr> {
    let ctx = Arc::new(Context {
        devices: devices.clone(),
        ble: ble.clone(),
        shutdown: shutdown.clone(),
        max_packet: config.mqtt.max_packet,
        bridges: bridge_bus::BridgeBus::default(),
        per_second: f64::from(config.mqtt.messages_per_second),
        bridge_per_second: f64::from(config.mqtt.bridge_messages_per_second),
        bridge_allowances: Default::default(),
    });
    if let Some(broker) = config.mqtt.broker.clone() {
        let (ctx, client_id) = (ctx.clone(), format!("hearth-{hub_id}"));
        parts.spawn_restarting("MQTT broker client", shutdown.clone(), move || {
            broker::run(broker.clone(), client_id.clone(), ctx.clone())
        });
    }
    let addr = config.mqtt.listen?;
    let listener = match crate::listener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(
                "mqtt: cannot listen on {addr}: {e}; MQTT devices cannot connect there"
            );
            return None;
        }
    };
    let bound = listener.local_addr().ok();
    let bounds =
        crate::listener::Bounds::new(MAX_CONNECTIONS, config.mqtt.max_connections_per_address);
    let listener = Arc::new(listener);
    let (stop, tracker) = (shutdown.clone(), tracker.clone());
    parts.spawn_restarting("MQTT listener", shutdown.clone(), move || {
        let ctx = ctx.clone();
        crate::listener::accept(
            listener.clone(),
            "mqtt",
            bounds.clone(),
            stop.clone(),
            tracker.clone(),
            move |stream, peer| {
                let ctx = ctx.clone();
                async move { session::run(stream, &peer.to_string(), &ctx).await }
            },
        )
    });
    bound
}
