//! Reading history back: a pin's points in a time range (raw rows or
//! minute and hour rollups) and a device's newest events. Read-only: it
//! never writes a row, and every query is bounded by its `limit`.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{HOUR, MINUTE};

/// How a history query folds rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Raw,
    Minute,
    Hour,
}

impl Aggregation {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "raw" | "" => Some(Aggregation::Raw),
            "minute" | "1m" => Some(Aggregation::Minute),
            "hour" | "1h" => Some(Aggregation::Hour),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Point {
    Raw {
        at: i64,
        value: String,
    },
    Rollup {
        at: i64,
        count: i64,
        avg: f64,
        min: f64,
        max: f64,
    },
}

/// Points of one pin in `[from, to)`, oldest first, at most `limit`.
pub fn query(
    conn: &Connection,
    device: &str,
    pin: &str,
    from: i64,
    to: i64,
    aggregation: Aggregation,
    limit: i64,
) -> rusqlite::Result<Vec<Point>> {
    match aggregation {
        Aggregation::Raw => {
            let mut stmt = conn.prepare_cached(
                "SELECT at, value FROM history
                 WHERE device = ?1 AND pin = ?2 AND at >= ?3 AND at < ?4 ORDER BY at, rowid LIMIT ?5",
            )?;
            let rows = stmt.query_map(params![device, pin, from, to, limit], |r| {
                Ok(Point::Raw {
                    at: r.get(0)?,
                    value: r.get(1)?,
                })
            })?;
            rows.collect()
        }
        Aggregation::Minute | Aggregation::Hour => {
            let width = if aggregation == Aggregation::Minute {
                MINUTE
            } else {
                HOUR
            };
            let mut stmt = conn.prepare_cached(
                "SELECT bucket, count, sum, min, max FROM history_rollup
                 WHERE device = ?1 AND pin = ?2 AND width = ?3 AND bucket >= ?4 AND bucket < ?5
                 ORDER BY bucket LIMIT ?6",
            )?;
            let rows = stmt.query_map(
                params![
                    device,
                    pin,
                    width,
                    from.div_euclid(width) * width,
                    to,
                    limit
                ],
                |r| {
                    let count: i64 = r.get(1)?;
                    let sum: f64 = r.get(2)?;
                    Ok(Point::Rollup {
                        at: r.get(0)?,
                        count,
                        avg: sum / count.max(1) as f64,
                        min: r.get(3)?,
                        max: r.get(4)?,
                    })
                },
            )?;
            rows.collect()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StoredEvent {
    pub id: i64,
    pub code: String,
    pub description: Option<String>,
    pub at: i64,
    pub cleared: Option<i64>,
}

/// A device's newest events, newest first.
pub fn events(conn: &Connection, device: &str, limit: i64) -> rusqlite::Result<Vec<StoredEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, code, description, at, cleared FROM device_events
         WHERE device = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![device, limit], |r| {
        Ok(StoredEvent {
            id: r.get(0)?,
            code: r.get(1)?,
            description: r.get(2)?,
            at: r.get(3)?,
            cleared: r.get(4)?,
        })
    })?;
    rows.collect()
}
