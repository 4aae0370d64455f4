//! Versioned schema migrations, applied at start in one transaction each.
//!
//! The schema version is SQLite's `user_version`. Migrations are only ever
//! appended: an applied one is never edited, because hubs in the field have
//! already run it. A database newer than this binary is refused, not touched.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the hub's own settings and identity (hub_id, restore_epoch).
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;",
    // 2: the CRDT documents. samod's own storage (its key space, `/`-joined),
    // which documents this hub holds, and the durable log of local changes
    // that makes an acknowledged sharing operation survive a crash.
    "CREATE TABLE crdt_storage (
        key  TEXT PRIMARY KEY NOT NULL,
        data BLOB NOT NULL
    ) STRICT;
    CREATE TABLE tenancy_docs (
        kind   TEXT PRIMARY KEY NOT NULL,
        doc_id TEXT NOT NULL
    ) STRICT;
    CREATE TABLE tenancy_changes (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        kind   TEXT NOT NULL,
        change BLOB NOT NULL
    ) STRICT;",
    // 3: login sessions, local to this hub (DESIGN §3). Only a keyed hash
    // of each bearer token is stored.
    "CREATE TABLE sessions (
        id         TEXT PRIMARY KEY NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        user       TEXT NOT NULL,
        label      TEXT NOT NULL,
        created    INTEGER NOT NULL,
        expires    INTEGER NOT NULL
    ) STRICT;",
    // 4: device telemetry: live values, history, rollups, events.
    crate::devices::history::MIGRATION,
    // 5: the BLE adoption inbox; bind keys and mappings local to this hub.
    crate::ble::inbox::MIGRATION,
    // 6: sync links and grants, the cloud's registry, the telemetry outbox.
    crate::sync::MIGRATION,
    // 7: properties devices set on their pins (kept across restarts).
    crate::devices::history::PROPERTIES_MIGRATION,
];

/// The version this binary brings a database to.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// Brings the database at `path` up to [`latest`].
///
/// # Errors
/// [`StoreError::TooNew`] for a database from a newer hearth; SQL errors.
pub fn apply(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest() {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: latest(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
