//! Telemetry in SQLite (DESIGN §4): live values that survive a restart, raw
//! history, minute and hour rollups kept longer, and device events.
//!
//! Writes go through one [`Writer`] task that folds whatever is queued into
//! one store transaction, so a thousand devices cost a few commits a second,
//! not a thousand. Values go first to an append-only [`journal`], moved to
//! the tables above in sorted bulk, so a commit writes a few pages, not one
//! per device. The queue is bounded: a writer that falls behind slows
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
pub mod journal;
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

impl Record {
    /// How many values it records (what it puts in the journal).
    fn values(&self) -> usize {
        match self {
            Record::Value { .. } => 1,
            Record::Ingested { values, .. } => values.iter().map(Record::values).sum(),
            _ => 0,
        }
    }
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
        Self::spawn_folding(store, queue, outbox, FOLD_EVERY)
    }

    /// [`Writer::spawn_with`], folding the journal `fold_every` after the
    /// oldest value it holds at the latest.
    fn spawn_folding(
        store: Store,
        queue: usize,
        outbox: Outbox,
        fold_every: Duration,
    ) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let schedule = FoldSchedule::new(fold_every);
        let task = tokio::spawn(run(store, rx, outbox, schedule));
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

/// Values folded in one transaction: about what a fold keeps the next
/// commit waiting (~10 ms here), and enough for a device's values to share
/// leaves.
const FOLD_CHUNK: usize = 2048;
/// Values the journal holds at most under a sustained flood: past it, each
/// fold takes the excess too.
const FOLD_BACKLOG: usize = 16_384;
/// How long a journalled value waits at most for its fold.
const FOLD_EVERY: Duration = Duration::from_secs(1);

/// When the writer folds the journal, and how much: a chunk once it holds
/// [`FOLD_CHUNK`] values or `every` after the oldest value not yet folded.
#[derive(Debug)]
struct FoldSchedule {
    every: Duration,
    journalled: usize,
    due: Option<tokio::time::Instant>,
}

impl FoldSchedule {
    fn new(every: Duration) -> Self {
        FoldSchedule {
            every,
            journalled: 0,
            due: None,
        }
    }

    /// `values` more were journalled at `now`.
    fn journalled(&mut self, values: usize, now: tokio::time::Instant) {
        if values > 0 {
            self.journalled += values;
            self.due.get_or_insert(now + self.every);
        }
    }

    /// Whether a fold is due at `now`.
    fn ready(&self, now: tokio::time::Instant) -> bool {
        self.journalled >= FOLD_CHUNK || self.due.is_some_and(|due| due <= now)
    }

    /// How many values the next fold takes.
    fn chunk(&self) -> usize {
        FOLD_CHUNK + self.journalled.saturating_sub(FOLD_BACKLOG)
    }

    /// `values` were folded at `now` (all of them: `usize::MAX`).
    fn folded(&mut self, values: usize, now: tokio::time::Instant) {
        self.journalled = self.journalled.saturating_sub(values);
        if self.journalled == 0 {
            self.due = None;
        } else {
            // What is left is as old as it was: due at once when it was.
            self.due = Some(self.due.map_or(now, |due| due.min(now + self.every)));
        }
    }

    /// A fold failed at `now`: the journal is kept, tried again later.
    fn failed(&mut self, now: tokio::time::Instant) {
        self.due = Some(now + self.every);
    }
}

/// The writer task: each batch of queued records in one transaction (into
/// the [`journal`]), acknowledged, then a fold of the journal when it is
/// due, in a transaction of its own so no acknowledgement waits for it. A
/// flush folds in its batch's transaction, so what it waits for is readable
/// as history when it returns; the task folds what is left when it ends.
async fn run(
    store: Store,
    mut rx: mpsc::Receiver<(Record, Option<Ack>)>,
    outbox: Outbox,
    mut schedule: FoldSchedule,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let due = schedule.due;
        let received = tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, BATCH) => n,
            () = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)),
                if due.is_some() => {
                fold_apart(&store, &mut schedule).await;
                continue;
            }
        };
        if received == 0 {
            break;
        }
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
        let values = records.iter().map(Record::values).sum::<usize>();
        let fold = records
            .iter()
            .any(|r| matches!(r, Record::Barrier | Record::StartOutbox));
        let queue = outbox.clone();
        let result = store
            .write(durability, move |conn| {
                let on = write_batch_to(conn, &records, queue.as_deref())?;
                let mut folded = false;
                if fold {
                    // A failing fold keeps the journal, never the batch's
                    // own writes (its error is logged; the next fold retries).
                    conn.execute_batch("SAVEPOINT fold")?;
                    match journal::fold(conn) {
                        Ok(_) => folded = true,
                        Err(e) => {
                            conn.execute_batch("ROLLBACK TO fold")?;
                            tracing::error!("history: folding the journal failed: {e}");
                        }
                    }
                    conn.execute_batch("RELEASE fold")?;
                }
                let dropped = match queue.as_deref().filter(|_| on) {
                    Some(queue) => Some(queue.trim(conn)?),
                    None => None,
                };
                Ok((dropped, folded))
            })
            .await;
        match &result {
            Ok((dropped, folded)) => {
                if *folded {
                    schedule.folded(usize::MAX, tokio::time::Instant::now());
                } else {
                    schedule.journalled(values, tokio::time::Instant::now());
                }
                if let (Some(dropped), Some(queue)) = (dropped, outbox.as_deref()) {
                    queue.enable();
                    queue.dropped_committed(*dropped);
                    queue.queued.notify_one();
                }
            }
            Err(e) => tracing::error!("history: {count} values not written: {e}"),
        }
        for ack in acks.into_iter().flatten() {
            let _ = ack.send(match &result {
                Ok(_) => Ok(()),
                Err(e) => Err(StoreError::Transaction(e.to_string())),
            });
        }
        if schedule.ready(tokio::time::Instant::now()) {
            fold_apart(&store, &mut schedule).await;
        }
    }
    while schedule.due.is_some() {
        let before = schedule.journalled;
        fold_apart(&store, &mut schedule).await;
        if schedule.journalled == before {
            break; // failing: the next start folds it
        }
    }
}

/// Folds a chunk of the journal in a transaction of its own (local
/// bookkeeping: the values are durable in the journal already). A failure
/// keeps the journal for the next try.
async fn fold_apart(store: &Store, schedule: &mut FoldSchedule) {
    let chunk = schedule.chunk();
    let folded = store
        .write(Durability::Relaxed, move |conn| {
            journal::fold_some(conn, chunk)
        })
        .await;
    match folded {
        // Fewer than asked: the journal is empty.
        Ok(values) => schedule.folded(
            if values < chunk { usize::MAX } else { values },
            tokio::time::Instant::now(),
        ),
        Err(e) => {
            tracing::error!(
                "history: folding {} journalled values failed: {e}",
                schedule.journalled
            );
            schedule.failed(tokio::time::Instant::now());
        }
    }
}

/// Writes `records` and folds them at once, as a flush would.
#[cfg(test)]
fn write_batch(conn: &Connection, records: &[Record]) -> rusqlite::Result<()> {
    write_batch_to(conn, records, None)?;
    journal::fold(conn).map(|_| ())
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
