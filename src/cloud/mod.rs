//! `hearth cloud`: the cloud tenancy endpoint (DESIGN §2). The same binary
//! without device transports, serving many tenants: hubs link to it with a
//! one-time code, sync their tenant's documents with it over an
//! authenticated WebSocket, and it serves each tenant's `/api/v1` under
//! `/tenants/<tenant id>` for apps away from home.
//!
//! - [`registry`]: link codes and the hubs the cloud accepts (its own
//!   SQLite database in the state directory);
//! - [`tenants`]: one node per tenant, each with its own store and replica;
//! - [`login`]: one login across the households of a person;
//! - [`relay`]: commands from the cloud's API to the hub a device is on;
//! - [`routes`]: the `/cloud/v1` routes and the tenants' APIs.

pub mod login;
pub mod registry;
pub mod relay;
pub mod routes;
pub mod tenants;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api;
use crate::config::Config;
use crate::hub::{HubError, RuntimeInfo};
use crate::state_dir::{RUNTIME_FILE, StateDir, write_atomic};
use crate::store::{Store, StoreThread};

/// What every cloud route may read.
#[derive(Clone)]
pub struct CloudState {
    pub registry: Store,
    pub tenants: Arc<tenants::Tenants>,
}

/// A started cloud endpoint; always [`Cloud::shutdown`] it.
pub struct Cloud {
    shutdown: CancellationToken,
    parts: JoinSet<&'static str>,
    tracker: TaskTracker,
    registry: Store,
    registry_thread: StoreThread,
    tenants: Arc<tenants::Tenants>,
    state_dir: StateDir,
    drain: Duration,
    info: RuntimeInfo,
}

impl Cloud {
    /// Starts the cloud on `state_dir` with the API settings of `config`.
    ///
    /// # Errors
    /// [`HubError`] when the directory is locked, the store cannot open, the
    /// certificate cannot be made or the listener cannot bind.
    pub async fn spawn(config: Config, state_dir: PathBuf) -> Result<Cloud, HubError> {
        let state_dir = StateDir::acquire(&state_dir)?;
        let (registry, registry_thread, identity) =
            Store::open(state_dir.path(), config.store.batch_max)?;
        let shutdown = CancellationToken::new();
        let tenants = Arc::new(tenants::Tenants::new(
            state_dir.path().join("tenants"),
            &identity.hub_id,
            shutdown.clone(),
        ));
        let tls = if config.api.tls {
            Some(api::tls::load_or_create(
                &config.api,
                state_dir.path(),
                "hearth-cloud.local",
            )?)
        } else {
            None
        };
        let listener = api::bind(config.api.listen).await.map_err(HubError::Bind)?;
        let api_addr = listener.local_addr().map_err(HubError::Bind)?;
        let tracker = TaskTracker::new();
        crate::sync::wire::set_keepalive(Duration::from_secs(config.sync.keepalive_secs));
        let drain = Duration::from_secs(config.hub.shutdown_timeout_secs);
        let limits = api::Limits::from_config(&config.api);
        let router = routes::router(CloudState {
            registry: registry.clone(),
            tenants: tenants.clone(),
        });
        let mut parts = JoinSet::new();
        {
            let (router, shutdown, tracker) = (router.clone(), shutdown.clone(), tracker.clone());
            let tls = tls
                .as_ref()
                .map(|t| tokio_rustls::TlsAcceptor::from(t.server_config.clone()));
            parts.spawn(async move {
                api::serve(listener, tls, router, limits, shutdown, tracker, drain).await;
                "cloud API server"
            });
        }
        match api::console::bind(state_dir.path()) {
            Ok(console) => {
                let (shutdown, tracker) = (shutdown.clone(), tracker.clone());
                parts.spawn(async move {
                    api::console::serve(console, router, shutdown, tracker).await;
                    "admin socket"
                });
            }
            Err(e) => {
                tracing::error!("cloud: no admin socket: {e}; `hearth cloud code` will not work")
            }
        }
        let info = RuntimeInfo {
            pid: std::process::id(),
            hub_id: identity.hub_id.clone(),
            instance: "hearth-cloud".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            api_addr,
            api_scheme: if tls.is_some() { "https" } else { "http" }.into(),
            fingerprint: tls.as_ref().map(|t| t.fingerprint.clone()),
            mdns: false,
            blynk_addr: None,
            blynk_tls_addr: None,
            mqtt_addr: None,
        };
        let cloud = Cloud {
            shutdown,
            parts,
            tracker,
            registry,
            registry_thread,
            tenants,
            state_dir,
            drain,
            info,
        };
        let runtime = serde_json::to_vec_pretty(&cloud.info).unwrap_or_default();
        if let Err(e) = write_atomic(&cloud.state_dir.path().join(RUNTIME_FILE), &runtime, 0o644) {
            cloud.shutdown().await;
            return Err(HubError::Runtime(e));
        }
        Ok(cloud)
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    /// Resolves if a long-lived part ends on its own, naming it.
    pub async fn part_ended(&mut self) -> String {
        match self.parts.join_next().await {
            Some(Ok(name)) => format!("{name} stopped unexpectedly"),
            Some(Err(e)) => format!("a part failed: {e}"),
            None => std::future::pending().await,
        }
    }

    /// Stops accepting, drains connections, closes every tenant.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        let deadline = tokio::time::Instant::now() + self.drain;
        while let Ok(Some(_)) = tokio::time::timeout_at(deadline, self.parts.join_next()).await {}
        self.parts.abort_all();
        self.tracker.close();
        let _ = tokio::time::timeout_at(deadline, self.tracker.wait()).await;
        self.tenants.close().await;
        self.registry.close().await;
        self.registry_thread.join().await;
        let _ = std::fs::remove_file(self.state_dir.path().join(RUNTIME_FILE));
        let _ = std::fs::remove_file(api::console::path(self.state_dir.path()));
        tracing::info!("cloud stopped");
    }
}
