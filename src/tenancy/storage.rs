//! samod's storage in our SQLite database, through the store actor.
//!
//! Keeping the CRDT chunks in the same database as everything else gives the
//! tenant document a stable id across restarts and makes `hearth backup`
//! consistent for free. samod's storage interface cannot report failures or
//! be awaited per change, so durability of local operations does not rest on
//! it: see the change log in `replica.rs`. Failures here are logged. It never opens the
//! database itself (every read and write goes to the store actor, writes as `Relaxed`), and
//! never panics or fails samod on a storage error.

use std::collections::HashMap;

use rusqlite::OptionalExtension;
use samod::storage::{Storage, StorageKey};

use std::sync::Arc;

use tokio::sync::watch;

use crate::store::{Durability, Store, StoreError};

#[derive(Clone)]
pub struct SqliteStorage {
    store: Store,
    /// Counts committed puts, so a caller can wait for one (see `stored`).
    puts: Arc<watch::Sender<u64>>,
}

impl SqliteStorage {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            puts: Arc::new(watch::channel(0).0),
        }
    }

    /// Waits until some chunk of document `doc_id` is committed.
    ///
    /// # Errors
    /// When the store stops answering.
    pub async fn stored(&self, doc_id: &str) -> Result<(), StoreError> {
        let mut puts = self.puts.subscribe();
        loop {
            let prefix = format!("{doc_id}/");
            let found: bool = self
                .store
                .read(move |c| {
                    c.query_row(
                        "SELECT EXISTS (SELECT 1 FROM crdt_storage WHERE key >= ?1 AND key < ?1 || x'ff')",
                        [&prefix],
                        |r| r.get(0),
                    )
                })
                .await?;
            if found {
                return Ok(());
            }
            if puts.changed().await.is_err() {
                return Err(StoreError::Stopped);
            }
        }
    }
}

fn key_text(key: &StorageKey) -> String {
    key.into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("/")
}

impl Storage for SqliteStorage {
    fn load(&self, key: StorageKey) -> impl Future<Output = Option<Vec<u8>>> + Send {
        let store = self.store.clone();
        let key = key_text(&key);
        async move {
            let found = store
                .read(move |c| {
                    c.query_row(
                        "SELECT data FROM crdt_storage WHERE key = ?1",
                        [&key],
                        |r| r.get(0),
                    )
                    .optional()
                })
                .await;
            found.unwrap_or_else(|e| {
                tracing::error!("crdt storage: load failed: {e:#}");
                None
            })
        }
    }

    fn load_range(
        &self,
        prefix: StorageKey,
    ) -> impl Future<Output = HashMap<StorageKey, Vec<u8>>> + Send {
        let store = self.store.clone();
        let prefix = key_text(&prefix);
        async move {
            let rows = store
                .read(move |c| {
                    // Keys under `p` are `p` itself and `p/…`; '0' sorts right after '/'.
                    let (low, high) = if prefix.is_empty() {
                        (String::new(), "\u{10ffff}".to_owned())
                    } else {
                        (format!("{prefix}/"), format!("{prefix}0"))
                    };
                    let mut stmt = c.prepare(
                        "SELECT key, data FROM crdt_storage WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
                    )?;
                    stmt.query_map([&prefix, &low, &high], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<(String, Vec<u8>)>>>()
                })
                .await
                .unwrap_or_else(|e| {
                    tracing::error!("crdt storage: load_range failed: {e:#}");
                    Vec::new()
                });
            rows.into_iter()
                .filter_map(|(key, data)| {
                    StorageKey::from_parts(key.split('/'))
                        .ok()
                        .map(|k| (k, data))
                })
                .collect()
        }
    }

    fn put(&self, key: StorageKey, data: Vec<u8>) -> impl Future<Output = ()> + Send {
        let store = self.store.clone();
        let puts = self.puts.clone();
        let key = key_text(&key);
        async move {
            let result = store
                .write(Durability::Relaxed, move |c| {
                    c.execute(
                        "INSERT INTO crdt_storage (key, data) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                        rusqlite::params![key, data],
                    )
                })
                .await;
            match result {
                Ok(_) => {
                    puts.send_modify(|n| *n += 1);
                }
                Err(e) => tracing::error!("crdt storage: put failed: {e:#}"),
            }
        }
    }

    fn delete(&self, key: StorageKey) -> impl Future<Output = ()> + Send {
        let store = self.store.clone();
        let key = key_text(&key);
        async move {
            let result = store
                .write(Durability::Relaxed, move |c| {
                    c.execute("DELETE FROM crdt_storage WHERE key = ?1", [&key])
                })
                .await;
            if let Err(e) = result {
                tracing::error!("crdt storage: delete failed: {e:#}");
            }
        }
    }
}
