//! The links this hub keeps to other replicas of its tenant, and the
//! read-only replication grants it issued.
//!
//! A link is made once (`hearth cloud link URL CODE`: the cloud adopts the
//! tenant and answers with this hub's credential), stored in SQLite (the
//! state directory is readable by the service user only) and dialed on
//! every start; samod then reconnects forever, backing off exponentially
//! with jitter up to `[sync] max_backoff_secs`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use samod::{BackoffConfig, DialerHandle, PeerId};
use serde_json::json;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;

use super::delivery::Delivery;
use super::dial::{DialFailure, WsDialer, sync_url};
use crate::devices::outbox::{Outbox, OutboxStats};
use crate::store::{Durability, Store, StoreError};
use crate::tenancy::Replica;
use crate::tenancy::policy::CLOUD_PEER;

mod grants;
mod pairing;
mod watch;
pub use pairing::Pairing;
use watch::{drop_revoked, watch_link};

/// The cloud's sync route.
pub const CLOUD_SYNC_PATH: &str = "/cloud/v1/sync";
/// A hub's sync route.
pub const HUB_SYNC_PATH: &str = "/api/v1/sync";

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("this hub has no household yet: set it up first")]
    NoTenant,
    #[error("{0}")]
    BadUrl(String),
    #[error("the cloud cannot be reached: {0}")]
    Unreachable(String),
    #[error("the cloud refused the link: {0}")]
    Refused(String),
    #[error("this hub is already linked to {0}")]
    AlreadyLinked(String),
    #[error(transparent)]
    Dial(#[from] DialFailure),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("the replica has stopped")]
    Stopped,
}

/// A peer this hub dials.
#[derive(Debug, Clone)]
pub struct Dialed {
    /// The peer's API (`https://host:port`).
    pub url: String,
    pub token: String,
    pub fingerprint: Option<String>,
    pub peer: String,
    pub linked: i64,
}

impl Dialed {
    /// A client of the peer's API carrying this link's credential.
    ///
    /// # Errors
    /// What is wrong with the link's URL.
    pub fn client(&self) -> Result<crate::client::Client, String> {
        let mut client = crate::client::Client::for_url(&self.url, self.fingerprint.as_deref())?;
        client.token = Some(self.token.clone());
        Ok(client)
    }
}

/// How a link stands, kept up to date from its dialer's events.
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct LinkState {
    /// Unix ms since when it is connected, when it is.
    pub connected_since: Option<i64>,
    /// Unix ms since when it is not (since start, when it never was).
    pub down_since: Option<i64>,
    /// Why the last attempt or connection failed.
    pub last_error: Option<String>,
}

struct Dialer {
    dialed: Dialed,
    handle: DialerHandle,
    state: Arc<Mutex<LinkState>>,
    /// The task keeping `state`, and the one delivering telemetry.
    tasks: Vec<tokio::task::AbortHandle>,
    delivery: Arc<Mutex<Delivery>>,
}

/// A link as `hearth sync status` shows it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct LinkStatus {
    pub url: String,
    pub peer: String,
    pub linked: i64,
    pub connected: bool,
    #[serde(flatten)]
    pub state: LinkState,
    /// Each document's sync with this peer (empty while not connected).
    pub docs: Vec<crate::tenancy::replica::DocSync>,
    /// Telemetry delivered to this peer (the cloud).
    pub telemetry: Delivery,
}

/// This hub's sync links: owns the dialers (samod runs them).
pub struct SyncLinks {
    replica: Arc<Replica>,
    store: Store,
    hub_id: String,
    backoff: BackoffConfig,
    dialers: Mutex<Vec<Dialer>>,
    /// Telemetry for the cloud, and the devices core whose writer fills it
    /// (none on the cloud's own nodes).
    outbox: Option<(Arc<Outbox>, Arc<crate::devices::Devices>)>,
    /// SHA-256 of this node's API certificate (what peers dialing it pin),
    /// once it serves one (see [`SyncLinks::serve_with_certificate`]).
    fingerprint: std::sync::OnceLock<String>,
    /// A child of the node's shutdown token; [`SyncLinks::close`] cancels it.
    shutdown: CancellationToken,
    /// The node's wall clock (links' states and deliveries are stamped by it).
    clock: Clock,
    /// Every task the links run (state watchers, telemetry delivery,
    /// command polls, the revocation watch); joined by [`SyncLinks::close`].
    tasks: TaskTracker,
    /// The peers that dialed this node and are connected.
    incoming: Arc<super::accept::Incoming>,
}

impl SyncLinks {
    /// Dials every stored link; every task it starts ends with `shutdown`
    /// (or [`SyncLinks::close`]).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn start(
        replica: Arc<Replica>,
        store: Store,
        hub_id: &str,
        max_backoff: Duration,
        clock: Clock,
        outbox: Option<(Arc<Outbox>, Arc<crate::devices::Devices>)>,
        shutdown: &CancellationToken,
    ) -> Result<Arc<SyncLinks>, StoreError> {
        let links = Arc::new(SyncLinks {
            replica,
            store,
            hub_id: hub_id.to_owned(),
            backoff: BackoffConfig {
                initial_delay: Duration::from_millis(200).min(max_backoff),
                max_delay: max_backoff,
                max_retries: None,
            },
            dialers: Mutex::default(),
            outbox,
            fingerprint: std::sync::OnceLock::new(),
            shutdown: shutdown.child_token(),
            tasks: TaskTracker::new(),
            incoming: Arc::default(),
            clock,
        });
        let dialed_links = links.dialed_links().await?;
        // Linked, but the outbox never turned on (a crash in between):
        // turn it on now, history first.
        if let Some((outbox, devices)) = &links.outbox
            && !outbox.enabled()
            && dialed_links.iter().any(|u| u.peer == CLOUD_PEER)
        {
            devices.start_outbox().await?;
        }
        for dialed in dialed_links {
            if let Err(e) = links.dial(dialed) {
                tracing::error!("sync: a stored link cannot be dialed: {e}");
            }
        }
        links.tasks.spawn(drop_revoked(
            Arc::downgrade(&links),
            links.replica.subscribe(),
            links.shutdown.clone(),
        ));
        Ok(links)
    }

    async fn dialed_links(&self) -> Result<Vec<Dialed>, StoreError> {
        self.store
            .read(|c| {
                let mut stmt =
                    c.prepare("SELECT url, token, fingerprint, peer, linked FROM sync_uplinks")?;
                stmt.query_map([], |r| {
                    Ok(Dialed {
                        url: r.get(0)?,
                        token: r.get(1)?,
                        fingerprint: r.get(2)?,
                        peer: r.get(3)?,
                        linked: r.get(4)?,
                    })
                })?
                .collect()
            })
            .await
    }

    fn dial(&self, dialed: Dialed) -> Result<(), LinkError> {
        let state = Arc::new(Mutex::new(LinkState {
            down_since: Some(self.clock.now_ms()),
            ..LinkState::default()
        }));
        let dialer = WsDialer {
            url: sync_url(
                &dialed.url,
                if dialed.peer == CLOUD_PEER {
                    CLOUD_SYNC_PATH
                } else {
                    HUB_SYNC_PATH
                },
            )?,
            token: dialed.token.clone(),
            fingerprint: dialed.fingerprint.clone(),
            expected: PeerId::from(dialed.peer.as_str()),
            failures: state.clone(),
            tasks: self.replica.tasks().clone(),
        };
        let handle = self
            .replica
            .repo()
            .dial(self.backoff.clone(), Arc::new(dialer))
            .map_err(|_| LinkError::Stopped)?;
        tracing::info!(peer = %dialed.peer, url = %dialed.url, "sync: dialing");
        let watcher = self.tasks.spawn(watch_link(
            handle.clone(),
            state.clone(),
            dialed.peer.clone(),
            self.clock.clone(),
        ));
        let mut tasks = vec![watcher.abort_handle()];
        let delivery = Arc::new(Mutex::new(Delivery::default()));
        if let (Some((outbox, devices)), CLOUD_PEER) = (&self.outbox, dialed.peer.as_str()) {
            let task = self.tasks.spawn(super::delivery::deliver(
                outbox.clone(),
                self.store.clone(),
                dialed.clone(),
                self.backoff.max_delay,
                delivery.clone(),
                self.clock.clone(),
                self.shutdown.clone(),
            ));
            tasks.push(task.abort_handle());
            let task = self.tasks.spawn(super::commands::poll(
                devices.clone(),
                dialed.clone(),
                self.backoff.max_delay,
                delivery.clone(),
                self.shutdown.clone(),
            ));
            tasks.push(task.abort_handle());
        }
        self.dialers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Dialer {
                dialed,
                handle,
                state,
                tasks,
                delivery,
            });
        Ok(())
    }

    /// Links this hub's household to the cloud at `url` with a one-time
    /// `code` the cloud issued, then dials it. The cloud adopts the tenant
    /// as it is here: nothing made offline is lost or duplicated.
    ///
    /// Returns the path of the tenant's API on the cloud.
    ///
    /// # Errors
    /// [`LinkError`] saying what went wrong and where.
    pub async fn link_cloud(
        &self,
        url: &str,
        code: &str,
        fingerprint: Option<&str>,
        now: i64,
    ) -> Result<String, LinkError> {
        let ids = self.replica.doc_ids().ok_or(LinkError::NoTenant)?;
        let tenant_id = self.replica.tenant_id().ok_or(LinkError::NoTenant)?;
        if let Some(existing) = self
            .dialed_links()
            .await?
            .into_iter()
            .find(|u| u.peer == CLOUD_PEER)
        {
            return Err(LinkError::AlreadyLinked(existing.url));
        }
        sync_url(url, CLOUD_SYNC_PATH)?;
        let client = crate::client::Client::for_url(url, fingerprint).map_err(LinkError::BadUrl)?;
        let body = json!({
            "code": code,
            "hub_id": self.hub_id,
            "tenant_id": tenant_id,
            "tenant_doc": ids.tenant.to_string(),
            "credentials_doc": ids.credentials.to_string(),
        });
        let reply = client
            .request("POST", "/cloud/v1/link", Some(body))
            .await
            .map_err(|e| LinkError::Unreachable(e.to_string()))?
            .ok()
            .map_err(LinkError::Refused)?;
        let token = reply["token"]
            .as_str()
            .ok_or_else(|| LinkError::Refused("the answer carries no credential".into()))?;
        let dialed = Dialed {
            url: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            fingerprint: fingerprint.map(str::to_owned),
            peer: CLOUD_PEER.to_owned(),
            linked: now,
        };
        self.store_dialed(&dialed).await?;
        tracing::info!(url = %dialed.url, "sync: linked to the cloud");
        if let Some((_, devices)) = &self.outbox {
            devices.start_outbox().await?;
        }
        self.dial(dialed)?;
        Ok(reply["api"].as_str().unwrap_or_default().to_owned())
    }

    /// Whether this hub's own link to `peer` is connected now.
    fn is_connected(&self, peer: &str) -> bool {
        self.dialers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|l| l.dialed.peer == peer && l.handle.is_connected())
    }

    /// Stops and forgets the link to `peer`.
    async fn forget(&self, peer: &str) -> Result<(), StoreError> {
        let gone: Vec<Dialer> = {
            let mut dialers = self.dialers.lock().unwrap_or_else(PoisonError::into_inner);
            let (gone, kept) = dialers.drain(..).partition(|l| l.dialed.peer == peer);
            *dialers = kept;
            gone
        };
        for link in gone {
            for task in link.tasks {
                task.abort();
            }
            link.handle.close();
        }
        let peer = peer.to_owned();
        self.store
            .write(Durability::Acknowledged, move |c| {
                c.execute("DELETE FROM sync_uplinks WHERE peer = ?1", [peer])
            })
            .await?;
        Ok(())
    }

    async fn store_dialed(&self, dialed: &Dialed) -> Result<(), StoreError> {
        let row = dialed.clone();
        self.store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO sync_uplinks (url, token, fingerprint, peer, linked)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![row.url, row.token, row.fingerprint, row.peer, row.linked],
                )
            })
            .await?;
        Ok(())
    }

    /// Each link: connected or since when not, and how its documents stand.
    /// Lists `peer` among those connected to this node until the guard
    /// is dropped (when its connection ends).
    pub fn connected(&self, peer: &PeerId) -> super::accept::Connected {
        self.incoming.enter(peer, self.clock.now_ms())
    }

    /// The peers that dialed this node and are connected now.
    pub fn incoming(&self) -> Vec<super::accept::IncomingLink> {
        self.incoming.list()
    }

    pub fn status(&self) -> Vec<LinkStatus> {
        self.dialers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|link| {
                let conn = link
                    .handle
                    .connection_id()
                    .filter(|_| link.handle.is_connected());
                LinkStatus {
                    url: link.dialed.url.clone(),
                    peer: link.dialed.peer.clone(),
                    linked: link.dialed.linked,
                    connected: conn.is_some(),
                    state: link
                        .state
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                    docs: conn.map(|c| self.replica.sync_state(c)).unwrap_or_default(),
                    telemetry: link
                        .delivery
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                }
            })
            .collect()
    }

    /// The outbox's depth and losses (none on the cloud's nodes).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn outbox(&self) -> Result<Option<OutboxStats>, StoreError> {
        match &self.outbox {
            Some((outbox, _)) => Ok(Some(outbox.stats(&self.store).await?)),
            None => Ok(None),
        }
    }

    /// Stops dialing and delivering and waits for the links' tasks (the
    /// repo's own stop closes the connections).
    pub async fn close(&self) {
        self.shutdown.cancel();
        for link in self
            .dialers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            for task in link.tasks {
                task.abort();
            }
            link.handle.close();
        }
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(5), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("sync: the links' tasks did not end");
        }
    }
}
