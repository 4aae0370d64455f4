//! Retention: what history rows are no longer kept, deleted in bounded
//! steps. Each cutoff is measured back from the earlier of the clock and
//! the newest row of what it cuts (a pin, the events, a rollup width), so a
//! hub booted with a clock years ahead deletes nothing fresh.
//!
//! The cutoffs are found by index seeks (one per pin that ever had a live
//! value), never by scanning the history, and the rows go in steps of a
//! bounded size, each its own transaction: a purge of millions of rows never
//! holds the store for long, so values are acknowledged meanwhile.

use rusqlite::{Connection, OptionalExtension, params};

use super::{DAY, HOUR, MINUTE};

/// How long each kind of row is kept.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Raw rows of pins whose datastream says nothing.
    pub raw_days: u32,
    /// Raw rows per `(device, pin)` whose datastream sets its own.
    pub per_pin: Vec<(String, String, u32)>,
    pub minute_days: u32,
    pub hour_days: u32,
}

/// What one purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub raw: usize,
    pub rollups: usize,
}

impl Purged {
    pub fn total(self) -> usize {
        self.raw + self.rollups
    }

    fn add(&mut self, other: Purged) {
        self.raw += other.raw;
        self.rollups += other.rollups;
    }
}

/// What is left to delete: rows older than each cutoff.
#[derive(Debug, Clone, Default)]
pub struct Cutoffs {
    /// (device, pin, cutoff) of raw history.
    raw: Vec<(String, String, i64)>,
    events: Option<i64>,
    /// (width, cutoff) of rollups.
    rollups: Vec<(i64, i64)>,
}

/// The cutoffs `retention` sets at `now`.
///
/// # Errors
/// SQL errors.
pub fn cutoffs(conn: &Connection, retention: &Retention, now: i64) -> rusqlite::Result<Cutoffs> {
    let per_pin: std::collections::HashMap<(&str, &str), u32> = retention
        .per_pin
        .iter()
        .map(|(d, p, days)| ((d.as_str(), p.as_str()), *days))
        .collect();
    // Every pin with history has had a live value: one seek per pin.
    let pins: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT device, pin FROM live_values")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut newest = conn.prepare_cached(
        "SELECT at FROM history WHERE device = ?1 AND pin = ?2 ORDER BY at DESC LIMIT 1",
    )?;
    let mut out = Cutoffs::default();
    for (device, pin) in pins {
        let Some(at) = newest
            .query_row(params![device, pin], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            continue;
        };
        let days = per_pin
            .get(&(device.as_str(), pin.as_str()))
            .copied()
            .unwrap_or(retention.raw_days);
        out.raw
            .push((device, pin, now.min(at) - i64::from(days) * DAY));
    }
    // Events are kept as long as raw history, counted back from the newest.
    let newest_event: Option<i64> =
        conn.query_row("SELECT MAX(at) FROM device_events", [], |r| r.get(0))?;
    out.events = newest_event.map(|at| now.min(at) - i64::from(retention.raw_days) * DAY);
    for (width, days) in [(MINUTE, retention.minute_days), (HOUR, retention.hour_days)] {
        let newest: Option<i64> = conn.query_row(
            "SELECT MAX(bucket) FROM history_rollup WHERE width = ?1",
            [width],
            |r| r.get(0),
        )?;
        if let Some(at) = newest {
            out.rollups
                .push((width, now.min(at) - i64::from(days) * DAY));
        }
    }
    Ok(out)
}

/// Deletes at most `limit` rows past `cutoffs`, dropping the cutoffs it
/// finished; fewer than `limit` deleted means the purge is done.
///
/// # Errors
/// SQL errors.
pub fn purge_some(
    conn: &Connection,
    cutoffs: &mut Cutoffs,
    limit: usize,
) -> rusqlite::Result<Purged> {
    let mut purged = Purged::default();
    let left = |p: &Purged| limit.saturating_sub(p.total());
    let step = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    while let Some((device, pin, cutoff)) = cutoffs.raw.last() {
        let want = left(&purged);
        if want == 0 {
            return Ok(purged);
        }
        let n = conn.execute(
            "DELETE FROM history WHERE rowid IN (SELECT rowid FROM history
             WHERE device = ?1 AND pin = ?2 AND at < ?3 LIMIT ?4)",
            params![device, pin, cutoff, step(want)],
        )?;
        purged.raw += n;
        if n < want {
            cutoffs.raw.pop();
        }
    }
    if let Some(cutoff) = cutoffs.events {
        let want = left(&purged);
        if want == 0 {
            return Ok(purged);
        }
        let n = conn.execute(
            "DELETE FROM device_events WHERE id IN (SELECT id FROM device_events
             WHERE at < ?1 LIMIT ?2)",
            params![cutoff, step(want)],
        )?;
        purged.raw += n;
        if n < want {
            cutoffs.events = None;
        }
    }
    while let Some((width, cutoff)) = cutoffs.rollups.last() {
        let want = left(&purged);
        if want == 0 {
            return Ok(purged);
        }
        let n = conn.execute(
            "DELETE FROM history_rollup WHERE (device, pin, width, bucket) IN
             (SELECT device, pin, width, bucket FROM history_rollup
              WHERE width = ?1 AND bucket < ?2 LIMIT ?3)",
            params![width, cutoff, step(want)],
        )?;
        purged.rollups += n;
        if n < want {
            cutoffs.rollups.pop();
        }
    }
    Ok(purged)
}

/// Deletes everything `retention` no longer keeps at `now`, in one go.
///
/// # Errors
/// SQL errors.
pub fn purge(conn: &Connection, retention: &Retention, now: i64) -> rusqlite::Result<Purged> {
    let mut cut = cutoffs(conn, retention, now)?;
    let mut purged = Purged::default();
    loop {
        let step = purge_some(conn, &mut cut, 100_000)?;
        purged.add(step);
        if step.total() < 100_000 {
            return Ok(purged);
        }
    }
}
