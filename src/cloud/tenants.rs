//! The cloud's tenants: each a node of its own under
//! `<state dir>/tenants/<tenant id>/` with the same parts a hub has but no
//! device transports: its SQLite store, its replica (a samod repo of its
//! own, so one tenant's documents can never be offered to another's
//! peers), accounts, devices (telemetry ingested from its hubs) and the
//! same `/api/v1` router. Nodes open on first use and stay open.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use samod::PeerId;
use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::api;
use crate::devices::Devices;
use crate::hub::HubError;
use crate::state_dir::StateDir;
use crate::store::{Store, StoreThread};
use crate::tenancy::Replica;
use crate::tenancy::policy::{CLOUD_PEER, DocIds};

/// One tenant on the cloud.
pub struct TenantNode {
    pub tenant_id: String,
    pub replica: Arc<Replica>,
    pub devices: Arc<Devices>,
    pub store: Store,
    pub accounts: Arc<Accounts>,
    /// The tenant's `/api/v1` (mounted under `/tenants/<id>`).
    pub router: axum::Router,
    store_thread: std::sync::Mutex<Option<StoreThread>>,
    history_writer: tokio::task::JoinHandle<()>,
    sync: Arc<crate::sync::links::SyncLinks>,
    _dir: StateDir,
    /// Serializes adoption of the tenant's documents.
    adopting: tokio::sync::Mutex<()>,
    /// Links to the devices connected to the tenant's hubs.
    pub relay: Arc<crate::cloud::relay::Relay>,
    sweeper: tokio::task::AbortHandle,
}

impl TenantNode {
    async fn open(
        dir: PathBuf,
        tenant_id: &str,
        cloud_id: &str,
        shutdown: &CancellationToken,
    ) -> Result<Self, HubError> {
        let dir = StateDir::acquire(&dir)?;
        let (store, store_thread, _) = Store::open(dir.path(), 512)?;
        let replica =
            Arc::new(Replica::open_as(store.clone(), CLOUD_PEER, PeerId::from(CLOUD_PEER)).await?);
        let accounts =
            Arc::new(Accounts::open(replica.clone(), store.clone(), dir.path().to_owned()).await?);
        let (devices, history_writer) = Devices::open(replica.clone(), store.clone())
            .await
            .map_err(HubError::Devices)?;
        let ble = crate::ble::Ble::open(devices.clone(), store.clone())
            .await
            .map_err(HubError::Devices)?;
        let sync = crate::sync::links::SyncLinks::start(
            replica.clone(),
            store.clone(),
            cloud_id,
            Duration::from_secs(60),
            None,
            None,
        )
        .await
        .map_err(HubError::Sync)?;
        let router = api::router(api::AppState {
            hub_id: Arc::from(cloud_id),
            started: Instant::now(),
            accounts: accounts.clone(),
            replica: replica.clone(),
            devices: devices.clone(),
            ble,
            sync: sync.clone(),
            shutdown: shutdown.clone(),
        });
        let relay = Arc::new(crate::cloud::relay::Relay::default());
        let sweeping = relay.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                sweeping.sweep();
            }
        })
        .abort_handle();
        Ok(TenantNode {
            relay,
            sweeper,
            accounts,
            tenant_id: tenant_id.to_owned(),
            replica,
            devices,
            store,
            router,
            store_thread: std::sync::Mutex::new(Some(store_thread)),
            history_writer,
            sync,
            _dir: dir,
            adopting: tokio::sync::Mutex::new(()),
        })
    }

    /// Takes the tenant's documents from its hub `peer`, once connected,
    /// unless this node has them already (only the first connection after
    /// a link does).
    pub async fn adopt(&self, ids: DocIds, peer: PeerId) {
        let _one = self.adopting.lock().await;
        if self.replica.is_founded() {
            return;
        }
        // Asked before the handshake is done, samod would find no peer to
        // ask and give up at once.
        let connected = tokio::time::timeout(
            Duration::from_secs(30),
            self.replica.repo().when_connected(peer),
        )
        .await;
        if !matches!(connected, Ok(Ok(_))) {
            tracing::warn!(tenant = %self.tenant_id, "cloud: the hub did not finish connecting");
            return;
        }
        match self.replica.adopt(ids).await {
            Ok(()) => tracing::info!(tenant = %self.tenant_id, "cloud: tenant adopted"),
            Err(e) => tracing::warn!(
                tenant = %self.tenant_id,
                "cloud: tenant not adopted yet: {e} (tried again on the next connection)"
            ),
        }
    }

    async fn close(&self) {
        self.sweeper.abort();
        self.relay.close();
        if let Err(e) = self.devices.flush().await {
            tracing::error!(tenant = %self.tenant_id, "history: final flush failed: {e}");
        }
        self.history_writer.abort();
        self.sync.close();
        self.replica.shutdown().await;
        self.store.close().await;
        let thread = self
            .store_thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            thread.join().await;
        }
    }
}

/// Every open tenant node.
pub struct Tenants {
    root: PathBuf,
    cloud_id: String,
    shutdown: CancellationToken,
    nodes: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<TenantNode>>>>>,
}

impl Tenants {
    pub fn new(root: PathBuf, cloud_id: &str, shutdown: CancellationToken) -> Self {
        Tenants {
            root,
            cloud_id: cloud_id.to_owned(),
            shutdown,
            nodes: std::sync::Mutex::default(),
        }
    }

    /// The node of `tenant` (a valid id the registry knows), opened if needed.
    ///
    /// # Errors
    /// [`HubError`] when its state cannot be opened.
    pub async fn node(&self, tenant: &str) -> Result<Arc<TenantNode>, HubError> {
        // The map's lock is held only to find the tenant's cell: opening
        // one tenant never holds up requests for the others.
        let cell = self
            .nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tenant.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            TenantNode::open(
                self.root.join(tenant),
                tenant,
                &self.cloud_id,
                &self.shutdown,
            )
            .await
            .map(Arc::new)
        })
        .await
        .cloned()
    }

    /// Flushes and closes every node.
    pub async fn close(&self) {
        let cells: Vec<_> = self
            .nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .map(|(_, n)| n)
            .collect();
        let nodes: Vec<Arc<TenantNode>> = cells.iter().filter_map(|c| c.get().cloned()).collect();
        for node in nodes {
            node.close().await;
        }
    }
}
