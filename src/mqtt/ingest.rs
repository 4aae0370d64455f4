//! What a device's MQTT uplink does, wherever it arrived (Hearth's own
//! listener or the household's broker): values into the devices core,
//! properties, events, information, and the answers to `get/ds`. It never decides whose device
//! a message is (the caller authenticated it) and never acknowledges: it returns the commit for
//! the caller to wait on before its PUBACK.

use std::collections::VecDeque;

use crate::devices::{Committed, DeviceError, Devices, Pin};

use super::topics::{self, Uplink};

/// The outcome of one uplink.
#[derive(Default)]
pub struct Applied {
    /// The commit to wait for before acknowledging (durable values only).
    pub committed: Option<Committed>,
    /// Messages for the device: `(topic in the Blynk layout, payload)`.
    pub replies: Vec<(String, Vec<u8>)>,
}

/// Applies `uplink` of `device`; `durable` values are queued for a
/// `synchronous=FULL` commit whose [`Committed`] is returned.
///
/// # Errors
/// A datastream the device's template does not have, a value it refuses.
pub async fn apply(
    devices: &Devices,
    device: &str,
    uplink: Uplink,
    durable: bool,
) -> Result<Applied, DeviceError> {
    let pin = |name: &str| {
        devices
            .pin_named(device, name)
            .ok_or_else(|| DeviceError::Refused(format!("no datastream named {name:?}")))
    };
    let mut applied = Applied::default();
    match uplink {
        Uplink::Value { name, values } => {
            let pin = pin(&name)?;
            if durable {
                applied.committed = Some(devices.record_queued(device, pin, &values).await?);
            } else {
                devices.record(device, pin, &values, false).await?;
            }
        }
        Uplink::Batch(pairs) => {
            for (name, values) in pairs {
                let pin = pin(&name)?;
                // One commit covers the batch: commits resolve in order.
                let committed = devices.record_queued(device, pin, &values).await?;
                applied.committed = Some(committed).filter(|_| durable);
            }
        }
        Uplink::Property {
            name,
            property,
            value,
        } => {
            devices
                .set_property(device, pin(&name)?, &property, &value)
                .await?
        }
        Uplink::Erase { .. } => {}
        Uplink::Event { code, description } => {
            devices.log_event(device, &code, description).await?
        }
        Uplink::Info(pairs) => devices.set_info(device, pairs),
        Uplink::Get(names) => {
            let live = devices.values(device);
            let wanted: Vec<(String, String)> = match names {
                Some(names) => names
                    .into_iter()
                    .filter_map(|n| {
                        let pin = devices.pin_named(device, &n)?;
                        Some((n, live.get(&pin.to_string())?.value.clone()))
                    })
                    .collect(),
                None => live
                    .into_iter()
                    .filter_map(|(pin, v)| {
                        Some((devices.name_of(device, Pin::parse(&pin)?), v.value))
                    })
                    .collect(),
            };
            applied.replies = wanted
                .into_iter()
                .map(|(name, value)| (topics::downlink_ds(&name), value.into_bytes()))
                .collect();
        }
    }
    Ok(applied)
}

/// The oldest in-flight message (its packet id, or the publish to ack)
/// once its commit is done: acknowledgements leave in arrival order.
/// Pending while none is in flight, so `select!` waits on the others;
/// cancellation safe: an entry leaves the queue only once its commit is
/// done.
pub async fn next_commit<T>(
    in_flight: &mut VecDeque<(T, Option<Committed>)>,
) -> (T, Result<(), crate::store::StoreError>) {
    let Some((_, committed)) = in_flight.front_mut() else {
        return std::future::pending().await;
    };
    let result = match committed {
        Some(c) => c.done().await,
        None => Ok(()),
    };
    match in_flight.pop_front() {
        Some((item, _)) => (item, result),
        None => std::future::pending().await,
    }
}
