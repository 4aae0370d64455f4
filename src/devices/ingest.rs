//! Taking in telemetry another node recorded: on the cloud, the values a
//! hub's outbox delivers. Each delivery is de-duplicated against how far
//! that hub's outbox has been taken in (its mark: restore epoch and
//! sequence), and its new values are written in one transaction with the
//! new mark (`Record::Ingested`), so a value is stored exactly once however
//! often it is delivered, and a crash loses nothing acknowledged.

use rusqlite::OptionalExtension;

use super::history::Record;
use super::{Devices, Pin};
use crate::devices::outbox::Row;
use crate::store::StoreError;

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Ingested {
    /// The last row of the delivery: everything up to it is durable here.
    pub acked: Option<(i64, i64)>,
    pub accepted: usize,
    pub duplicates: usize,
}

impl Devices {
    /// Stores the rows of `hub` not stored before, durably, in order.
    ///
    /// # Errors
    /// Storage failures (nothing is acknowledged then).
    pub async fn ingest(&self, hub: &str, rows: Vec<Row>) -> Result<Ingested, StoreError> {
        // One delivery at a time: a hub that reconnected while its previous
        // delivery was still being written must not race it past the mark.
        let _one = self.ingesting.lock().await;
        let owner = hub.to_owned();
        let mark: Option<(i64, i64)> = self
            .store
            .read(move |c| {
                c.query_row(
                    "SELECT epoch, seq FROM ingest_marks WHERE hub = ?1",
                    [owner],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await?;
        let acked = rows.last().map(|r| (r.epoch, r.seq));
        let total = rows.len();
        let fresh: Vec<Row> = rows
            .into_iter()
            .filter(|r| mark.is_none_or(|m| (r.epoch, r.seq) > m))
            .collect();
        let Some(last) = fresh.last().map(|r| (r.epoch, r.seq)) else {
            return Ok(Ingested {
                acked,
                accepted: 0,
                duplicates: total,
            });
        };
        let accepted = fresh.len();
        let values = fresh
            .into_iter()
            .map(|row| {
                // The hub checked the value; the datastream only says whether
                // it keeps history (a device this replica does not know yet
                // keeps it: nothing accepted is thrown away).
                let history = row.pin.as_str();
                let history = Pin::parse(history)
                    .and_then(|pin| {
                        self.check(&row.device, pin, std::slice::from_ref(&row.value))
                            .ok()
                    })
                    .is_none_or(|(_, history)| history);
                self.set_live_if_newer(&row.device, &row.pin, &row.value, row.at);
                Record::Value {
                    device: row.device,
                    pin: row.pin,
                    value: row.value,
                    at: row.at,
                    history,
                }
            })
            .collect();
        self.writer
            .write_durable(Record::Ingested {
                values,
                hub: hub.to_owned(),
                epoch: last.0,
                seq: last.1,
            })
            .await?;
        Ok(Ingested {
            acked,
            accepted,
            duplicates: total - accepted,
        })
    }

    /// Makes `value` live unless a newer one is (a backlog arrives late).
    fn set_live_if_newer(&self, device: &str, pin: &str, value: &str, at: i64) {
        let newer = self
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(device)
            .and_then(|d| d.values.get(pin))
            .is_none_or(|live| at >= live.at);
        if let (true, Some(pin)) = (newer, Pin::parse(pin)) {
            self.set_live(device, pin, value, at, false);
        }
    }
}
