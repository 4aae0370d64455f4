//! The telemetry outbox (DESIGN §4): every value this hub records while it
//! is linked to the cloud is queued in SQLite in the same transaction that
//! writes it to history, delivered in order, acknowledged by the cloud once
//! it is durable there, and only then deleted here. Delivery is at least
//! once; the cloud de-duplicates by (hub id, restore epoch, sequence), and
//! `hearth restore` bumps the epoch, so a sequence is never reused.
//!
//! The outbox is bounded (`[sync] outbox_max`): only past the bound are
//! the oldest rows dropped, counted in `meta.outbox_dropped`, logged, and
//! shown by `hearth sync status`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::store::{Durability, Store, StoreError};

/// The `meta` key set in the transaction that turns the outbox on.
const STARTED: &str = "outbox_started";

/// One queued value, as it travels to the cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub epoch: i64,
    pub seq: i64,
    pub device: String,
    pub pin: String,
    pub value: String,
    pub at: i64,
}

/// The outbox's switches and counters; the rows are in SQLite.
#[derive(Debug)]
pub struct Outbox {
    /// On once the household is linked to the cloud.
    enabled: AtomicBool,
    /// `meta.restore_epoch` when the hub started.
    epoch: i64,
    bound: u64,
    /// Rows dropped over the bound, ever (persisted in `meta`).
    dropped: AtomicU64,
    /// Told after a commit that queued rows.
    pub queued: Notify,
}

/// The outbox's depth and losses, for status and metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct OutboxStats {
    pub depth: u64,
    pub dropped: u64,
    /// Unix ms of the oldest queued value.
    pub oldest: Option<i64>,
}

fn meta_int(conn: &Connection, key: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

impl Outbox {
    /// Reads the epoch and the drop count; on once it was turned on.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn open(store: &Store, bound: u64) -> Result<Outbox, StoreError> {
        let (epoch, dropped, linked) = store
            .read(|c| {
                // On once the transaction that turned it on committed.
                let linked = meta_int(c, STARTED)? == 1;
                Ok((
                    meta_int(c, "restore_epoch")?,
                    meta_int(c, "outbox_dropped")?,
                    linked,
                ))
            })
            .await?;
        Ok(Outbox {
            enabled: AtomicBool::new(linked),
            epoch,
            bound,
            dropped: AtomicU64::new(dropped as u64),
            queued: Notify::new(),
        })
    }

    /// Marks the outbox on; only the history writer does, once the
    /// transaction that turned it on committed (see `Record::StartOutbox`).
    pub(crate) fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Queues a value, in the history writer's transaction.
    ///
    /// # Errors
    /// SQL errors (the whole batch then fails, history with it).
    pub fn enqueue(
        &self,
        conn: &Connection,
        device: &str,
        pin: &str,
        value: &str,
        at: i64,
    ) -> rusqlite::Result<()> {
        conn.prepare_cached(
            "INSERT INTO outbox (epoch, device, pin, value, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![self.epoch, device, pin, value, at])?;
        Ok(())
    }

    /// Queues the history kept so far, oldest first, in the writer's
    /// transaction (the outbox is being turned on).
    ///
    /// # Errors
    /// SQL errors.
    pub fn backfill(&self, conn: &Connection) -> rusqlite::Result<usize> {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, '1')
             ON CONFLICT (key) DO UPDATE SET value = '1'",
            [STARTED],
        )?;
        conn.execute(
            "INSERT INTO outbox (epoch, device, pin, value, at)
             SELECT ?1, device, pin, value, at FROM history ORDER BY at, rowid",
            [self.epoch],
        )
    }

    /// Drops the oldest rows past the bound, in the same transaction,
    /// counting them. Sequences are contiguous (rows leave from the front
    /// only), so the depth is `max - min + 1`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn trim(&self, conn: &Connection) -> rusqlite::Result<u64> {
        let Some(max): Option<i64> =
            conn.query_row("SELECT max(seq) FROM outbox", [], |r| r.get(0))?
        else {
            return Ok(0);
        };
        let cut = max - self.bound as i64;
        let dropped = conn.execute("DELETE FROM outbox WHERE seq <= ?1", [cut])? as u64;
        if dropped > 0 {
            let total = self.dropped.load(Ordering::SeqCst) + dropped;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('outbox_dropped', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [total.to_string()],
            )?;
            // Counted once the transaction commits; a failed one rolls back.
        }
        Ok(dropped)
    }

    /// Takes note of rows [`Outbox::trim`] dropped in a committed batch.
    pub fn dropped_committed(&self, dropped: u64) {
        if dropped > 0 {
            let total = self.dropped.fetch_add(dropped, Ordering::SeqCst) + dropped;
            tracing::warn!(
                dropped,
                total,
                bound = self.bound,
                "sync: the outbox is full; its oldest values were dropped"
            );
        }
    }

    /// Up to `limit` rows, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn peek(store: &Store, limit: usize) -> Result<Vec<Row>, StoreError> {
        store
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT epoch, seq, device, pin, value, at FROM outbox ORDER BY seq LIMIT ?1",
                )?;
                stmt.query_map([limit as i64], |r| {
                    Ok(Row {
                        epoch: r.get(0)?,
                        seq: r.get(1)?,
                        device: r.get(2)?,
                        pin: r.get(3)?,
                        value: r.get(4)?,
                        at: r.get(5)?,
                    })
                })?
                .collect()
            })
            .await
    }

    /// Forgets every row up to `seq`, which the cloud has acknowledged.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn acknowledged(store: &Store, seq: i64) -> Result<(), StoreError> {
        store
            .write(Durability::Relaxed, move |c| {
                c.execute("DELETE FROM outbox WHERE seq <= ?1", [seq])
            })
            .await?;
        Ok(())
    }

    /// Depth, losses and age.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn stats(&self, store: &Store) -> Result<OutboxStats, StoreError> {
        let (min, max, oldest): (Option<i64>, Option<i64>, Option<i64>) = store
            .read(|c| {
                c.query_row(
                    "SELECT min(seq), max(seq), (SELECT at FROM outbox ORDER BY seq LIMIT 1) FROM outbox",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })
            .await?;
        Ok(OutboxStats {
            depth: match (min, max) {
                (Some(min), Some(max)) => (max - min + 1) as u64,
                _ => 0,
            },
            dropped: self.dropped.load(Ordering::SeqCst),
            oldest,
        })
    }
}
