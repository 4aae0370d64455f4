//! Versioned schema migrations, applied at start in one transaction each.
//!
//! The schema version is SQLite's `user_version`. The list is the caller's
//! (a [`Schema`]: the composition root gathers each part's tables, so the
//! store knows none of them). Migrations are only ever appended: an
//! applied one is never edited, because hubs in the field have already run
//! it. A database newer than this binary is refused, not touched.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// The migrations of a database after the store's own ([`META`], version
/// 1): entry `i` moves it from version `i + 1` to `i + 2`.
pub type Schema = &'static [&'static str];

/// Version 1, the store's own: the node's settings and identity (`hub_id`,
/// `restore_epoch`).
const META: &str = "CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;";

/// The `meta` key naming the hearth version that last migrated the
/// database: the one a downgraded binary tells the person to install.
pub const MIGRATED_BY: &str = "migrated_by";

/// The version `schema` brings a database to.
pub fn latest(schema: Schema) -> u32 {
    schema.len() as u32 + 1
}

/// The schema version the database is at (0: new and empty).
///
/// # Errors
/// SQL errors.
pub fn found(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Which hearth migrated the database last, when one recorded it.
pub fn migrated_by(conn: &Connection) -> Option<String> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [MIGRATED_BY],
        |r| r.get(0),
    )
    .ok()
}

/// Brings the database at `path` up to the `schema`'s [`latest`].
///
/// # Errors
/// [`StoreError::TooNew`] for a database from a newer hearth; SQL errors.
pub fn apply(conn: &mut Connection, path: &Path, schema: Schema) -> Result<(), StoreError> {
    let found = found(conn)?;
    if found > latest(schema) {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: latest(schema),
            migrated_by: migrated_by(conn),
            backup: None,
        });
    }
    for (index, sql) in std::iter::once(&META)
        .chain(schema)
        .enumerate()
        .skip(found as usize)
    {
        let version = index + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [MIGRATED_BY, env!("CARGO_PKG_VERSION")],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
