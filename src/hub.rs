//! The hub: [`Hub::spawn`] starts every part and returns the handle that owns
//! them; [`Hub::shutdown`] cancels the one shutdown token and joins them all.
//!
//! Start order is the order of dependence: lock the state directory, open the
//! store, bind every listener, then advertise. Only when `spawn` returns is
//! the hub ready (the caller tells systemd). The core loop proves the store
//! answers before it pets the watchdog, so a stalled core stops petting it.
//!
//! Owns the hub's listeners, advertisement and runtime; it never opens or closes a household
//! part itself (store, replica, devices, sync are the node's) and never tells systemd anything
//! but the watchdog.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::api;
use crate::blynk;
use crate::clock::Clock;
use crate::config::Config;
use crate::devices::Devices;
use crate::mdns::{self, Advertiser};
use crate::node::{Node, NodeOptions, Role};
use crate::runtime::{Runtime, RuntimeInfo, StartError};
use crate::service::notify;
use crate::state_dir::StateDir;
use crate::store::Store;
use crate::tenancy::Replica;

/// How often the core loop checks itself when systemd set no watchdog.
const DEFAULT_CORE_TICK: Duration = Duration::from_secs(10);

/// A started hub. Dropping it without [`Hub::shutdown`] leaves tasks running
/// until the runtime ends; always shut it down.
pub struct Hub {
    runtime: Runtime,
    /// The household's parts; closed after connections drain.
    node: Node,
    advertiser: Option<Arc<Advertiser>>,
    info: RuntimeInfo,
}

impl Hub {
    /// Starts the hub described by `config` on the state directory `state_dir`.
    ///
    /// # Errors
    /// [`StartError`] when the directory is locked, the API cannot bind, a
    /// part of the household cannot open or the certificate cannot be made.
    /// A failed start leaves nothing running: what had opened is closed
    /// and the state directory's lock released.
    pub async fn spawn(config: Config, state_dir: PathBuf) -> Result<Hub, StartError> {
        Self::spawn_with_clock(config, state_dir, Clock::system()).await
    }

    /// [`Hub::spawn`] on `clock` (a test's manual clock, say): every part of
    /// the hub reads the wall time from it.
    ///
    /// # Errors
    /// As [`Hub::spawn`].
    pub async fn spawn_with_clock(
        config: Config,
        state_dir: PathBuf,
        clock: Clock,
    ) -> Result<Hub, StartError> {
        crate::sync::wire::set_keepalive(Duration::from_secs(config.sync.keepalive_secs));
        let state_dir = StateDir::acquire(&state_dir)?;
        // The API is bound before anything is opened or started: a port
        // taken fails the start with nothing to stop (no store, no replica,
        // no sync task) and the state directory's lock released.
        let listener = crate::listener::bind(config.api.listen)
            .await
            .map_err(StartError::Bind)?;
        let api_addr = listener.local_addr().map_err(StartError::Bind)?;
        let drain = Duration::from_secs(config.hub.shutdown_timeout_secs);
        let mut runtime = Runtime::new(state_dir, drain);
        let role = Role::Hub {
            outbox_max: config.sync.outbox_max,
        };
        let node = Node::open(
            runtime.dir(),
            NodeOptions::new(&config, role)
                .with_clock(clock)
                .with_restarts(runtime.restarts()),
            runtime.token(),
        )
        .await?;
        let instance = config
            .hub
            .name
            .clone()
            .unwrap_or_else(|| format!("hearth-{}", node.identity.short_id()));
        let tls = if config.api.tls {
            let made = api::tls::load_or_create(
                &config.api,
                runtime.dir(),
                &format!("{instance}.local"),
                &node.clock,
            );
            match made {
                Ok(tls) => Some(tls),
                Err(e) => {
                    node.close().await;
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        node.sync
            .serving(tls.as_ref().map(|t| t.fingerprint.clone()))
            .await;

        let shutdown = runtime.token().clone();
        let tracker = runtime.tracker().clone();
        let tls = tls.map(Arc::new);
        let mut api_state = node.api_state(shutdown.clone());
        api_state.tls = tls.clone();
        let device_listeners = api_state.device_listeners.clone();
        let router = api::router(api_state);
        runtime.serve_api(
            listener,
            tls.as_deref(),
            router.clone(),
            api::Limits::from_config(&config.api),
        );
        runtime.serve_console(router);
        runtime
            .parts()
            .spawn("core loop", core_loop(node.store.clone(), shutdown.clone()));
        runtime.parts().spawn(
            "memory given back",
            crate::memory::give_back(shutdown.clone()),
        );
        if let Some(serving) = tls.as_ref().and_then(|t| t.serving.clone()) {
            let stop = shutdown.clone();
            runtime
                .parts()
                .spawn_restarting("certificate renewal", shutdown.clone(), move || {
                    api::tls::keep_renewed(serving.clone(), stop.clone())
                });
        }
        let blynk = blynk::start(
            &config,
            tls.as_ref().map(|t| &t.devices),
            &node.devices,
            &shutdown,
            &tracker,
            runtime.parts(),
        )
        .await;
        let mqtt_addr = crate::mqtt::start(
            &config,
            &node.id,
            &node.devices,
            &node.ble,
            &shutdown,
            &tracker,
            runtime.parts(),
        )
        .await;

        let _ = device_listeners.set(api::connect::DeviceListeners {
            instance: instance.clone(),
            host: config.mdns.enabled.then(|| format!("{instance}.local")),
            blynk_port: blynk.plain.map(|a| a.port()),
            blynk_tls_port: blynk.tls.map(|a| a.port()),
            mqtt_port: mqtt_addr.map(|a| a.port()),
            broker: config
                .mqtt
                .broker
                .as_ref()
                .map(|b| (b.host.clone(), b.port, b.prefix.clone())),
        });
        let info = RuntimeInfo {
            mdns: config.mdns.enabled,
            blynk_addr: blynk.plain,
            blynk_tls_addr: blynk.tls,
            mqtt_addr,
            ..RuntimeInfo::serving(
                &node.id,
                &instance,
                api_addr,
                tls.as_ref().map(|t| t.fingerprint.clone()),
            )
        };
        let advertiser = if config.mdns.enabled {
            match Advertiser::start(&config.mdns, &advertisement(&info)) {
                Ok(advertiser) => Some(Arc::new(advertiser)),
                Err(e) => {
                    // The hub still serves; apps can be pointed at it by address.
                    tracing::error!("not advertising on the LAN: {e:#}");
                    None
                }
            }
        } else {
            None
        };
        if let Some(advertiser) = &advertiser {
            tracker.spawn(announce_tenant(
                advertiser.clone(),
                node.replica.clone(),
                shutdown.clone(),
            ));
            tracker.spawn(crate::sync::lan::discover(
                node.sync.clone(),
                advertiser.daemon(),
                shutdown,
            ));
        }
        let hub = Hub {
            runtime,
            node,
            advertiser,
            info,
        };
        if let Err(e) = hub.runtime.publish(&hub.info) {
            hub.shutdown().await;
            return Err(e);
        }
        Ok(hub)
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    pub fn store(&self) -> &Store {
        &self.node.store
    }

    pub fn tenancy(&self) -> &Replica {
        &self.node.replica
    }

    pub fn accounts(&self) -> &Accounts {
        &self.node.accounts
    }

    pub fn devices(&self) -> &Arc<Devices> {
        &self.node.devices
    }

    pub fn sync(&self) -> &Arc<crate::sync::links::SyncLinks> {
        &self.node.sync
    }

    /// Resolves if a long-lived part ends on its own (it should not before
    /// shutdown), naming it; the caller then shuts the hub down.
    pub async fn part_ended(&mut self) -> String {
        self.runtime.part_ended().await
    }

    /// Says goodbye on the LAN, stops accepting, drains connections for at
    /// most the configured time, closes the household (history flushed,
    /// store closed), releases the directory.
    pub async fn shutdown(mut self) {
        if let Some(advertiser) = self.advertiser.take() {
            advertiser.goodbye(Duration::from_secs(1)).await;
        }
        self.runtime.drain().await;
        self.node.close().await;
        self.runtime.finish();
        tracing::info!("hub stopped");
    }
}

/// Adds the household's opaque tag to the mDNS record once there is a
/// household (at start, or when it is set up or joined later).
async fn announce_tenant(
    advertiser: Arc<Advertiser>,
    tenancy: Arc<Replica>,
    shutdown: CancellationToken,
) {
    let mut changed = tenancy.subscribe();
    loop {
        if let Some(tenant) = tenancy.tenant_id() {
            let tag = crate::sync::lan::tenant_tag(&tenant);
            match advertiser.set_txt(crate::sync::lan::TAG_KEY, &tag) {
                Ok(()) => tracing::info!("mDNS: announcing the household's tag"),
                Err(e) => tracing::warn!("mDNS: the household's tag is not announced: {e}"),
            }
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            result = changed.changed() => if result.is_err() { return },
        }
    }
}

fn advertisement(info: &RuntimeInfo) -> mdns::Advertisement {
    let mut txt = BTreeMap::new();
    txt.insert("id".into(), info.hub_id.clone());
    txt.insert("ver".into(), info.version.clone());
    txt.insert("api".into(), mdns::API_PATH.into());
    if let Some(fp) = &info.fingerprint {
        txt.insert("fp".into(), fp.clone());
    }
    if let Some(addr) = info.blynk_addr {
        txt.insert("blynk".into(), addr.port().to_string());
    }
    if let Some(addr) = info.blynk_tls_addr {
        txt.insert("blynks".into(), addr.port().to_string());
    }
    if let Some(addr) = info.mqtt_addr {
        txt.insert("mqtt".into(), addr.port().to_string());
    }
    mdns::Advertisement {
        instance: info.instance.clone(),
        port: info.api_addr.port(),
        txt,
    }
}

/// The core loop: proves the parts the hub depends on still answer, and only
/// then pets systemd's watchdog.
async fn core_loop(store: Store, shutdown: CancellationToken) {
    let interval = notify::watchdog_interval().unwrap_or(DEFAULT_CORE_TICK);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match tokio::time::timeout(interval, store.ping()).await {
            Ok(Ok(())) => notify::watchdog(),
            Ok(Err(e)) => tracing::error!("core: store not answering: {e:#}"),
            Err(_) => tracing::error!("core: store did not answer within {interval:?}"),
        }
    }
}
