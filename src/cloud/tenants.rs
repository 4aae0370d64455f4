//! The cloud's tenants: each a node of its own under
//! `<state dir>/tenants/<tenant id>/` with the same parts a hub has but no
//! device transports: its SQLite store, its replica (a samod repo of its
//! own, so one tenant's documents can never be offered to another's
//! peers), accounts, devices (telemetry ingested from its hubs) and the
//! same `/api/v1` router. Nodes open on first use and stay open.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use samod::PeerId;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::node::{Node, NodeError, NodeOptions};
use crate::state_dir::{StateDir, StateDirError};
use crate::tenancy::policy::DocIds;

/// What fails to open a tenant.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error(transparent)]
    StateDir(#[from] StateDirError),
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// One tenant on the cloud: a [`Node`] (read through it) and what the
/// cloud adds to it.
pub struct TenantNode {
    pub tenant_id: String,
    node: Node,
    /// The tenant's `/api/v1` (mounted under `/tenants/<id>`).
    pub router: axum::Router,
    _dir: StateDir,
    /// Serializes adoption of the tenant's documents.
    adopting: tokio::sync::Mutex<()>,
    /// Links to the devices connected to the tenant's hubs.
    pub relay: Arc<crate::cloud::relay::Relay>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for TenantNode {
    type Target = Node;

    fn deref(&self) -> &Node {
        &self.node
    }
}

impl TenantNode {
    async fn open(
        dir: PathBuf,
        tenant_id: &str,
        options: NodeOptions,
        shutdown: &CancellationToken,
    ) -> Result<Self, TenantError> {
        let dir = StateDir::acquire(&dir)?;
        let node = Node::open(dir.path(), options, shutdown).await?;
        let router = api::router(node.api_state(shutdown.clone()));
        let relay = Arc::new(crate::cloud::relay::Relay::default());
        let sweeper = tokio::spawn(sweep(relay.clone(), shutdown.clone()));
        Ok(TenantNode {
            relay,
            sweeper,
            tenant_id: tenant_id.to_owned(),
            node,
            router,
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
        self.relay.close().await;
        self.node.close().await;
    }
}

/// Drops the relay's links to devices whose hubs went quiet, until shutdown.
async fn sweep(relay: Arc<crate::cloud::relay::Relay>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => relay.sweep(),
        }
    }
}

/// Every open tenant node.
pub struct Tenants {
    root: PathBuf,
    /// Every tenant's settings, from the cloud's configuration.
    options: NodeOptions,
    shutdown: CancellationToken,
    nodes: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<TenantNode>>>>>,
}

impl Tenants {
    /// Tenants under `root`, each opened with `options` (whose role is a
    /// cloud tenant's), their tasks ending with `shutdown`.
    pub fn new(root: PathBuf, options: NodeOptions, shutdown: CancellationToken) -> Self {
        Tenants {
            root,
            options,
            shutdown,
            nodes: std::sync::Mutex::default(),
        }
    }

    /// The node of `tenant` (a valid id the registry knows), opened if needed.
    ///
    /// # Errors
    /// [`TenantError`] when its state cannot be opened.
    pub async fn node(&self, tenant: &str) -> Result<Arc<TenantNode>, TenantError> {
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
                self.options.clone(),
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
