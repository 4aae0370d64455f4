//! This hub's replica of its tenant: the samod repo that holds and syncs the
//! tenant's two documents (sharing state, credentials), and the guarantee
//! that an operation which returned success survives `kill -9` and power
//! loss (see [`durable`](super::durable)).

use std::sync::{Mutex, OnceLock, PoisonError};

use automerge::Automerge;
use futures_util::StreamExt;
use samod::{PeerId, Repo};

use super::credentials::{self, Credentials};
use super::durable::DurableDoc;
use super::materialized::Materialized;
use super::ops::{Founded, OpError, Tenant};
use super::policy::{DocIds, TenantPolicy, hub_peer};
use super::state::TenantState;
use super::storage::SqliteStorage;
use crate::store::{Durability, Store, StoreError};

mod passwords;
mod sync_state;
mod tasks;
mod tokens;

pub use sync_state::DocSync;
pub use tasks::RepoTasks;

const TENANT: &str = "tenant";
const CREDENTIALS: &str = "credentials";

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error("tenancy storage: {0}")]
    Store(#[from] StoreError),
    #[error("the tenant document {0} is recorded but cannot be loaded")]
    Missing(String),
    #[error("this hub already belongs to a household")]
    AlreadyFounded,
    #[error("this hub does not belong to a household yet")]
    NoTenant,
    #[error("the replica has stopped")]
    Stopped,
    #[error("no connected peer has the household's {0} document")]
    NotOffered(&'static str),
}

struct Docs {
    tenant: DurableDoc,
    credentials: DurableDoc,
}

pub struct Replica {
    repo: Repo,
    /// The repo's own tasks, owned here.
    tasks: RepoTasks,
    storage: SqliteStorage,
    /// What each peer may sync; told the documents' ids once they are known.
    policy: TenantPolicy,
    /// The tasks that turn changes received by sync into `changed`.
    watchers: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Set when shutdown begins: no connection is handed to the repo after
    /// (samod 0.16 panics when a stopped repo is given one).
    stopping: std::sync::atomic::AtomicBool,
    /// Set once: at open if the hub has a household, else by `found`.
    docs: OnceLock<Docs>,
    /// Serializes founding, so two setup requests cannot both found.
    founding: tokio::sync::Mutex<()>,
    /// The tenant's state, refreshed incrementally from the document; only
    /// locked inside `with_document`, so always after samod's own lock.
    view: Mutex<Materialized>,
    /// The credentials as last read, and the heads they were read at.
    credentials: Mutex<Option<(Vec<automerge::ChangeHash>, Credentials)>>,
    store: Store,
    /// The name audit entries carry for operations made here (the hub id).
    name: String,
    /// Bumped after every change this replica applies, so live streams
    /// recompute what their reader sees (watch coalesces: never a backlog).
    changed: tokio::sync::watch::Sender<u64>,
}

impl Replica {
    /// Starts the repo on the hub's database and loads the tenant's
    /// documents, replaying any local changes a crash left unflushed.
    ///
    /// # Errors
    /// [`ReplicaError`] when a recorded document cannot be loaded.
    pub async fn open(store: Store, hub_id: &str) -> Result<Self, ReplicaError> {
        Self::open_as(store, hub_id, hub_peer(hub_id)).await
    }

    /// [`Replica::open`] for a replica whose audit entries carry `name` and
    /// which syncs as `peer` (the cloud's replica of a tenant).
    ///
    /// # Errors
    /// As [`Replica::open`].
    pub async fn open_as(store: Store, name: &str, peer: PeerId) -> Result<Self, ReplicaError> {
        let storage = SqliteStorage::new(store.clone());
        let policy = TenantPolicy::default();
        let tasks = RepoTasks::default();
        let repo = Repo::build_tokio()
            .with_runtime(tasks.clone())
            .with_storage(storage.clone())
            .with_peer_id(peer)
            .with_share_policy(policy.clone())
            .load()
            .await;
        let replica = Replica {
            repo,
            tasks,
            storage,
            policy,
            watchers: Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            docs: OnceLock::new(),
            founding: tokio::sync::Mutex::new(()),
            view: Mutex::default(),
            credentials: Mutex::default(),
            store,
            name: name.to_owned(),
            changed: tokio::sync::watch::Sender::new(0),
        };
        if let Some(tenant) = DurableDoc::open(&replica.repo, &replica.store, TENANT).await? {
            let credentials =
                match DurableDoc::open(&replica.repo, &replica.store, CREDENTIALS).await? {
                    Some(credentials) => credentials,
                    None => {
                        let tenant_id = tenant
                            .handle()
                            .with_document(|doc| TenantState::read(doc).map(|s| s.tenant_id))
                            .map_err(OpError::from)?;
                        replica.create_credentials(&tenant_id).await?
                    }
                };
            replica.set_docs(Docs {
                tenant,
                credentials,
            });
            // Materialize now, so the first request does not pay for it.
            if let Err(e) = replica.with_state(|_| ()) {
                tracing::error!("tenancy: the household's state cannot be read: {e}");
            }
        }
        Ok(replica)
    }

    async fn create_credentials(&self, tenant_id: &str) -> Result<DurableDoc, ReplicaError> {
        let doc = credentials::create(tenant_id)?;
        DurableDoc::create(&self.repo, &self.storage, &self.store, CREDENTIALS, doc).await
    }

    /// Creates this hub's household (first setup).
    ///
    /// # Errors
    /// [`ReplicaError::AlreadyFounded`] if there is one; invalid input.
    pub async fn found(
        &self,
        root_name: &str,
        admin_email: &str,
        now: i64,
    ) -> Result<Founded, ReplicaError> {
        let (tenant, founded) = Tenant::found(&self.name, root_name, admin_email, now)?;
        self.install(tenant.into_doc()).await?;
        Ok(founded)
    }

    /// Makes `doc` this hub's sharing document, durably, with a new
    /// credentials document: a newly founded household, or one brought in
    /// whole (such as the benchmark's generated tenant).
    ///
    /// # Errors
    /// [`ReplicaError::AlreadyFounded`] if there is one; storage failures.
    pub async fn install(&self, doc: Automerge) -> Result<(), ReplicaError> {
        let _founding = self.founding.lock().await;
        if self.docs.get().is_some() {
            return Err(ReplicaError::AlreadyFounded);
        }
        let tenant_id = TenantState::read(&doc).map_err(OpError::from)?.tenant_id;
        let tenant =
            DurableDoc::create(&self.repo, &self.storage, &self.store, TENANT, doc).await?;
        let credentials = self.create_credentials(&tenant_id).await?;
        self.set_docs(Docs {
            tenant,
            credentials,
        });
        self.changed.send_modify(|v| *v += 1);
        Ok(())
    }

    /// Takes on the household whose documents are `ids` from a connected
    /// peer that has them (a hub joining a household, the cloud adopting a
    /// linked tenant), and records them, so they load from storage next time.
    ///
    /// # Errors
    /// [`ReplicaError::AlreadyFounded`] if this replica has a household;
    /// [`ReplicaError::NotOffered`] when no connected peer has a document.
    pub async fn adopt(&self, ids: DocIds) -> Result<(), ReplicaError> {
        let _founding = self.founding.lock().await;
        if self.docs.get().is_some() {
            return Err(ReplicaError::AlreadyFounded);
        }
        let tenant =
            DurableDoc::adopt(&self.repo, &self.storage, &self.store, TENANT, ids.tenant).await?;
        let credentials = DurableDoc::adopt(
            &self.repo,
            &self.storage,
            &self.store,
            CREDENTIALS,
            ids.credentials,
        )
        .await?;
        self.set_docs(Docs {
            tenant,
            credentials,
        });
        self.changed.send_modify(|v| *v += 1);
        Ok(())
    }

    /// Installs the household's documents: tells the share policy their
    /// ids and starts watching them for changes that arrive by sync.
    fn set_docs(&self, docs: Docs) {
        self.policy.set_docs(DocIds {
            tenant: docs.tenant.handle().document_id().clone(),
            credentials: docs.credentials.handle().document_id().clone(),
        });
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        for handle in [docs.tenant.handle(), docs.credentials.handle()] {
            let mut changes = handle.changes();
            let changed = self.changed.clone();
            let task = self.tasks.tracker.spawn(async move {
                while changes.next().await.is_some() {
                    changed.send_modify(|v| *v += 1);
                }
            });
            watchers.push(task.abort_handle());
        }
        let _ = self.docs.set(docs);
    }

    /// The ids of the household's documents, once this replica has them.
    pub fn doc_ids(&self) -> Option<DocIds> {
        self.docs.get().map(|d| DocIds {
            tenant: d.tenant.handle().document_id().clone(),
            credentials: d.credentials.handle().document_id().clone(),
        })
    }

    /// The heads of both documents (sharing, credentials): equal on two
    /// replicas exactly when they hold the same changes.
    pub fn heads(&self) -> Option<[Vec<automerge::ChangeHash>; 2]> {
        let docs = self.docs.get()?;
        Some([
            docs.tenant.handle().with_document(|d| d.get_heads()),
            docs.credentials.handle().with_document(|d| d.get_heads()),
        ])
    }

    /// The size in bytes of the sharing document's changes made since
    /// `heads` (what a peer that has `heads` lacks).
    pub fn change_bytes_since(&self, heads: &[automerge::ChangeHash]) -> usize {
        self.docs.get().map_or(0, |docs| {
            docs.tenant.handle().with_document(|d| {
                d.get_changes(heads)
                    .iter()
                    .map(|c| c.raw_bytes().len())
                    .sum()
            })
        })
    }

    /// The tenant's id, once this replica has a household.
    pub fn tenant_id(&self) -> Option<String> {
        self.with_state(|s| s.tenant_id.clone()).ok()
    }

    fn docs(&self) -> Result<&Docs, ReplicaError> {
        self.docs.get().ok_or(ReplicaError::NoTenant)
    }

    /// Runs a sharing operation; returns only once its change is durable.
    ///
    /// # Errors
    /// The operation's own [`OpError`], or a storage failure (then the change
    /// stays in memory and syncs, but was not acknowledged).
    pub async fn apply<R: Send>(
        &self,
        op: impl FnOnce(&mut Tenant) -> Result<R, OpError>,
    ) -> Result<R, ReplicaError> {
        let result = self
            .docs()?
            .tenant
            .change(|doc| {
                let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
                Tenant::with_doc(doc, &mut view, &self.name, op)
            })
            .await?;
        if result.is_ok() {
            self.changed.send_modify(|v| *v += 1);
        }
        Ok(result?)
    }

    /// Runs `f` on the merged state now (refreshed with whatever sync or
    /// local operations changed since the last look).
    ///
    /// # Errors
    /// [`ReplicaError::NoTenant`] before first setup.
    pub fn with_state<R>(&self, f: impl FnOnce(&TenantState) -> R) -> Result<R, ReplicaError> {
        let result = self.docs()?.tenant.handle().with_document(|doc| {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            view.refresh(doc).map(f)
        });
        Ok(result.map_err(OpError::from)?)
    }

    /// The audit log, in the document's order (read whole: see
    /// [`audit::read`](super::audit::read) for what a reader may see of it).
    ///
    /// # Errors
    /// [`ReplicaError::NoTenant`] before first setup.
    pub fn audit_log(&self) -> Result<Vec<super::state::AuditEntry>, ReplicaError> {
        let log = self
            .docs()?
            .tenant
            .handle()
            .with_document(|doc| super::read::audit_entries(doc));
        Ok(log.map_err(OpError::from)?)
    }

    /// A snapshot of the merged state now, read without holding the
    /// document: for long reads (a listing of thousands of devices), so
    /// that they run in parallel and never hold up operations.
    ///
    /// # Errors
    /// [`ReplicaError::NoTenant`] before first setup.
    pub fn snapshot(&self) -> Result<std::sync::Arc<TenantState>, ReplicaError> {
        let result = self.docs()?.tenant.handle().with_document(|doc| {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            view.refresh(doc)?;
            Ok::<_, super::read::ReadError>(view.shared())
        });
        Ok(result.map_err(OpError::from)?)
    }

    /// A copy of the merged state now.
    ///
    /// # Errors
    /// [`ReplicaError::NoTenant`] before first setup.
    pub fn state(&self) -> Result<TenantState, ReplicaError> {
        self.with_state(TenantState::clone)
    }

    /// Runs `f` on the credentials now (re-read when they changed).
    ///
    /// # Errors
    /// [`ReplicaError::NoTenant`] before first setup.
    pub fn with_credentials<R>(
        &self,
        f: impl FnOnce(&Credentials) -> R,
    ) -> Result<R, ReplicaError> {
        let result = self.docs()?.credentials.handle().with_document(|doc| {
            let mut cache = self
                .credentials
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let heads = doc.get_heads();
            if cache.as_ref().is_none_or(|(seen, _)| *seen != heads) {
                *cache = Some((heads, Credentials::read(doc)?));
            }
            Ok::<_, super::read::ReadError>(cache.as_ref().map(|(_, c)| f(c)))
        });
        result.map_err(OpError::from)?.ok_or(ReplicaError::NoTenant)
    }

    /// True once shutdown began: take no new sync connections.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    /// Where a sync connection's own tasks run (joined by [`Replica::shutdown`]).
    pub fn tasks(&self) -> &RepoTasks {
        &self.tasks
    }

    /// Notified after every accepted local operation and every change
    /// received by sync.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// True once this hub belongs to a household.
    pub fn is_founded(&self) -> bool {
        self.docs.get().is_some()
    }

    /// Stops the repo (it flushes everything to storage), then empties the
    /// change log, which is no longer needed to recover.
    pub async fn shutdown(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for watcher in self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            watcher.abort();
        }
        self.repo.stop().await;
        self.tasks.stop().await;
        let compacted = self
            .store
            .write(Durability::Acknowledged, |c| {
                c.execute("DELETE FROM tenancy_changes", [])
            })
            .await;
        match compacted {
            Ok(rows) => tracing::debug!(rows, "tenancy: change log compacted"),
            Err(e) => tracing::warn!("tenancy: change log not compacted: {e:#}"),
        }
    }
}
