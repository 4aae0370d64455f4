//! The value journal: where a recorded value is first made durable.
//!
//! A value touches four B-tree leaves where it finally lives: its live
//! value, its history index entry `(device, pin, at)` and its minute and
//! hour rollups, each keyed by a device id. A thousand devices sending at
//! once put those leaves all over the file, so every commit wrote about one
//! page per value whatever the batch size, and that, not the sync, was the
//! cost of a durable acknowledgement. The journal is one append-only table
//! (its rowid grows), so a commit of a few hundred values writes a few
//! pages. [`fold`] later moves what it holds to where it lives, sorted, in
//! one statement per table: a device's values of that stretch land in its
//! leaves together.
//!
//! What is in the journal is committed like any row, so a crash loses
//! nothing: the next start folds it before anything reads. Readers of
//! history see it after [`fold`], which a flush of the writer runs.

use rusqlite::{Connection, params};

use super::{HOUR, MINUTE};
use crate::devices::value::numeric;

/// Migration 8: see the module comment.
pub const MIGRATION: &str = "
    CREATE TABLE value_journal (
        seq    INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        pin    TEXT NOT NULL,
        at     INTEGER NOT NULL,
        value  TEXT NOT NULL,
        kept   INTEGER NOT NULL,
        number REAL
    ) STRICT;
";

/// Appends one value in the caller's transaction: `kept` when its
/// datastream keeps history (a history row, and rollups when numeric).
///
/// # Errors
/// SQL errors.
pub fn append(
    conn: &Connection,
    device: &str,
    pin: &str,
    value: &str,
    at: i64,
    kept: bool,
) -> rusqlite::Result<()> {
    // Rolled up only where the fold's sums and bucket arithmetic stay
    // finite and in range: a group's sum of two values near f64::MAX is
    // infinite, and infinities of both signs would add up to NULL; a time
    // near i64::MIN overflows its bucket. A value outside keeps its row.
    let number = numeric(value).filter(|n| kept && n.abs() <= 1e300 && at.unsigned_abs() < 1 << 62);
    conn.prepare_cached(
        "INSERT INTO value_journal (device, pin, at, value, kept, number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![device, pin, at, value, kept, number])?;
    Ok(())
}

/// Moves every journalled value to its live value, history row and
/// rollups, in the caller's transaction, and empties the journal (see
/// [`fold_some`]). Returns how many values it moved.
///
/// # Errors
/// SQL errors (the caller's transaction then keeps the journal).
pub fn fold(conn: &Connection) -> rusqlite::Result<usize> {
    fold_some(conn, usize::MAX)
}

/// Moves the oldest `most` journalled values to their live values, history
/// rows and rollups, in the caller's transaction, and takes them out of
/// the journal. The result is what writing each value in arrival order
/// would have left: the newest `at` is live (the later of two with the
/// same `at`), raw rows of one pin keep their arrival order, and rollups
/// add up. Returns how many values it moved.
///
/// # Errors
/// SQL errors (the caller's transaction then keeps the journal).
pub fn fold_some(conn: &Connection, most: usize) -> rusqlite::Result<usize> {
    let most = i64::try_from(most).unwrap_or(i64::MAX);
    let last: Option<i64> = conn
        .prepare_cached(
            "SELECT max(seq) FROM (SELECT seq FROM value_journal ORDER BY seq LIMIT ?1)",
        )?
        .query_row([most], |r| r.get(0))?;
    let Some(last) = last else {
        return Ok(0);
    };
    // Arrival order, so a later value with the same `at` wins as before.
    // (`WHERE` is SQLite's rule for an upsert from a SELECT.)
    conn.prepare_cached(
        "INSERT INTO live_values (device, pin, value, at)
         SELECT device, pin, value, at FROM value_journal WHERE seq <= ?1 ORDER BY seq
         ON CONFLICT (device, pin) DO UPDATE SET value = excluded.value, at = excluded.at
         WHERE excluded.at >= live_values.at",
    )?
    .execute([last])?;
    conn.prepare_cached(
        "INSERT INTO history (device, pin, at, value)
         SELECT device, pin, at, value FROM value_journal WHERE seq <= ?1 AND kept
         ORDER BY device, pin, at, seq",
    )?
    .execute([last])?;
    for width in [MINUTE, HOUR] {
        // The bucket is the floor of `at` (as `div_euclid`), also before 1970.
        conn.prepare_cached(
            "INSERT INTO history_rollup (device, pin, width, bucket, count, sum, min, max)
             SELECT device, pin, ?2, at - ((at % ?2) + ?2) % ?2 AS bucket,
                    count(*), sum(number), min(number), max(number)
             FROM value_journal WHERE seq <= ?1 AND kept AND number IS NOT NULL
             GROUP BY device, pin, bucket
             ON CONFLICT (device, pin, width, bucket) DO UPDATE SET
               count = count + excluded.count, sum = sum + excluded.sum,
               min = min(min, excluded.min), max = max(max, excluded.max)",
        )?
        .execute([last, width])?;
    }
    conn.prepare_cached("DELETE FROM value_journal WHERE seq <= ?1")?
        .execute([last])
}

/// The newest `at` journalled, if any (what the doctor compares the clock
/// with, beside the history's).
///
/// # Errors
/// SQL errors.
pub fn newest(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT max(at) FROM value_journal", [], |r| r.get(0))
}

#[cfg(test)]
mod tests;
