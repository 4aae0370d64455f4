//! This hub's replica of its tenant: the samod repo that holds and syncs the
//! documents, and the guarantee that an operation which returned success
//! survives `kill -9` and power loss.
//!
//! samod persists changes in the background and cannot say when a given
//! change is on disk. So every local change is also appended to
//! `tenancy_changes` with a `synchronous=FULL` commit *before* the operation
//! returns; at start the log is replayed into the document (applying a change
//! twice is a no-op, M6), and after a clean stop, once samod has flushed, the
//! log is emptied.

use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use automerge::Automerge;
use rusqlite::OptionalExtension;
use samod::{DocHandle, DocumentId, PeerId, Repo};

use super::materialized::Materialized;
use super::ops::{Founded, OpError, Tenant};
use super::state::TenantState;
use super::storage::SqliteStorage;
use crate::store::{Durability, Store, StoreError};

const TENANT: &str = "tenant";

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
}

/// How long loading the tenant document from local storage may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Replica {
    repo: Repo,
    storage: SqliteStorage,
    tenant: Option<DocHandle>,
    /// The tenant's state, refreshed incrementally from the document; only
    /// locked inside `with_document`, so always after samod's own lock.
    view: Mutex<Materialized>,
    store: Store,
    /// The name audit entries carry for operations made here (the hub id).
    name: String,
}

impl Replica {
    /// Starts the repo on the hub's database and loads the tenant document,
    /// replaying any local changes a crash left unflushed.
    ///
    /// # Errors
    /// [`ReplicaError`] when the recorded document cannot be loaded.
    pub async fn open(store: Store, hub_id: &str) -> Result<Self, ReplicaError> {
        let storage = SqliteStorage::new(store.clone());
        let repo = Repo::build_tokio()
            .with_storage(storage.clone())
            .with_peer_id(PeerId::from(format!("hub-{hub_id}")))
            .load()
            .await;
        let mut replica = Replica {
            repo,
            storage,
            tenant: None,
            view: Mutex::default(),
            store,
            name: hub_id.to_owned(),
        };
        let recorded: Option<String> = replica
            .store
            .read(|c| {
                c.query_row(
                    "SELECT doc_id FROM tenancy_docs WHERE kind = ?1",
                    [TENANT],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        if let Some(id) = recorded {
            let doc_id =
                DocumentId::from_str(&id).map_err(|_| ReplicaError::Missing(id.clone()))?;
            // Without a peer, samod's find waits for one if storage lacks the
            // document; `found` makes sure storage has it, so this is bounded.
            let handle = tokio::time::timeout(LOAD_TIMEOUT, replica.repo.find(doc_id))
                .await
                .map_err(|_| ReplicaError::Missing(id.clone()))?
                .map_err(|_| ReplicaError::Stopped)?
                .ok_or_else(|| ReplicaError::Missing(id.clone()))?;
            replica.replay(&handle).await?;
            replica.tenant = Some(handle);
            // Materialize now, so the first request does not pay for it.
            if let Err(e) = replica.with_state(|_| ()) {
                tracing::error!("tenancy: the household's state cannot be read: {e}");
            }
        }
        Ok(replica)
    }

    async fn replay(&self, handle: &DocHandle) -> Result<(), ReplicaError> {
        let changes: Vec<Vec<u8>> = self
            .store
            .read(|c| {
                let mut stmt =
                    c.prepare("SELECT change FROM tenancy_changes WHERE kind = ?1 ORDER BY seq")?;
                stmt.query_map([TENANT], |r| r.get(0))?.collect()
            })
            .await?;
        if changes.is_empty() {
            return Ok(());
        }
        let failed = handle.with_document(|doc| {
            changes
                .iter()
                .filter(|bytes| doc.load_incremental(bytes).is_err())
                .count()
        });
        if failed > 0 {
            tracing::error!(failed, "tenancy: some logged changes could not be replayed");
        }
        tracing::info!(
            changes = changes.len(),
            "tenancy: replayed local changes not yet flushed"
        );
        Ok(())
    }

    /// Creates this hub's household (first setup).
    ///
    /// # Errors
    /// [`ReplicaError::AlreadyFounded`] if there is one; invalid input.
    pub async fn found(
        &mut self,
        root_name: &str,
        admin_email: &str,
        now: i64,
    ) -> Result<Founded, ReplicaError> {
        if self.tenant.is_some() {
            return Err(ReplicaError::AlreadyFounded);
        }
        let (tenant, founded) = Tenant::found(&self.name, root_name, admin_email, now)?;
        self.install(tenant.into_doc()).await?;
        Ok(founded)
    }

    /// Makes `doc` this hub's tenant document, durably: a newly founded
    /// household, or one brought in whole (such as the benchmark's
    /// generated tenant).
    ///
    /// # Errors
    /// [`ReplicaError::AlreadyFounded`] if there is one; storage failures.
    pub async fn install(&mut self, doc: Automerge) -> Result<(), ReplicaError> {
        if self.tenant.is_some() {
            return Err(ReplicaError::AlreadyFounded);
        }
        let snapshot = doc.save();
        let handle = self
            .repo
            .create(doc)
            .await
            .map_err(|_| ReplicaError::Stopped)?;
        let doc_id = handle.document_id().to_string();
        // The document's identity must be on disk before it is recorded:
        // later changes are covered by the change log, its id is not.
        tokio::time::timeout(LOAD_TIMEOUT, self.storage.stored(&doc_id))
            .await
            .map_err(|_| ReplicaError::Missing(doc_id.clone()))??;
        self.store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO tenancy_docs (kind, doc_id) VALUES (?1, ?2)",
                    [TENANT, &doc_id],
                )?;
                c.execute(
                    "INSERT INTO tenancy_changes (kind, change) VALUES (?1, ?2)",
                    rusqlite::params![TENANT, snapshot],
                )
            })
            .await?;
        self.tenant = Some(handle);
        Ok(())
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
        let handle = self.tenant.as_ref().ok_or(ReplicaError::NoTenant)?;
        let (result, change) = handle.with_document(|doc| {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            Tenant::with_doc(doc, &mut view, &self.name, |t| {
                let before = t.doc().get_heads();
                let result = op(t);
                let change = (t.doc().get_heads() != before)
                    .then(|| {
                        t.doc()
                            .get_last_local_change()
                            .map(|c| c.raw_bytes().to_vec())
                    })
                    .flatten();
                (result, change)
            })
        });
        if let Some(change) = change {
            self.store
                .write(Durability::Acknowledged, move |c| {
                    c.execute(
                        "INSERT INTO tenancy_changes (kind, change) VALUES (?1, ?2)",
                        rusqlite::params![TENANT, change],
                    )
                })
                .await?;
        }
        Ok(result?)
    }

    /// Runs `f` on the merged state now (refreshed with whatever sync or
    /// local operations changed since the last look).
    ///
    /// # Errors
    /// [`ReplicaError::NoTenant`] before first setup.
    pub fn with_state<R>(&self, f: impl FnOnce(&TenantState) -> R) -> Result<R, ReplicaError> {
        let handle = self.tenant.as_ref().ok_or(ReplicaError::NoTenant)?;
        let result = handle.with_document(|doc| {
            let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
            view.refresh(doc).map(f)
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

    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    /// Stops the repo (it flushes everything to storage), then empties the
    /// change log, which is no longer needed to recover.
    pub async fn shutdown(self) {
        self.repo.stop().await;
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
