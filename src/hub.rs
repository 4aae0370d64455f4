//! The hub: [`Hub::spawn`] starts every part and returns the handle that owns
//! them; [`Hub::shutdown`] cancels the one shutdown token and joins them all.
//!
//! Start order is the order of dependence: lock the state directory, open the
//! store, bind every listener, then advertise. Only when `spawn` returns is
//! the hub ready (the caller tells systemd). The core loop proves the store
//! answers before it pets the watchdog, so a stalled core stops petting it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::api;
use crate::blynk;
use crate::config::Config;
use crate::devices::{Devices, Retention};
use crate::mdns::{self, Advertiser};
use crate::service::notify;
use crate::state_dir::{RUNTIME_FILE, StateDir, StateDirError, write_atomic};
use crate::store::{Store, StoreError, StoreThread};
use crate::tenancy::{Replica, ReplicaError};

/// How often the core loop checks itself when systemd set no watchdog.
const DEFAULT_CORE_TICK: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    StateDir(#[from] StateDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] api::tls::TlsError),
    #[error("accounts: {0}")]
    Accounts(#[from] crate::accounts::AccountError),
    #[error("tenancy: {0}")]
    Tenancy(#[from] ReplicaError),
    #[error("API: {0}")]
    Bind(std::io::Error),
    #[error("devices: {0}")]
    Devices(StoreError),
    #[error("sync: {0}")]
    Sync(StoreError),
    #[error("state directory: cannot write {RUNTIME_FILE}: {0}")]
    Runtime(std::io::Error),
}

/// What a running hub tells `hearth status`, tests and the READY status line.
/// Written to `runtime.json` in the state directory; removed on shutdown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    pub hub_id: String,
    pub instance: String,
    pub version: String,
    pub api_addr: SocketAddr,
    pub api_scheme: String,
    /// SHA-256 of the API certificate (absent with plain HTTP).
    pub fingerprint: Option<String>,
    pub mdns: bool,
    /// Blynk device listeners (absent when off or not bound).
    pub blynk_addr: Option<SocketAddr>,
    pub blynk_tls_addr: Option<SocketAddr>,
    /// The MQTT device listener.
    pub mqtt_addr: Option<SocketAddr>,
}

impl RuntimeInfo {
    pub fn api_url(&self) -> String {
        format!("{}://{}{}", self.api_scheme, self.api_addr, mdns::API_PATH)
    }
}

/// A started hub. Dropping it without [`Hub::shutdown`] leaves tasks running
/// until the runtime ends; always shut it down.
pub struct Hub {
    shutdown: CancellationToken,
    /// The long-lived parts (API server, core loop), named for diagnosis.
    parts: JoinSet<&'static str>,
    /// Short-lived tasks such as API connections.
    tracker: TaskTracker,
    store: Store,
    store_thread: StoreThread,
    /// The household's sharing state; owns the samod repo and its tasks.
    tenancy: Arc<Replica>,
    accounts: Arc<Accounts>,
    devices: Arc<Devices>,
    sync: Arc<crate::sync::links::SyncLinks>,
    /// The history writer; flushed and stopped after connections drain.
    history_writer: tokio::task::JoinHandle<()>,
    advertiser: Option<Arc<Advertiser>>,
    state_dir: StateDir,
    drain: Duration,
    info: RuntimeInfo,
}

impl Hub {
    /// Starts the hub described by `config` on the state directory `state_dir`.
    ///
    /// # Errors
    /// [`HubError`] when the directory is locked, the store cannot open, the
    /// certificate cannot be made or the API cannot bind. A directory
    /// locked or an API that cannot bind leaves nothing running; a failure
    /// after them (store, replica) is not yet unwound part by part (issue
    /// 15: one composition root), which is harmless where it ends the
    /// process, as `hearth run` does.
    pub async fn spawn(config: Config, state_dir: PathBuf) -> Result<Hub, HubError> {
        crate::sync::wire::set_keepalive(Duration::from_secs(config.sync.keepalive_secs));
        let state_dir = StateDir::acquire(&state_dir)?;
        // The API is bound before anything is opened or started: a port
        // taken fails the start with nothing to stop (no store, no replica,
        // no sync task) and the state directory's lock released.
        let listener = api::bind(config.api.listen).await.map_err(HubError::Bind)?;
        let api_addr = listener.local_addr().map_err(HubError::Bind)?;
        let (store, store_thread, identity) =
            Store::open(state_dir.path(), config.store.batch_max)?;
        let tenancy = Arc::new(Replica::open(store.clone(), &identity.hub_id).await?);
        let accounts = Arc::new(
            Accounts::open(tenancy.clone(), store.clone(), state_dir.path().to_owned()).await?,
        );
        let outbox = Arc::new(
            crate::sync::outbox::Outbox::open(&store, config.sync.outbox_max)
                .await
                .map_err(HubError::Sync)?,
        );
        let (devices, history_writer) = Devices::open_with(
            tenancy.clone(),
            store.clone(),
            Some(outbox.clone()),
            config.devices.history_rows_per_day,
        )
        .await
        .map_err(HubError::Devices)?;
        let ble = crate::ble::Ble::open(devices.clone(), store.clone())
            .await
            .map_err(HubError::Devices)?;

        let instance = config
            .hub
            .name
            .clone()
            .unwrap_or_else(|| format!("hearth-{}", identity.short_id()));

        let tls = if config.api.tls {
            Some(api::tls::load_or_create(
                &config.api,
                state_dir.path(),
                &format!("{instance}.local"),
            )?)
        } else {
            None
        };
        let sync = crate::sync::links::SyncLinks::start(
            tenancy.clone(),
            store.clone(),
            &identity.hub_id,
            Duration::from_secs(config.sync.max_backoff_secs),
            Some((outbox, devices.clone())),
            tls.as_ref().map(|t| t.fingerprint.clone()),
        )
        .await
        .map_err(HubError::Sync)?;
        // A household founded before this start: its credential with this
        // certificate, for hubs that find it on the LAN.
        if tenancy.is_founded()
            && let Err(e) = sync.register_self().await
        {
            tracing::warn!("sync: this hub's credential is not recorded: {e}");
        }

        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let drain = Duration::from_secs(config.hub.shutdown_timeout_secs);
        let mut parts = JoinSet::new();
        let router = api::router(api::AppState {
            hub_id: Arc::from(identity.hub_id.as_str()),
            started: Instant::now(),
            accounts: accounts.clone(),
            replica: tenancy.clone(),
            devices: devices.clone(),
            ble: ble.clone(),
            sync: sync.clone(),
            shutdown: shutdown.clone(),
        });
        parts.spawn(api_task(
            listener,
            tls.as_ref()
                .map(|t| tokio_rustls::TlsAcceptor::from(t.server_config.clone())),
            router.clone(),
            api::Limits::from_config(&config.api),
            shutdown.clone(),
            tracker.clone(),
            drain,
        ));
        // Without the admin socket the hub still serves; only console
        // commands (and recovery) are unavailable until it can bind.
        match api::console::bind(state_dir.path()) {
            Ok(console) => {
                parts.spawn(console_task(
                    console,
                    router.clone(),
                    shutdown.clone(),
                    tracker.clone(),
                ));
            }
            Err(e) => tracing::error!(
                "no admin socket in {}: {e}; `hearth --console` will not work",
                state_dir.path().display()
            ),
        }
        parts.spawn(core_loop(store.clone(), shutdown.clone()));
        parts.spawn(retention_task(
            devices.clone(),
            retention(&config),
            shutdown.clone(),
        ));
        let blynk = blynk::start(
            &config,
            tls.as_ref().map(|t| &t.server_config),
            &devices,
            &shutdown,
            &tracker,
            &mut parts,
        )
        .await;
        let mqtt_addr = crate::mqtt::start(
            &config,
            &identity.hub_id,
            &devices,
            &ble,
            &shutdown,
            &tracker,
            &mut parts,
        )
        .await;

        let info = RuntimeInfo {
            pid: std::process::id(),
            hub_id: identity.hub_id.clone(),
            instance: instance.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            api_addr,
            api_scheme: if tls.is_some() { "https" } else { "http" }.into(),
            fingerprint: tls.as_ref().map(|t| t.fingerprint.clone()),
            mdns: config.mdns.enabled,
            blynk_addr: blynk.plain,
            blynk_tls_addr: blynk.tls,
            mqtt_addr,
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
                tenancy.clone(),
                shutdown.clone(),
            ));
            tracker.spawn(crate::sync::lan::discover(
                sync.clone(),
                advertiser.daemon(),
                shutdown.clone(),
            ));
        }
        let hub = Hub {
            shutdown,
            parts,
            tracker,
            store,
            store_thread,
            tenancy,
            accounts,
            devices,
            sync,
            history_writer,
            advertiser,
            state_dir,
            drain,
            info,
        };
        let runtime = serde_json::to_vec_pretty(&hub.info).unwrap_or_default();
        if let Err(e) = write_atomic(&hub.state_dir.path().join(RUNTIME_FILE), &runtime, 0o644) {
            hub.shutdown().await;
            return Err(HubError::Runtime(e));
        }
        Ok(hub)
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn tenancy(&self) -> &Replica {
        &self.tenancy
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    pub fn devices(&self) -> &Arc<Devices> {
        &self.devices
    }

    /// Resolves if a long-lived part ends on its own (it should not before
    /// shutdown), naming it; the caller then shuts the hub down.
    pub async fn part_ended(&mut self) -> String {
        match self.parts.join_next().await {
            Some(Ok(name)) => format!("{name} stopped unexpectedly"),
            Some(Err(e)) if e.is_panic() => format!("a part panicked: {e}"),
            Some(Err(e)) => format!("a part was cancelled: {e}"),
            None => std::future::pending().await,
        }
    }

    /// Stops accepting, says goodbye on the LAN, drains connections for at
    /// most the configured time, flushes the store, releases the directory.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(advertiser) = self.advertiser.take() {
            advertiser.goodbye(Duration::from_secs(1)).await;
        }
        let deadline = tokio::time::Instant::now() + self.drain;
        while let Ok(joined) = tokio::time::timeout_at(deadline, self.parts.join_next()).await {
            match joined {
                None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) if e.is_panic() => tracing::error!("a part panicked: {e}"),
                Some(Err(e)) => tracing::warn!("a part was cancelled: {e}"),
            }
        }
        self.parts.abort_all();
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "connections still open after {:?}; dropping them",
                self.drain
            );
        }
        if let Err(e) = self.devices.flush().await {
            tracing::error!("history: final flush failed: {e}");
        }
        self.history_writer.abort();
        self.sync.close();
        self.tenancy.shutdown().await;
        self.store.close().await;
        self.store_thread.join().await;
        let _ = std::fs::remove_file(self.state_dir.path().join(RUNTIME_FILE));
        let _ = std::fs::remove_file(api::console::path(self.state_dir.path()));
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

async fn api_task(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    limits: api::Limits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    drain: Duration,
) -> &'static str {
    api::serve(listener, tls, router, limits, shutdown, tracker, drain).await;
    "API server"
}

async fn console_task(
    listener: tokio::net::UnixListener,
    router: axum::Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> &'static str {
    api::console::serve(listener, router, shutdown, tracker).await;
    "admin socket"
}

/// The core loop: proves the parts the hub depends on still answer, and only
/// then pets systemd's watchdog.
async fn core_loop(store: Store, shutdown: CancellationToken) -> &'static str {
    let interval = notify::watchdog_interval().unwrap_or(DEFAULT_CORE_TICK);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return "core loop",
            _ = tick.tick() => {}
        }
        match tokio::time::timeout(interval, store.ping()).await {
            Ok(Ok(())) => notify::watchdog(),
            Ok(Err(e)) => tracing::error!("core: store not answering: {e:#}"),
            Err(_) => tracing::error!("core: store did not answer within {interval:?}"),
        }
    }
}

fn retention(config: &Config) -> Retention {
    Retention {
        raw_days: config.devices.retention_days,
        per_pin: Vec::new(),
        minute_days: config.devices.minute_rollup_days,
        hour_days: config.devices.hour_rollup_days,
    }
}

async fn retention_task(
    devices: Arc<Devices>,
    retention: Retention,
    shutdown: CancellationToken,
) -> &'static str {
    devices.run_retention(retention, shutdown).await;
    "history retention"
}
