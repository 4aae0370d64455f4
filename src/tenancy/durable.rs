//! One tenancy document held by samod, made durable the way an
//! acknowledged operation needs.
//!
//! samod persists changes in the background and cannot say when a given
//! change is on disk. So every local change is also appended to
//! `tenancy_changes` (under the document's kind) with a `synchronous=FULL`
//! commit *before* the operation returns; at start the log is replayed into
//! the document (applying a change twice is a no-op, M6), and after a clean
//! stop, once samod has flushed, the log is emptied (by the replica, `replica.rs`). A document's
//! id is never recorded before samod has stored the document, and `change` never reports
//! success before the change's log entry is committed.

use std::str::FromStr;
use std::time::Duration;

use automerge::Automerge;
use rusqlite::OptionalExtension;
use samod::{DocHandle, DocumentId, Repo};

use super::replica::ReplicaError;
use super::storage::SqliteStorage;
use crate::store::{Durability, Store};

/// How long loading a document from local storage may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A document of one kind (`tenant`, `credentials`) and its change log.
pub(super) struct DurableDoc {
    kind: &'static str,
    handle: DocHandle,
    store: Store,
}

impl DurableDoc {
    /// The recorded document of `kind`, loaded and with unflushed local
    /// changes replayed; `None` if none is recorded.
    pub(super) async fn open(
        repo: &Repo,
        store: &Store,
        kind: &'static str,
    ) -> Result<Option<Self>, ReplicaError> {
        let recorded: Option<String> = store
            .read(move |c| {
                c.query_row(
                    "SELECT doc_id FROM tenancy_docs WHERE kind = ?1",
                    [kind],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        let Some(id) = recorded else {
            return Ok(None);
        };
        let doc_id = DocumentId::from_str(&id).map_err(|_| ReplicaError::Missing(id.clone()))?;
        // Without a peer, samod's find waits for one if storage lacks the
        // document; `create` makes sure storage has it, so this is bounded.
        let handle = tokio::time::timeout(LOAD_TIMEOUT, repo.find(doc_id))
            .await
            .map_err(|_| ReplicaError::Missing(id.clone()))?
            .map_err(|_| ReplicaError::Stopped)?
            .ok_or_else(|| ReplicaError::Missing(id.clone()))?;
        let doc = DurableDoc {
            kind,
            handle,
            store: store.clone(),
        };
        doc.replay().await?;
        Ok(Some(doc))
    }

    async fn replay(&self) -> Result<(), ReplicaError> {
        let kind = self.kind;
        let changes: Vec<Vec<u8>> = self
            .store
            .read(move |c| {
                let mut stmt =
                    c.prepare("SELECT change FROM tenancy_changes WHERE kind = ?1 ORDER BY seq")?;
                stmt.query_map([kind], |r| r.get(0))?.collect()
            })
            .await?;
        if changes.is_empty() {
            return Ok(());
        }
        let failed = self.handle.with_document(|doc| {
            changes
                .iter()
                .filter(|bytes| doc.load_incremental(bytes).is_err())
                .count()
        });
        if failed > 0 {
            tracing::error!(
                kind,
                failed,
                "tenancy: some logged changes could not be replayed"
            );
        }
        tracing::info!(
            kind,
            changes = changes.len(),
            "tenancy: replayed local changes not yet flushed"
        );
        Ok(())
    }

    /// Gives `doc` to samod as the document of `kind` and records it, once
    /// samod has stored it (the id must be on disk before it is recorded:
    /// later changes are covered by the change log, the id is not).
    pub(super) async fn create(
        repo: &Repo,
        storage: &SqliteStorage,
        store: &Store,
        kind: &'static str,
        doc: Automerge,
    ) -> Result<Self, ReplicaError> {
        let snapshot = doc.save();
        let handle = repo.create(doc).await.map_err(|_| ReplicaError::Stopped)?;
        let doc_id = handle.document_id().to_string();
        tokio::time::timeout(LOAD_TIMEOUT, storage.stored(&doc_id))
            .await
            .map_err(|_| ReplicaError::Missing(doc_id.clone()))??;
        store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO tenancy_docs (kind, doc_id) VALUES (?1, ?2)",
                    [kind, &doc_id],
                )?;
                c.execute(
                    "INSERT INTO tenancy_changes (kind, change) VALUES (?1, ?2)",
                    rusqlite::params![kind, snapshot],
                )
            })
            .await?;
        Ok(DurableDoc {
            kind,
            handle,
            store: store.clone(),
        })
    }

    /// Takes the document `doc_id` of `kind` from a connected peer (or
    /// storage) and records it, once samod has stored it.
    pub(super) async fn adopt(
        repo: &Repo,
        storage: &SqliteStorage,
        store: &Store,
        kind: &'static str,
        doc_id: DocumentId,
    ) -> Result<Self, ReplicaError> {
        let handle = tokio::time::timeout(LOAD_TIMEOUT, repo.find(doc_id))
            .await
            .map_err(|_| ReplicaError::NotOffered(kind))?
            .map_err(|_| ReplicaError::Stopped)?
            .ok_or(ReplicaError::NotOffered(kind))?;
        let id = handle.document_id().to_string();
        tokio::time::timeout(LOAD_TIMEOUT, storage.stored(&id))
            .await
            .map_err(|_| ReplicaError::Missing(id.clone()))??;
        store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO tenancy_docs (kind, doc_id) VALUES (?1, ?2)",
                    [kind, &id],
                )
            })
            .await?;
        Ok(DurableDoc {
            kind,
            handle,
            store: store.clone(),
        })
    }

    pub(super) fn handle(&self) -> &DocHandle {
        &self.handle
    }

    /// Runs `f` on the document; if it made a local change, that change is
    /// on disk before this returns.
    ///
    /// # Errors
    /// A storage failure (the change then stays in memory and syncs, but
    /// was not acknowledged).
    pub(super) async fn change<R: Send>(
        &self,
        f: impl FnOnce(&mut Automerge) -> R,
    ) -> Result<R, ReplicaError> {
        let (result, change) = self.handle.with_document(|doc| {
            let before = doc.get_heads();
            let result = f(doc);
            let change = (doc.get_heads() != before)
                .then(|| doc.get_last_local_change().map(|c| c.raw_bytes().to_vec()))
                .flatten();
            (result, change)
        });
        if let Some(change) = change {
            let kind = self.kind;
            self.store
                .write(Durability::Acknowledged, move |c| {
                    c.execute(
                        "INSERT INTO tenancy_changes (kind, change) VALUES (?1, ?2)",
                        rusqlite::params![kind, change],
                    )
                })
                .await?;
        }
        Ok(result)
    }
}
