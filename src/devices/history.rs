//! Telemetry in SQLite (DESIGN §4): live values that survive a restart, raw
//! history, minute and hour rollups kept longer, and device events.
//!
//! Writes go through one [`Writer`] task that folds whatever is queued into
//! one store transaction, so a thousand devices cost a few commits a second,
//! not a thousand. The queue is bounded: a writer that falls behind slows
//! the devices down (back-pressure), it never drops a value. A write that
//! needs to be durable before it is acknowledged (an MQTT PUBACK, an API
//! 2xx) carries a reply and makes its batch commit with `synchronous=FULL`.
//!
//! Retention is measured from the newest row of each pin as well as from
//! the clock (the earlier of the two), and a purge is skipped when the wall
//! clock moved differently from the monotonic one since the last purge: a
//! hub that boots with a clock years off never deletes fresh rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Durability, Store, StoreError};

mod batch;
mod queries;
use batch::write_batch_to;
pub use queries::{Aggregation, Point, StoredEvent, events, query};

/// Rollup widths, in milliseconds.
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// Most queued writes folded into one transaction.
const BATCH: usize = 4096;

/// Migration 4: see the module comment.
pub const MIGRATION: &str = "
    CREATE TABLE live_values (
        device TEXT NOT NULL,
        pin    TEXT NOT NULL,
        value  TEXT NOT NULL,
        at     INTEGER NOT NULL,
        PRIMARY KEY (device, pin)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE history (
        device TEXT NOT NULL,
        pin    TEXT NOT NULL,
        at     INTEGER NOT NULL,
        value  TEXT NOT NULL
    ) STRICT;
    CREATE INDEX history_by_pin ON history (device, pin, at);
    CREATE TABLE history_rollup (
        device TEXT NOT NULL,
        pin    TEXT NOT NULL,
        width  INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        count  INTEGER NOT NULL,
        sum    REAL NOT NULL,
        min    REAL NOT NULL,
        max    REAL NOT NULL,
        PRIMARY KEY (device, pin, width, bucket)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE device_events (
        id          INTEGER PRIMARY KEY,
        device      TEXT NOT NULL,
        code        TEXT NOT NULL,
        description TEXT,
        at          INTEGER NOT NULL,
        cleared     INTEGER
    ) STRICT;
    CREATE INDEX events_by_device ON device_events (device, at);
";

/// One thing to write.
#[derive(Debug, Clone)]
pub enum Record {
    /// A pin's new value: always the live value; a history row (and rollups
    /// when numeric) when the datastream keeps history.
    Value {
        device: String,
        pin: String,
        value: String,
        at: i64,
        history: bool,
    },
    Event {
        device: String,
        code: String,
        description: Option<String>,
        at: i64,
    },
    /// Resolves the device's open events with `code` (all when `None`).
    ClearEvents {
        device: String,
        code: Option<String>,
        at: i64,
    },
    /// A pin's property (`label`, `color`, …) as the device set it last.
    Property {
        device: String,
        pin: String,
        name: String,
        value: String,
    },
    /// Writes nothing: its reply says everything queued before it is written.
    Barrier,
    /// Turns the outbox on: copies the history kept so far into it (what
    /// was recorded before the household was linked reaches the cloud too),
    /// then queues every value after it. Nothing when it is on already.
    StartOutbox,
    /// Values another node recorded (a hub's outbox, on the cloud), written
    /// in one transaction with how far that node's outbox has been taken
    /// in, so a crash can never keep the values and lose the mark.
    Ingested {
        values: Vec<Record>,
        hub: String,
        epoch: i64,
        seq: i64,
    },
}

type Ack = oneshot::Sender<Result<(), StoreError>>;

/// A queued durable write; [`Committed::wait`] resolves once it is on disk.
pub struct Committed(oneshot::Receiver<Result<(), StoreError>>);

impl Committed {
    /// # Errors
    /// The commit's error, or [`StoreError::Stopped`].
    pub async fn wait(mut self) -> Result<(), StoreError> {
        self.done().await
    }

    /// [`Committed::wait`] by reference: cancellation safe (await it again
    /// after a `select!` dropped it), but not again once it resolved.
    ///
    /// # Errors
    /// As [`Committed::wait`].
    pub async fn done(&mut self) -> Result<(), StoreError> {
        (&mut self.0).await.map_err(|_| StoreError::Stopped)?
    }
}

/// The handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<(Record, Option<Ack>)>,
}

/// Where a hub linked to the cloud also queues every value it records.
pub type Outbox = Option<Arc<crate::devices::outbox::Outbox>>;

impl Writer {
    /// Starts the writer task on `store`; it ends when every handle is gone,
    /// after writing what was queued.
    pub fn spawn(store: Store, queue: usize) -> (Writer, tokio::task::JoinHandle<()>) {
        Self::spawn_with(store, queue, None)
    }

    /// [`Writer::spawn`], also queueing values in `outbox` while it is on.
    pub fn spawn_with(
        store: Store,
        queue: usize,
        outbox: Outbox,
    ) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let task = tokio::spawn(run(store, rx, outbox));
        (Writer { tx }, task)
    }

    /// Queues `record`; waits only for room in the queue.
    ///
    /// # Errors
    /// [`StoreError::Stopped`] when the writer has stopped.
    pub async fn write(&self, record: Record) -> Result<(), StoreError> {
        self.tx
            .send((record, None))
            .await
            .map_err(|_| StoreError::Stopped)
    }

    /// Waits until everything queued before is committed.
    ///
    /// # Errors
    /// [`StoreError::Stopped`] when the writer has stopped.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.write_durable(Record::Barrier).await
    }

    /// Queues `record` and waits until it is committed durably.
    ///
    /// # Errors
    /// The commit's error, or [`StoreError::Stopped`].
    pub async fn write_durable(&self, record: Record) -> Result<(), StoreError> {
        self.queue_durable(record).await?.wait().await
    }

    /// Queues `record` for a durable commit without waiting for it; the
    /// returned [`Committed`] resolves when it is. Commits resolve in the
    /// order records were queued (one writer, batches in order).
    ///
    /// # Errors
    /// [`StoreError::Stopped`] when the writer has stopped.
    pub async fn queue_durable(&self, record: Record) -> Result<Committed, StoreError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((record, Some(ack)))
            .await
            .map_err(|_| StoreError::Stopped)?;
        Ok(Committed(done))
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<(Record, Option<Ack>)>, outbox: Outbox) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let (records, acks): (Vec<Record>, Vec<Option<Ack>>) =
            std::mem::take(&mut batch).into_iter().unzip();
        let durable = records
            .iter()
            .zip(&acks)
            .any(|(r, a)| a.is_some() && !matches!(r, Record::Barrier));
        let durability = if !durable {
            Durability::Relaxed
        } else {
            Durability::Acknowledged
        };
        let count = records.len();
        let queue = outbox.clone();
        let result = store
            .write(durability, move |conn| {
                let on = write_batch_to(conn, &records, queue.as_deref())?;
                match queue.as_deref().filter(|_| on) {
                    Some(queue) => queue.trim(conn).map(Some),
                    None => Ok(None),
                }
            })
            .await;
        match &result {
            Ok(Some(dropped)) => {
                if let Some(queue) = outbox.as_deref() {
                    queue.enable();
                    queue.dropped_committed(*dropped);
                    queue.queued.notify_one();
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!("history: {count} values not written: {e}"),
        }
        for ack in acks.into_iter().flatten() {
            let _ = ack.send(match &result {
                Ok(_) => Ok(()),
                Err(e) => Err(StoreError::Transaction(e.to_string())),
            });
        }
    }
}

#[cfg(test)]
fn write_batch(conn: &Connection, records: &[Record]) -> rusqlite::Result<()> {
    write_batch_to(conn, records, None).map(|_| ())
}

/// Every stored live value: `(device, pin, value, at)`.
pub fn load_live(conn: &Connection) -> rusqlite::Result<Vec<(String, String, String, i64)>> {
    let mut stmt = conn.prepare("SELECT device, pin, value, at FROM live_values")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    rows.collect()
}

/// Migration 7: the properties devices set on their pins, kept like their
/// live values.
pub const PROPERTIES_MIGRATION: &str = "
    CREATE TABLE device_properties (
        device TEXT NOT NULL,
        pin    TEXT NOT NULL,
        name   TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (device, pin, name)
    ) STRICT, WITHOUT ROWID;
";

/// Every stored property: (device, pin, name, value).
pub fn load_properties(
    conn: &Connection,
) -> rusqlite::Result<Vec<(String, String, String, String)>> {
    let mut stmt = conn.prepare("SELECT device, pin, name, value FROM device_properties")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    rows.collect()
}

/// Tells whether the wall clock can be trusted for a purge: it must have
/// moved like the monotonic clock (within `slack`) since the last look.
pub struct ClockCheck {
    last: Option<(Instant, i64)>,
    slack: Duration,
}

impl ClockCheck {
    pub fn new(slack: Duration) -> Self {
        ClockCheck { last: None, slack }
    }

    /// Records this look; false when the wall clock jumped since the last.
    pub fn steady(&mut self, now_ms: i64) -> bool {
        let here = Instant::now();
        let steady = match self.last {
            None => true,
            Some((then, wall)) => {
                let mono = here.duration_since(then).as_millis() as i64;
                (now_ms - wall - mono).unsigned_abs() <= self.slack.as_millis() as u64
            }
        };
        self.last = Some((here, now_ms));
        steady
    }
}

mod purge;
pub use purge::{Cutoffs, Purged, Retention, cutoffs, purge, purge_some};

#[cfg(test)]
mod tests;
