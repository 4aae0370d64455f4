//! `hearth backup` and `hearth restore`: the whole state directory as one tar
//! archive.
//!
//! The database is copied through SQLite's online backup API, so a backup
//! taken while the hub runs is a consistent snapshot; the other files of the
//! state directory (certificate, key, later the CRDT storage) are copied as
//! they are. Restore only runs on a stopped hub: it holds the directory's lock
//! while it swaps the contents, and bumps `restore_epoch` so sequences the hub
//! hands out after a restore never repeat ones it handed out before.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::os::unix::fs::MetadataExt;

use rusqlite::{Connection, OptionalExtension};

use super::DB_FILE;
use super::migrations::{self, Schema};
use crate::state_dir::{
    CONSOLE_SOCKET, LOCK_FILE, RUNTIME_FILE, SETUP_CODE_FILE, StateDir, StateDirError,
};

/// Names a backup archive must contain.
const MANIFEST: &str = "hearth-backup.json";
const FORMAT: u32 = 1;

/// The state directory's folder of backups taken before a migration: never
/// archived, kept by a restore, the newest [`KEPT_UPGRADE_BACKUPS`] kept.
pub const UPGRADE_BACKUPS: &str = "backups";
const KEPT_UPGRADE_BACKUPS: usize = 3;
const UPGRADE_PREFIX: &str = "before-upgrade-schema";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database snapshot: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0} holds no hub state (no {DB_FILE}); is it the right --state-dir?")]
    NoState(PathBuf),
    #[error("{0} is not a hearth backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("a hub is running on {0}; stop it before restoring")]
    HubRunning(PathBuf),
    #[error(transparent)]
    StateDir(#[from] StateDirError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Files that describe a running process, not state: never archived. (The
/// setup code is a one-time secret: a restored hub makes a new one.)
fn is_transient(name: &str) -> bool {
    name == LOCK_FILE
        || name == RUNTIME_FILE
        || name == CONSOLE_SOCKET
        || name == SETUP_CODE_FILE
        || name.starts_with(DB_FILE)
        || name.ends_with(".tmp")
        || name.starts_with(".restore")
        || name == UPGRADE_BACKUPS
}

/// Backs the state up into [`UPGRADE_BACKUPS`] before a migration moves it
/// past schema `found`, and drops the oldest such backups beyond
/// [`KEPT_UPGRADE_BACKUPS`]. Returns the archive's path.
///
/// # Errors
/// [`BackupError`] when the archive cannot be written: the caller must not
/// migrate then.
pub fn before_upgrade(state_dir: &Path, found: u32) -> Result<PathBuf, BackupError> {
    let dir = state_dir.join(UPGRADE_BACKUPS);
    crate::state_dir::create_private_dir(&dir).map_err(io(&dir))?;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    // What an interrupted attempt left (a snapshot, a partial archive).
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let archive = dir.join(format!("{UPGRADE_PREFIX}{found}-{millis}.tar"));
    backup(state_dir, &archive)?;
    // Newest first by schema, then time (a clock without RTC may run
    // behind); the one just written is always kept.
    let mut kept: Vec<_> = upgrade_backups(state_dir)
        .into_iter()
        .filter(|(path, _, _)| *path != archive)
        .collect();
    kept.sort_by_key(|(_, schema, millis)| std::cmp::Reverse((*schema, *millis)));
    for (old, _, _) in kept.iter().skip(KEPT_UPGRADE_BACKUPS - 1) {
        if let Err(e) = std::fs::remove_file(old) {
            tracing::warn!(file = %old.display(), "cannot remove an old upgrade backup: {e}");
        }
    }
    Ok(archive)
}

/// The newest backup taken before an upgrade that a hearth knowing schema
/// `known` can restore.
pub fn newest_before_upgrade(state_dir: &Path, known: u32) -> Option<PathBuf> {
    upgrade_backups(state_dir)
        .into_iter()
        .filter(|(_, schema, _)| *schema <= known)
        .max_by_key(|(_, schema, millis)| (*schema, *millis))
        .map(|(path, _, _)| path)
}

/// Each upgrade backup with the schema it holds and when it was taken.
fn upgrade_backups(state_dir: &Path) -> Vec<(PathBuf, u32, u128)> {
    let Ok(entries) = std::fs::read_dir(state_dir.join(UPGRADE_BACKUPS)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let (schema, millis) = name
                .strip_prefix(UPGRADE_PREFIX)?
                .strip_suffix(".tar")?
                .split_once('-')?;
            Some((entry.path(), schema.parse().ok()?, millis.parse().ok()?))
        })
        .collect()
}

/// Writes a consistent snapshot of `state_dir` to `dest`; returns its size.
///
/// # Errors
/// [`BackupError`] naming the file that failed.
pub fn backup(state_dir: &Path, dest: &Path) -> Result<u64, BackupError> {
    let db_path = state_dir.join(DB_FILE);
    if !db_path.is_file() {
        return Err(BackupError::NoState(state_dir.to_owned()));
    }
    let snapshot = dest.with_extension("db.tmp");
    let _ = std::fs::remove_file(&snapshot);
    {
        let src = Connection::open(&db_path)?;
        src.busy_timeout(Duration::from_secs(10))?;
        let mut dst = Connection::open(&snapshot)?;
        let copy = rusqlite::backup::Backup::new(&src, &mut dst)?;
        copy.run_to_completion(256, Duration::ZERO, None)?;
    }
    let (hub_id, schema_version) = {
        let conn = Connection::open(&snapshot)?;
        let hub_id: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'hub_id'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or_default();
        (hub_id, migrations::found(&conn)?)
    };
    let partial = dest.with_extension("tmp");
    let result = write_archive(state_dir, &snapshot, &partial, &hub_id, schema_version);
    let _ = std::fs::remove_file(&snapshot);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result?;
    std::fs::rename(&partial, dest).map_err(io(dest))?;
    Ok(std::fs::metadata(dest).map_err(io(dest))?.len())
}

fn write_archive(
    state_dir: &Path,
    snapshot: &Path,
    partial: &Path,
    hub_id: &str,
    schema_version: u32,
) -> Result<(), BackupError> {
    // The archive holds the TLS key and the credential hashes: its owner's
    // only, whatever the umask (and even if a partial file was left before).
    let file = {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(partial)
            .map_err(io(partial))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(partial))?;
        file
    };
    let mut tar = tar::Builder::new(file);
    let manifest = serde_json::json!({
        "format": FORMAT,
        "hub_id": hub_id,
        "hearth_version": env!("CARGO_PKG_VERSION"),
        "schema_version": schema_version,
    })
    .to_string();
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, manifest.as_bytes())
        .map_err(io(partial))?;
    tar.append_path_with_name(snapshot, DB_FILE)
        .map_err(io(snapshot))?;
    for entry in std::fs::read_dir(state_dir).map_err(io(state_dir))? {
        let entry = entry.map_err(io(state_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_transient(&name) {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            tar.append_dir_all(&name, &path).map_err(io(&path))?;
        } else if kind.is_file() {
            tar.append_path_with_name(&path, &name).map_err(io(&path))?;
        } // sockets and the like are not state
    }
    let file = tar.into_inner().map_err(io(partial))?;
    file.sync_all().map_err(io(partial))?;
    Ok(())
}

/// Replaces the contents of `state_dir` with the archive at `archive`
/// (refused when it is newer than `schema`).
///
/// # Errors
/// [`BackupError::HubRunning`] while a hub holds the directory; the archive
/// is checked (manifest, database integrity, schema) before anything is
/// replaced, so a bad archive leaves the directory as it was.
pub fn restore(state_dir: &Path, archive: &Path, schema: Schema) -> Result<(), BackupError> {
    if StateDir::is_locked(state_dir) {
        return Err(BackupError::HubRunning(state_dir.to_owned()));
    }
    let lock = StateDir::acquire(state_dir)?;
    let staging = state_dir.join(format!(".restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let previous = previous_epoch(state_dir);
    let result = unpack_and_check(archive, &staging, previous, schema)
        .and_then(|()| swap_in(&lock, &staging));
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// The restore epoch of the state being replaced (0 when there is none).
fn previous_epoch(state_dir: &Path) -> i64 {
    let db = state_dir.join(DB_FILE);
    if !db.is_file() {
        return 0;
    }
    Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'restore_epoch'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap_or(0)
}

fn unpack_and_check(
    archive: &Path,
    staging: &Path,
    previous: i64,
    schema: Schema,
) -> Result<(), BackupError> {
    let not_a_backup = |why: String| BackupError::NotABackup(archive.to_owned(), why);
    crate::state_dir::create_private_dir(staging).map_err(io(staging))?;
    let file = File::open(archive).map_err(io(archive))?;
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries().map_err(|e| not_a_backup(e.to_string()))? {
        let mut entry = entry.map_err(|e| not_a_backup(e.to_string()))?;
        // unpack_in refuses paths that would escape `staging` (`..`, absolute).
        entry
            .unpack_in(staging)
            .map_err(|e| not_a_backup(e.to_string()))?;
    }
    let manifest = std::fs::read_to_string(staging.join(MANIFEST))
        .map_err(|_| not_a_backup(format!("no {MANIFEST}")))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest).map_err(|e| not_a_backup(e.to_string()))?;
    if manifest["format"] != FORMAT {
        return Err(not_a_backup(format!(
            "archive format {} (this hearth reads {FORMAT})",
            manifest["format"]
        )));
    }
    let db = staging.join(DB_FILE);
    if !db.is_file() {
        return Err(not_a_backup(format!("no {DB_FILE}")));
    }
    let conn = Connection::open(&db)?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(not_a_backup(format!("database damaged: {check}")));
    }
    let version = migrations::found(&conn)?;
    if version > migrations::latest(schema) {
        return Err(not_a_backup(format!(
            "made by a newer hearth (schema {version}, this one knows {})",
            migrations::latest(schema)
        )));
    }
    conn.execute(
        // Past the archive's epoch, the replaced state's and the clock's
        // seconds: restoring one archive twice must not give the same epoch
        // twice (the cloud would take the second run's values for the
        // first's), even when the replaced state was lost.
        "INSERT INTO meta (key, value)
           VALUES ('restore_epoch', max(1, ?1 + 1, CAST(strftime('%s', 'now') AS INTEGER)))
         ON CONFLICT (key) DO UPDATE SET value =
           max(CAST(value AS INTEGER) + 1, ?1 + 1, CAST(strftime('%s', 'now') AS INTEGER))",
        [previous],
    )?;
    drop(conn);
    std::fs::remove_file(staging.join(MANIFEST)).map_err(io(staging))?;
    Ok(())
}

fn swap_in(lock: &StateDir, staging: &Path) -> Result<(), BackupError> {
    let dir = lock.path();
    let staging_name = staging.file_name().unwrap_or_default();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        if name == LOCK_FILE || name == staging_name || name == UPGRADE_BACKUPS {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        } else {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    // Restored files belong to whoever owns the directory (the service user),
    // not to root running `hearth restore`: otherwise the hub could not open them.
    let owner = std::fs::metadata(dir).map_err(io(dir))?;
    for entry in std::fs::read_dir(staging).map_err(io(staging))? {
        let entry = entry.map_err(io(staging))?;
        let target = dir.join(entry.file_name());
        std::fs::rename(entry.path(), &target).map_err(io(&target))?;
        chown_tree(&target, owner.uid(), owner.gid()).map_err(io(&target))?;
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.uid() != uid || meta.gid() != gid {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
