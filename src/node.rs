//! One household's parts, the composition root the hub and every cloud
//! tenant share: [`Node::open`] opens the store, replica, accounts, devices
//! (with the history writer and retention), BLE and sync links in the order
//! they depend on, and [`Node::close`] closes them in reverse, also when an
//! open fails half way.
//!
//! A node owns no listener and knows nothing of who serves it: the hub and
//! the cloud bind, serve, advertise and write the runtime file. Every task
//! it starts ends with the token it is given. It never reads the system
//! clock itself: the [`Clock`] in its options is the one every part reads.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use samod::PeerId;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::accounts::{AccountError, Accounts};
use crate::api;
use crate::ble::Ble;
use crate::clock::Clock;
use crate::config::Config;
use crate::devices::allowance::RequestAllowances;
use crate::devices::outbox::Outbox;
use crate::devices::{Devices, Retention};
use crate::store::{Identity, Schema, Store, StoreError, StoreThread};
use crate::sync::links::SyncLinks;
use crate::tasks::Restarts;
use crate::tenancy::policy::CLOUD_PEER;
use crate::tenancy::{Replica, ReplicaError};

/// Every part's tables, in the order they were added: the store's own
/// (version 1, `meta`) comes first, then these (version 2 on). Only ever
/// appended: hubs in the field have run every entry.
pub const SCHEMA: Schema = &[
    // 2: the CRDT documents. samod's own storage (its key space, `/`-joined),
    // which documents this hub holds, and the durable log of local changes
    // that makes an acknowledged sharing operation survive a crash.
    "CREATE TABLE crdt_storage (
        key  TEXT PRIMARY KEY NOT NULL,
        data BLOB NOT NULL
    ) STRICT;
    CREATE TABLE tenancy_docs (
        kind   TEXT PRIMARY KEY NOT NULL,
        doc_id TEXT NOT NULL
    ) STRICT;
    CREATE TABLE tenancy_changes (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        kind   TEXT NOT NULL,
        change BLOB NOT NULL
    ) STRICT;",
    // 3: login sessions, local to this hub (DESIGN §3). Only a keyed hash
    // of each bearer token is stored.
    "CREATE TABLE sessions (
        id         TEXT PRIMARY KEY NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        user       TEXT NOT NULL,
        label      TEXT NOT NULL,
        created    INTEGER NOT NULL,
        expires    INTEGER NOT NULL
    ) STRICT;",
    // 4: device telemetry: live values, history, rollups, events.
    crate::devices::history::MIGRATION,
    // 5: the BLE adoption inbox; bind keys and mappings local to this hub.
    crate::ble::inbox::MIGRATION,
    // 6: sync links and grants, the cloud's registry, the telemetry outbox.
    crate::sync::MIGRATION,
    // 7: properties devices set on their pins (kept across restarts).
    crate::devices::history::PROPERTIES_MIGRATION,
    // 8: the value journal, where values are first made durable.
    crate::devices::history::journal::MIGRATION,
];

/// What fails to open a node, by part.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("tenancy: {0}")]
    Tenancy(#[from] ReplicaError),
    #[error("accounts: {0}")]
    Accounts(#[from] AccountError),
    #[error("devices: {0}")]
    Devices(StoreError),
    #[error("sync: {0}")]
    Sync(StoreError),
}

/// Whose node it is: a hub's own household, or a tenant on the cloud.
#[derive(Debug, Clone)]
pub enum Role {
    /// A hub: its replica syncs as the hub, and telemetry for the cloud
    /// goes through an outbox bounded at `outbox_max` rows.
    Hub { outbox_max: u64 },
    /// A tenant on the cloud `cloud_id`: it syncs as the cloud and takes
    /// telemetry from its hubs (no outbox).
    CloudTenant { cloud_id: String },
}

/// The settings a node takes from the configuration (none hard-coded).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub role: Role,
    pub batch_max: usize,
    pub history_rows_per_day: u64,
    pub max_backoff: Duration,
    pub retention: Retention,
    /// The node's one wall clock (the system's, or a test's manual one).
    pub clock: Clock,
    /// Messages a device may send per second through Blynk's HTTP device
    /// API (the Blynk transport's allowance).
    pub http_messages_per_second: u32,
    /// Where the node's restarting loops count their failures (the
    /// runtime's, so `/metrics` shows them with its parts').
    pub restarts: Arc<Restarts>,
    /// The API is served over TLS, so the browser's session cookie is
    /// `Secure` (`api.tls`).
    pub secure_cookies: bool,
}

impl NodeOptions {
    pub fn new(config: &Config, role: Role) -> Self {
        NodeOptions {
            role,
            batch_max: config.store.batch_max,
            history_rows_per_day: config.devices.history_rows_per_day,
            max_backoff: Duration::from_secs(config.sync.max_backoff_secs),
            retention: Retention {
                raw_days: config.devices.retention_days,
                per_pin: Vec::new(),
                minute_days: config.devices.minute_rollup_days,
                hour_days: config.devices.hour_rollup_days,
            },
            clock: Clock::system(),
            http_messages_per_second: config.blynk.messages_per_second,
            secure_cookies: config.api.tls,
            restarts: Arc::default(),
        }
    }

    /// These options counting failures in `restarts`.
    pub fn with_restarts(mut self, restarts: Arc<Restarts>) -> Self {
        self.restarts = restarts;
        self
    }

    /// These options on `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// One household's open parts. Always [`Node::close`] it.
pub struct Node {
    /// The id the node speaks as (the hub's, or the cloud's for a tenant).
    pub id: Arc<str>,
    /// The store's own identity (for a tenant, not the id it speaks as).
    pub identity: Identity,
    pub store: Store,
    pub replica: Arc<Replica>,
    pub accounts: Arc<Accounts>,
    pub devices: Arc<Devices>,
    pub ble: Arc<Ble>,
    pub sync: Arc<SyncLinks>,
    /// The wall clock every part of this node reads.
    pub clock: Clock,
    /// Allowances of devices writing through the HTTP device API.
    device_requests: Arc<RequestAllowances>,
    /// Failures of restarting loops (the node's and its runtime's).
    pub restarts: Arc<Restarts>,
    /// Browser session cookies are `Secure` (the API is served over TLS).
    secure_cookies: bool,
    shutdown: CancellationToken,
    closing: Mutex<Option<Closing>>,
}

/// What [`Node::close`] (or a failed open) stops, in reverse order of opening.
struct Closing {
    store: Store,
    thread: StoreThread,
    replica: Option<Arc<Replica>>,
    devices: Option<(Arc<Devices>, JoinHandle<()>)>,
    sync: Option<Arc<SyncLinks>>,
    retention: Option<JoinHandle<()>>,
}

impl Closing {
    async fn run(self, shutdown: &CancellationToken) {
        shutdown.cancel();
        if let Some(retention) = self.retention
            && let Err(e) = retention.await
            && e.is_panic()
        {
            tracing::error!("history retention panicked: {e}");
        }
        if let Some((devices, writer)) = self.devices {
            if let Err(e) = devices.flush().await {
                tracing::error!("history: final flush failed: {e}");
            }
            writer.abort();
        }
        if let Some(sync) = self.sync {
            sync.close().await;
        }
        if let Some(replica) = self.replica {
            replica.shutdown().await;
        }
        self.store.close().await;
        self.thread.join().await;
    }
}

impl Node {
    /// Opens the household whose state is in `dir` (already locked by the
    /// caller); its tasks end with `shutdown` (a child token is taken).
    ///
    /// # Errors
    /// [`NodeError`] naming the part that could not open; what had opened
    /// is closed again before it returns.
    pub async fn open(
        dir: &Path,
        options: NodeOptions,
        shutdown: &CancellationToken,
    ) -> Result<Node, NodeError> {
        let shutdown = shutdown.child_token();
        let (store, thread, identity) = Store::open(dir, options.batch_max, SCHEMA)?;
        let mut closing = Closing {
            store: store.clone(),
            thread,
            replica: None,
            devices: None,
            sync: None,
            retention: None,
        };
        match Self::start(dir, &options, &identity, &store, &mut closing, &shutdown).await {
            Ok(parts) => Ok(Node {
                id: parts.id,
                identity,
                store,
                replica: parts.replica,
                accounts: parts.accounts,
                devices: parts.devices,
                ble: parts.ble,
                sync: parts.sync,
                clock: options.clock,
                device_requests: Arc::new(RequestAllowances::new(f64::from(
                    options.http_messages_per_second,
                ))),
                restarts: options.restarts,
                secure_cookies: options.secure_cookies,
                shutdown,
                closing: Mutex::new(Some(closing)),
            }),
            Err(e) => {
                closing.run(&shutdown).await;
                Err(e)
            }
        }
    }

    async fn start(
        dir: &Path,
        options: &NodeOptions,
        identity: &Identity,
        store: &Store,
        closing: &mut Closing,
        shutdown: &CancellationToken,
    ) -> Result<Parts, NodeError> {
        let id: Arc<str> = match &options.role {
            Role::Hub { .. } => identity.hub_id.as_str().into(),
            Role::CloudTenant { cloud_id } => cloud_id.as_str().into(),
        };
        let replica = Arc::new(match options.role {
            Role::Hub { .. } => Replica::open(store.clone(), &id).await?,
            Role::CloudTenant { .. } => {
                Replica::open_as(store.clone(), CLOUD_PEER, PeerId::from(CLOUD_PEER)).await?
            }
        });
        closing.replica = Some(replica.clone());
        let accounts = Arc::new(
            Accounts::open(
                replica.clone(),
                store.clone(),
                dir.to_owned(),
                options.clock.clone(),
            )
            .await?,
        );
        let outbox = match options.role {
            Role::Hub { outbox_max } => Some(Arc::new(
                Outbox::open(store, outbox_max)
                    .await
                    .map_err(NodeError::Sync)?,
            )),
            Role::CloudTenant { .. } => None,
        };
        let (devices, writer) = Devices::open(
            replica.clone(),
            store.clone(),
            outbox.clone(),
            options.history_rows_per_day,
            options.clock.clone(),
        )
        .await
        .map_err(NodeError::Devices)?;
        closing.devices = Some((devices.clone(), writer));
        let ble = Ble::open(devices.clone(), store.clone())
            .await
            .map_err(NodeError::Devices)?;
        let sync = SyncLinks::start(
            replica.clone(),
            store.clone(),
            &id,
            options.max_backoff,
            options.clock.clone(),
            outbox.map(|outbox| (outbox, devices.clone())),
            shutdown,
        )
        .await
        .map_err(NodeError::Sync)?;
        closing.sync = Some(sync.clone());
        let (retained, retention, stop) =
            (devices.clone(), options.retention.clone(), shutdown.clone());
        closing.retention = Some(tokio::spawn(crate::tasks::restarting(
            "history retention",
            options.restarts.clone(),
            shutdown.clone(),
            move || {
                retained
                    .clone()
                    .run_retention(retention.clone(), stop.clone())
            },
        )));
        Ok(Parts {
            id,
            replica,
            accounts,
            devices,
            ble,
            sync,
        })
    }

    /// The state every `/api/v1` route of this node reads; live streams end
    /// with `shutdown` (the server's, which fires before the node closes).
    pub fn api_state(&self, shutdown: CancellationToken) -> api::AppState {
        api::AppState {
            hub_id: self.id.clone(),
            started: Instant::now(),
            accounts: self.accounts.clone(),
            replica: self.replica.clone(),
            devices: self.devices.clone(),
            ble: self.ble.clone(),
            sync: self.sync.clone(),
            clock: self.clock.clone(),
            device_requests: self.device_requests.clone(),
            restarts: self.restarts.clone(),
            secure_cookies: self.secure_cookies,
            tls: None,
            shutdown,
            device_listeners: Default::default(),
        }
    }

    /// Stops retention, flushes history, stops sync, closes the replica and
    /// the store (and waits for its thread). Only the first call does it.
    pub async fn close(&self) {
        let closing = self
            .closing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(closing) = closing {
            closing.run(&self.shutdown).await;
        }
    }
}

/// What [`Node::start`] opened after the store.
struct Parts {
    id: Arc<str>,
    replica: Arc<Replica>,
    accounts: Arc<Accounts>,
    devices: Arc<Devices>,
    ble: Arc<Ble>,
    sync: Arc<SyncLinks>,
}
