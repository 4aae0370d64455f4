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

/// The version `schema` brings a database to.
pub fn latest(schema: Schema) -> u32 {
    schema.len() as u32 + 1
}

/// Brings the database at `path` up to the `schema`'s [`latest`].
///
/// # Errors
/// [`StoreError::TooNew`] for a database from a newer hearth; SQL errors.
pub fn apply(conn: &mut Connection, path: &Path, schema: Schema) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest(schema) {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: latest(schema),
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
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
