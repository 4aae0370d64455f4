//! Writing one batch of [`Record`]s in the caller's transaction: values
//! (into the [`journal`], which later folds them into live values, history
//! rows and rollups), events, properties, the outbox and ingest marks. It
//! never opens or commits a transaction itself; the writer task's store
//! write does.

use rusqlite::{Connection, params};

use super::{Record, journal};

/// Writes `records` in the caller's transaction; values also go to
/// `outbox` while it is on. Returns whether it is on after them.
pub(super) fn write_batch_to(
    conn: &Connection,
    records: &[Record],
    outbox: Option<&crate::devices::outbox::Outbox>,
) -> rusqlite::Result<bool> {
    let mut queue = outbox.filter(|o| o.enabled());
    let mut event = conn.prepare_cached(
        "INSERT INTO device_events (device, code, description, at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for record in records {
        match record {
            Record::Value {
                device,
                pin,
                value,
                at,
                history,
            } => {
                journal::append(conn, device, pin, value, *at, *history)?;
                if let Some(outbox) = queue {
                    outbox.enqueue(conn, device, pin, value, *at)?;
                }
            }
            Record::Event {
                device,
                code,
                description,
                at,
            } => {
                event.execute(params![device, code, description, at])?;
            }
            Record::Property {
                device,
                pin,
                name,
                value,
            } => {
                conn.prepare_cached(
                    "INSERT INTO device_properties (device, pin, name, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (device, pin, name) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![device, pin, name, value])?;
            }
            Record::Barrier => {}
            Record::StartOutbox => {
                if let (None, Some(outbox)) = (queue, outbox) {
                    // What is journalled is history too.
                    journal::fold(conn)?;
                    outbox.backfill(conn)?;
                    queue = Some(outbox);
                }
            }
            Record::Ingested {
                values,
                hub,
                epoch,
                seq,
            } => {
                write_batch_to(conn, values, None)?;
                conn.execute(
                    "INSERT INTO ingest_marks (hub, epoch, seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT (hub) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq",
                    params![hub, epoch, seq],
                )?;
            }
            Record::ClearEvents { device, code, at } => {
                conn.execute(
                    "UPDATE device_events SET cleared = ?3
                     WHERE device = ?1 AND cleared IS NULL AND (?2 IS NULL OR code = ?2)",
                    params![device, code, at],
                )?;
            }
        }
    }
    Ok(queue.is_some())
}
