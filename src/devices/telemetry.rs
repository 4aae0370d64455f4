//! Events, history queries, commands and retention: what the devices core
//! does with the store beyond recording values.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{
    Aggregation, CommandOutcome, DeviceError, Devices, Pin, Point, Record, Retention, StoredEvent,
    Update, control, history,
};
use crate::store::StoreError;
use crate::tenancy::Caller;

/// The first purge waits this long after start.
pub const FIRST_PURGE_AFTER: Duration = Duration::from_secs(600);
/// Rows one purge step (one transaction) deletes at most.
const PURGE_STEP: usize = 10_000;

impl Devices {
    /// A device's event (`Blynk.logEvent`), stored and announced.
    ///
    /// # Errors
    /// An event code the device's template does not define.
    pub async fn log_event(
        &self,
        device: &str,
        code: &str,
        description: Option<String>,
    ) -> Result<(), DeviceError> {
        if code.len() > 64 || description.as_ref().is_some_and(|d| d.len() > 512) {
            return Err(DeviceError::Refused(
                "an event code is at most 64 bytes, its description at most 512".into(),
            ));
        }
        self.replica.with_state(|state| {
            let template = state
                .devices()
                .get(device)
                .and_then(|d| d.template.as_ref())
                .and_then(|t| state.templates().get(t))
                .filter(|t| !t.deleted);
            match template {
                Some(t) if !t.definition.events.iter().any(|e| e.code == code) => {
                    Err(DeviceError::Refused(format!(
                        "template {:?} defines no event {code:?}",
                        t.name
                    )))
                }
                _ => Ok(()),
            }
        })??;
        let at = self.clock.now_ms();
        self.writer
            .write(Record::Event {
                device: device.to_owned(),
                code: code.to_owned(),
                description: description.clone(),
                at,
            })
            .await?;
        self.publish(Update::Event {
            device: device.to_owned(),
            code: code.to_owned(),
            description,
            at,
        });
        Ok(())
    }

    /// Resolves a device's open events with `code`, or all of them.
    ///
    /// # Errors
    /// When the writer has stopped.
    pub async fn clear_events(
        &self,
        device: &str,
        code: Option<String>,
    ) -> Result<(), DeviceError> {
        self.writer
            .write(Record::ClearEvents {
                device: device.to_owned(),
                code,
                at: self.clock.now_ms(),
            })
            .await?;
        Ok(())
    }

    /// History of one pin (see [`history::query`]).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn history(
        &self,
        device: &str,
        pin: Pin,
        from: i64,
        to: i64,
        aggregation: Aggregation,
        limit: i64,
    ) -> Result<Vec<Point>, StoreError> {
        self.writer.flush().await?;
        let (device, pin) = (device.to_owned(), pin.to_string());
        self.store
            .read(move |conn| history::query(conn, &device, &pin, from, to, aggregation, limit))
            .await
    }

    /// A device's newest events.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn events(&self, device: &str, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        self.writer.flush().await?;
        let device = device.to_owned();
        self.store
            .read(move |conn| history::events(conn, &device, limit))
            .await
    }

    /// Turns the outbox on (the household was just linked to the cloud),
    /// with the history kept so far queued first; returns once that is
    /// committed.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn start_outbox(&self) -> Result<(), StoreError> {
        self.writer.write_durable(Record::StartOutbox).await
    }

    /// Waits until everything queued so far is written.
    ///
    /// # Errors
    /// When the writer has stopped.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush().await
    }

    /// A command: `by` writes `values` to `pin` of `device` (see
    /// [`control::command`]).
    ///
    /// # Errors
    /// As [`DeviceError`] says.
    pub async fn command(
        &self,
        by: &Caller,
        device: &str,
        pin: Pin,
        values: Vec<String>,
    ) -> Result<CommandOutcome, DeviceError> {
        control::command(self, by, device, pin, values).await
    }

    /// The retention task: purges old history hourly until `shutdown`,
    /// the first time [`FIRST_PURGE_AFTER`] after start (never in the way of
    /// starting), each purge in steps of [`PURGE_STEP`] rows, each its own
    /// transaction, so values are acknowledged while it runs.
    pub async fn run_retention(self: Arc<Self>, base: Retention, shutdown: CancellationToken) {
        let mut clock = history::ClockCheck::new(Duration::from_secs(300));
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + FIRST_PURGE_AFTER,
            Duration::from_secs(3600),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = self.clock.now_ms();
            if !clock.steady(now) {
                tracing::warn!("history: the wall clock jumped; skipping this purge");
                continue;
            }
            let mut retention = base.clone();
            retention.per_pin = self.per_pin_retention();
            match self.purge(retention, now, &shutdown).await {
                Ok(p) if p.total() > 0 => {
                    tracing::info!("history: purged {} raw rows, {} rollups", p.raw, p.rollups);
                }
                Ok(_) => {}
                Err(e) => tracing::error!("history: purge failed: {e}"),
            }
        }
    }

    /// One purge, in steps (see [`Devices::run_retention`]).
    async fn purge(
        &self,
        retention: Retention,
        now: i64,
        shutdown: &CancellationToken,
    ) -> Result<history::Purged, crate::store::StoreError> {
        let mut cut = self
            .store
            .read(move |conn| history::cutoffs(conn, &retention, now))
            .await?;
        let mut purged = history::Purged::default();
        while !shutdown.is_cancelled() {
            let (step, rest) = self
                .store
                .write(crate::store::Durability::Relaxed, move |conn| {
                    let step = history::purge_some(conn, &mut cut, PURGE_STEP)?;
                    Ok((step, cut))
                })
                .await?;
            cut = rest;
            purged.raw += step.raw;
            purged.rollups += step.rollups;
            if step.total() < PURGE_STEP {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok(purged)
    }

    fn per_pin_retention(&self) -> Vec<(String, String, u32)> {
        self.replica
            .with_state(|state| {
                let mut out = Vec::new();
                for device in state.devices().values().filter(|d| !d.deleted) {
                    let Some(t) = device
                        .template
                        .as_ref()
                        .and_then(|t| state.templates().get(t))
                    else {
                        continue;
                    };
                    for ds in &t.definition.datastreams {
                        if let Some(days) = ds.retention_days {
                            out.push((device.id.clone(), format!("V{}", ds.pin), days));
                        }
                    }
                }
                out
            })
            .unwrap_or_default()
    }
}
