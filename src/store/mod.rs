//! The SQLite store: one thread owns the connection; everyone else sends it
//! jobs through a [`Store`] handle and awaits the reply.
//!
//! Writes that arrive together are folded into one transaction (each in its
//! own savepoint, so one failing job does not undo its neighbours), and a
//! caller hears "done" only after that transaction committed. A batch that
//! holds a [`Durability::Acknowledged`] write commits with
//! `synchronous=FULL`, so whatever a client was told is stored survives power
//! loss; other batches use WAL's `NORMAL`. It never decides what to store:
//! callers do.

mod backup;
mod migrations;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

pub use backup::{BackupError, backup, restore};
pub use migrations::Schema;

/// The database file inside the state directory.
pub const DB_FILE: &str = "hearth.db";

/// How much a commit must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A client is told "stored" once this commits: fsync on commit.
    Acknowledged,
    /// Local bookkeeping: WAL `NORMAL` (may lose the last commits on power loss).
    Relaxed,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}", too_new(path, *found, *known, migrated_by.as_deref(), backup.as_deref()))]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
        /// The hearth version that migrated it, when it recorded one.
        migrated_by: Option<String>,
        /// The newest backup this hearth can restore, taken before an upgrade.
        backup: Option<PathBuf>,
    },
    #[error("before upgrading {path} from schema {found}, the backup failed: {source}")]
    UpgradeBackup {
        path: PathBuf,
        found: u32,
        source: Box<BackupError>,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database: transaction failed: {0}")]
    Transaction(String),
    #[error("cannot start the store thread: {0}")]
    Thread(std::io::Error),
    #[error("the store has stopped")]
    Stopped,
}

fn too_new(
    path: &Path,
    found: u32,
    known: u32,
    migrated_by: Option<&str>,
    backup: Option<&Path>,
) -> String {
    let needed = match migrated_by {
        Some(version) => format!("hearth {version} or newer"),
        None => "a newer hearth".to_owned(),
    };
    let restore = match backup {
        Some(archive) => format!(
            "or, with the hub stopped, go back to the state from before that upgrade: \
             hearth restore {}",
            archive.display()
        ),
        None => "or restore a backup this version made (hearth restore FILE)".to_owned(),
    };
    format!(
        "database {} has schema version {found}, newer than this hearth {} knows \
         ({known}); nothing was changed. Install {needed}, {restore}",
        path.display(),
        env!("CARGO_PKG_VERSION"),
    )
}

/// What the hub learns from its store at start.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Random, created on first start, kept for the life of the state directory.
    pub hub_id: String,
}

impl Identity {
    /// The first 6 hex digits, for the default mDNS name `hearth-<short id>`.
    pub fn short_id(&self) -> &str {
        &self.hub_id[..6]
    }
}

/// Counters a test or `/metrics` can read without a round trip.
#[derive(Debug, Default)]
pub struct StoreStats {
    pub writes: AtomicU64,
    pub transactions: AtomicU64,
    pub durable_transactions: AtomicU64,
}

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs the caller's closure in the open transaction (`None`: there is none,
/// because BEGIN failed) and returns what to do once the commit's fate is known.
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> Completion + Send>;
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

enum Command {
    Write {
        job: WriteJob,
        durability: Durability,
    },
    Read(ReadJob),
    /// Commit what is queued and stop, even while handles remain (a library
    /// such as samod may keep one alive past its own shutdown).
    Close,
}

/// A cheap, cloneable handle to the store thread.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Command>,
    stats: Arc<StoreStats>,
}

/// The store thread; [`StoreThread::join`] waits until it flushed and closed.
pub struct StoreThread {
    done: oneshot::Receiver<()>,
}

impl StoreThread {
    /// Resolves once the thread stopped ([`Store::close`], or every handle
    /// gone) and the last batch committed.
    pub async fn join(self) {
        let _ = self.done.await;
    }
}

impl Store {
    /// Opens (creating and migrating to `schema`) the database in `state_dir` and starts
    /// the thread that owns it.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened or migrated.
    pub fn open(
        state_dir: &Path,
        batch_max: usize,
        schema: Schema,
    ) -> Result<(Store, StoreThread, Identity), StoreError> {
        let path = state_dir.join(DB_FILE);
        let mut conn = open_connection(&path)?;
        let found = migrations::found(&conn)?;
        let known = migrations::latest(schema);
        if found > known {
            return Err(StoreError::TooNew {
                path,
                found,
                known,
                migrated_by: migrations::migrated_by(&conn),
                backup: backup::newest_before_upgrade(state_dir, known),
            });
        }
        if (1..known).contains(&found) {
            let archive = backup::before_upgrade(state_dir, found).map_err(|source| {
                StoreError::UpgradeBackup {
                    path: path.clone(),
                    found,
                    source: Box::new(source),
                }
            })?;
            tracing::info!(
                from = found,
                to = known,
                backup = %archive.display(),
                "backed up the state before migrating it"
            );
        }
        migrations::apply(&mut conn, &path, schema)?;
        let identity = load_identity(&conn)?;
        let (tx, rx) = mpsc::channel(batch_max.max(1) * 4);
        let (done_tx, done) = oneshot::channel();
        let stats = Arc::new(StoreStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("hearth-store".into())
            .spawn(move || {
                run(conn, rx, batch_max, &thread_stats);
                let _ = done_tx.send(());
            })
            .map_err(StoreError::Thread)?;
        Ok((Store { tx, stats }, StoreThread { done }, identity))
    }

    /// Runs `f` inside the next write transaction; resolves after it committed.
    ///
    /// # Errors
    /// `f`'s own error (its savepoint is rolled back, the batch goes on), or
    /// the commit's.
    pub async fn write<R, F>(&self, durability: Durability, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => in_savepoint(conn, f).map_err(StoreError::from),
                None => Err(StoreError::Stopped),
            };
            Box::new(move |commit| {
                let _ = reply.send(commit.and(result));
            })
        });
        self.tx
            .send(Command::Write { job, durability })
            .await
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Runs `f` on the store thread after every write queued before it.
    ///
    /// # Errors
    /// `f`'s error, or [`StoreError::Stopped`].
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = reply.send(f(conn).map_err(StoreError::from));
        });
        self.tx
            .send(Command::Read(job))
            .await
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Asks the store thread to commit everything queued before this call
    /// and stop; later calls on any handle fail with [`StoreError::Stopped`].
    pub async fn close(&self) {
        let _ = self.tx.send(Command::Close).await;
    }

    /// A round trip through the store thread: proves it is alive and not stuck.
    ///
    /// # Errors
    /// [`StoreError::Stopped`] when the thread is gone.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|_| Ok(())).await
    }

    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(open_err)?;
    Ok(conn)
}

fn load_identity(conn: &Connection) -> Result<Identity, StoreError> {
    let existing: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'hub_id'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let hub_id = match existing {
        Some(id) => id,
        None => {
            let id = crate::random_hex(16);
            conn.execute("INSERT INTO meta (key, value) VALUES ('hub_id', ?1)", [&id])?;
            id
        }
    };
    Ok(Identity { hub_id })
}

fn in_savepoint<R>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
) -> rusqlite::Result<R> {
    conn.execute_batch("SAVEPOINT job")?;
    match f(conn) {
        Ok(value) => {
            conn.execute_batch("RELEASE job")?;
            Ok(value)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
            Err(e)
        }
    }
}

/// The store thread's loop: take what is queued, fold consecutive writes
/// into one transaction, run reads in queue order between them.
fn run(conn: Connection, mut rx: mpsc::Receiver<Command>, batch_max: usize, stats: &StoreStats) {
    let mut writes: Vec<(WriteJob, Durability)> = Vec::new();
    'serve: while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Write { job, durability } => {
                    writes.push((job, durability));
                    if writes.len() >= batch_max {
                        commit_batch(&conn, &mut writes, stats);
                    }
                }
                Command::Read(job) => {
                    commit_batch(&conn, &mut writes, stats);
                    job(&conn);
                }
                Command::Close => break 'serve,
            }
            next = rx.try_recv().ok();
        }
        commit_batch(&conn, &mut writes, stats);
    }
    commit_batch(&conn, &mut writes, stats);
    tracing::debug!("store closed");
}

fn commit_batch(conn: &Connection, writes: &mut Vec<(WriteJob, Durability)>, stats: &StoreStats) {
    if writes.is_empty() {
        return;
    }
    let durable = writes.iter().any(|(_, d)| *d == Durability::Acknowledged);
    let sync = if durable { "FULL" } else { "NORMAL" };
    let begin = conn.execute_batch(&format!("PRAGMA synchronous = {sync}; BEGIN IMMEDIATE"));
    let (completions, outcome): (Vec<Completion>, _) = match begin {
        Ok(()) => {
            let completions = writes.drain(..).map(|(job, _)| job(Some(conn))).collect();
            let outcome = conn.execute_batch("COMMIT");
            if outcome.is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            (completions, outcome)
        }
        Err(e) => (writes.drain(..).map(|(job, _)| job(None)).collect(), Err(e)),
    };
    if let Err(e) = &outcome {
        tracing::error!(
            "store: transaction of {} writes failed: {e:#}",
            completions.len()
        );
    }
    stats
        .writes
        .fetch_add(completions.len() as u64, Ordering::Relaxed);
    stats.transactions.fetch_add(1, Ordering::Relaxed);
    if durable {
        stats.durable_transactions.fetch_add(1, Ordering::Relaxed);
    }
    for complete in completions {
        complete(match &outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Transaction(e.to_string())),
        });
    }
}

#[cfg(test)]
mod tests;
