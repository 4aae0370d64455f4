//! Recording what a device reports: the value checked against its
//! datastream, made live, announced, and queued for the history writer
//! (within the device's history budget). A refused value is never stored
//! nor announced.

use super::value::{self, Pin};
use super::{Committed, DeviceError, Devices, LiveValue, Record, Update};

impl Devices {
    /// A value the device reports on `pin`: checked against its datastream,
    /// made live, written to history, announced. With `durable`, returns
    /// only once the value is committed with `synchronous=FULL`.
    ///
    /// # Errors
    /// [`DeviceError::Invalid`] for a value the datastream refuses (nothing
    /// is stored); [`DeviceError::NotFound`] for a deleted device.
    pub async fn record(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
        durable: bool,
    ) -> Result<String, DeviceError> {
        let (value, record) = self.accept(device, pin, values)?;
        if durable {
            self.writer.write_durable(record).await?;
        } else {
            self.writer.write(record).await?;
        }
        Ok(value)
    }

    /// Like [`Devices::record`] with `durable`, but returns once the value
    /// is queued: the [`Committed`] resolves when it is on disk (commits
    /// resolve in order), so a connection can go on reading meanwhile.
    ///
    /// # Errors
    /// As [`Devices::record`].
    pub async fn record_queued(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
    ) -> Result<Committed, DeviceError> {
        let (_, record) = self.accept(device, pin, values)?;
        Ok(self.writer.queue_durable(record).await?)
    }

    /// Checks a reported value, makes it live and announces it; the stored
    /// form and the record to write.
    fn accept(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
    ) -> Result<(String, Record), DeviceError> {
        let (value, history) = self.check(device, pin, values)?;
        // A runaway device cannot fill the disk: its values stay live.
        let history = history && self.history_budget.allow(device);
        let at = self.clock.now_ms();
        self.set_live(device, pin, &value, at, false);
        let record = Record::Value {
            device: device.to_owned(),
            pin: pin.to_string(),
            value: value.clone(),
            at,
            history,
        };
        Ok((value, record))
    }

    /// Checks `values` for `pin` of `device`: the stored form and whether
    /// the datastream keeps history.
    pub(super) fn check(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
    ) -> Result<(String, bool), DeviceError> {
        self.replica.with_state(|state| {
            let found = state
                .devices()
                .get(device)
                .filter(|d| !d.deleted)
                .ok_or_else(|| DeviceError::NotFound(format!("device {device}")))?;
            let template = found
                .template
                .as_ref()
                .and_then(|t| state.templates().get(t))
                .filter(|t| !t.deleted);
            let datastream = value::datastream(template, pin)?;
            let stored = value::check(pin, datastream, values)?;
            Ok((stored, datastream.is_none_or(|d| d.history)))
        })?
    }

    /// Makes `value` the live value of `pin` and announces it; with
    /// `pending`, marks it as a command the device has yet to confirm
    /// instead. A pending command is confirmed when the device reports the
    /// same value.
    pub(super) fn set_live(&self, device: &str, pin: Pin, value: &str, at: i64, pending: bool) {
        let pin = pin.to_string();
        {
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            let entry = live
                .entry(device.to_owned())
                .or_default()
                .values
                .entry(pin.clone())
                .or_insert_with(|| LiveValue {
                    value: String::new(),
                    at: 0,
                    pending: None,
                });
            if pending {
                entry.pending = Some(value.to_owned());
            } else {
                entry.value = value.to_owned();
                entry.at = at;
                if entry.pending.as_deref() == Some(value) {
                    entry.pending = None;
                }
            }
        }
        self.publish(Update::Value {
            device: device.to_owned(),
            pin,
            value: value.to_owned(),
            at,
            pending,
        });
    }
}
