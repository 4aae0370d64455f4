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
//! - [`endpoints`]: the people's `/cloud/v1` routes and their OpenAPI
//!   document;
//! - [`browser`]: the app away from home, one cookie for every household;
//! - [`relay`]: commands from the cloud's API to the hub a device is on;
//! - [`routes`]: the `/cloud/v1` routes and the tenants' APIs.
//!
//! It never binds a device transport or advertises by mDNS, and one tenant's state never
//! passes through another's node: each has its own store and replica.

mod browser;
mod endpoints;
mod login;
pub mod registry;
pub mod relay;
pub mod routes;
pub mod tenants;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api;
use crate::config::Config;
use crate::node::{NodeOptions, Role};
use crate::runtime::{Runtime, RuntimeInfo, StartError};
use crate::state_dir::StateDir;
use crate::store::{Store, StoreThread};

/// What every cloud route may read.
#[derive(Clone)]
pub struct CloudState {
    pub registry: Store,
    pub tenants: Arc<tenants::Tenants>,
    /// The wall clock link codes and hub revocations are stamped by (the one
    /// every tenant reads too).
    pub clock: crate::clock::Clock,
    /// Served over TLS: browser cookies are `Secure` and `__Host-`.
    pub secure_cookies: bool,
}

/// A started cloud endpoint; always [`Cloud::shutdown`] it.
pub struct Cloud {
    runtime: Runtime,
    registry: Store,
    registry_thread: StoreThread,
    tenants: Arc<tenants::Tenants>,
    info: RuntimeInfo,
}

impl Cloud {
    /// Starts the cloud on `state_dir` with the API settings of `config`.
    ///
    /// # Errors
    /// [`StartError`] when the directory is locked, the listener cannot
    /// bind, the registry cannot open or the certificate cannot be made; a
    /// failed start leaves nothing running and the lock released.
    pub async fn spawn(config: Config, state_dir: PathBuf) -> Result<Cloud, StartError> {
        crate::sync::wire::set_keepalive(Duration::from_secs(config.sync.keepalive_secs));
        let state_dir = StateDir::acquire(&state_dir)?;
        let listener = crate::listener::bind(config.api.listen)
            .await
            .map_err(StartError::Bind)?;
        let api_addr = listener.local_addr().map_err(StartError::Bind)?;
        let drain = Duration::from_secs(config.hub.shutdown_timeout_secs);
        let mut runtime = Runtime::new(state_dir, drain);
        let (registry, registry_thread, identity) =
            Store::open(runtime.dir(), config.store.batch_max, crate::node::SCHEMA)?;
        let role = Role::CloudTenant {
            cloud_id: identity.hub_id.clone(),
        };
        let options = NodeOptions::new(&config, role).with_restarts(runtime.restarts());
        let clock = options.clock.clone();
        let tls = if config.api.tls {
            match api::tls::load_or_create(&config.api, runtime.dir(), "hearth-cloud.local", &clock)
            {
                Ok(tls) => Some(tls),
                Err(e) => {
                    registry.close().await;
                    registry_thread.join().await;
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        let tenants = Arc::new(tenants::Tenants::new(
            runtime.dir().join("tenants"),
            options,
            runtime.token().clone(),
        ));
        let router = routes::router(CloudState {
            registry: registry.clone(),
            tenants: tenants.clone(),
            clock,
            secure_cookies: config.api.tls,
        });
        runtime.serve_api(
            listener,
            tls.as_ref(),
            router.clone(),
            api::Limits::from_config(&config.api),
        );
        runtime.serve_console(router);
        if let Some(serving) = tls.as_ref().and_then(|t| t.serving.clone()) {
            let stop = runtime.token().clone();
            runtime
                .parts()
                .spawn_restarting("certificate renewal", stop.clone(), move || {
                    api::tls::keep_renewed(serving.clone(), stop.clone())
                });
        }
        let info = RuntimeInfo::serving(
            &identity.hub_id,
            "hearth-cloud",
            api_addr,
            tls.as_ref().map(|t| t.fingerprint.clone()),
        );
        let cloud = Cloud {
            runtime,
            registry,
            registry_thread,
            tenants,
            info,
        };
        if let Err(e) = cloud.runtime.publish(&cloud.info) {
            cloud.shutdown().await;
            return Err(e);
        }
        Ok(cloud)
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.info
    }

    /// Resolves if a long-lived part ends on its own, naming it.
    pub async fn part_ended(&mut self) -> String {
        self.runtime.part_ended().await
    }

    /// Stops accepting, drains connections, closes every tenant.
    pub async fn shutdown(mut self) {
        self.runtime.drain().await;
        self.tenants.close().await;
        self.registry.close().await;
        self.registry_thread.join().await;
        self.runtime.finish();
        tracing::info!("cloud stopped");
    }
}
