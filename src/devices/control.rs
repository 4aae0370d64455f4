//! Commands (DESIGN §4): a person (or a device through BRIDGE) writes a
//! value to a device's pin. The order is always the same: may the caller
//! control it (404 outside their view, 403 naming the permission), is the
//! value one the datastream takes, is the device there to hear it. Nothing is sent before all
//! three pass, a command never waits over 2 s for room in a device's queue, and a refusal never
//! names an organization the caller may not see (a view-only share is told to ask the owner).

use std::time::Duration;

use serde::Serialize;

use crate::store::StoreError;
use crate::tenancy::entities::Device;
use crate::tenancy::{Access, Caller, Level, Permission, ReplicaError, TenantState};

use super::value::{self, Pin, ValueError};
use super::{Devices, Downlink};

/// How long a command may wait for room in a device's queue.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Does not exist, or the caller may not see it.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller sees the device but may not control it.
    #[error("{message}")]
    Denied {
        permission: Option<Permission>,
        message: String,
    },
    #[error(transparent)]
    Invalid(#[from] ValueError),
    #[error("{0}")]
    Refused(String),
    /// Not connected, and the datastream does not wait for it.
    #[error(
        "device {0} is offline; the value was not sent (datastreams with sync_on_connect \
         keep it for the next connection)"
    )]
    Offline(String),
    /// Connected, but not taking commands fast enough.
    #[error("device {0} is not taking commands; try again")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

/// What became of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandOutcome {
    /// Sent to the device and made the live value.
    Sent,
    /// Sent; shown as pending until the device echoes it.
    Pending,
    /// The device is offline; it gets the value when it connects.
    Queued,
}

/// May `by` control `device`? `Ok` with the device's template datastream
/// check still to do; the error is what the caller is told.
pub fn may_control(
    state: &TenantState,
    by: &Caller,
    device: &Device,
    now: i64,
) -> Result<(), DeviceError> {
    let Caller::User(user) = by else {
        return Ok(());
    };
    let access = Access::new(state, now);
    match access.device_level(user, device) {
        Some(Level::Control) => Ok(()),
        None => Err(DeviceError::NotFound(format!("device {}", device.id))),
        Some(Level::View) => {
            let owns = access
                .effective_owner(device)
                .is_some_and(|m| state.canonical(&m.user) == state.canonical(user));
            let org = access
                .effective_org(device)
                .and_then(|o| state.orgs().get(o))
                .map_or("its organization", |o| o.name.as_str());
            let sees_org = access.effective_org(device).is_some_and(|o| {
                access
                    .perms_over(user, o)
                    .contains(Permission::ViewOrgDevices)
            });
            let (permission, message) = if owns {
                let p = Permission::ControlOwnDevices;
                (
                    Some(p),
                    format!(
                        "your role in {org} lacks {} ({p}), which controlling your device {} needs",
                        p.label(),
                        device.name
                    ),
                )
            } else if sees_org {
                let p = Permission::ControlOrgDevices;
                (
                    Some(p),
                    format!(
                        "your role in {org} lacks {} ({p}), which controlling {} needs",
                        p.label(),
                        device.name
                    ),
                )
            } else {
                (
                    None,
                    format!(
                        "{} is shared with you to view only; ask its owner to share it for control",
                        device.name
                    ),
                )
            };
            Err(DeviceError::Denied {
                permission,
                message,
            })
        }
    }
}

pub(super) async fn command(
    devices: &Devices,
    by: &Caller,
    device: &str,
    pin: Pin,
    values: Vec<String>,
) -> Result<CommandOutcome, DeviceError> {
    let now = devices.clock.now_ms();
    let (stored, confirm, sync_on_connect, history) = devices.replica.with_state(|state| {
        let found = state
            .devices()
            .get(device)
            .filter(|d| !d.deleted)
            .ok_or_else(|| DeviceError::NotFound(format!("device {device}")))?;
        may_control(state, by, found, now)?;
        let template = found
            .template
            .as_ref()
            .and_then(|t| state.templates().get(t))
            .filter(|t| !t.deleted);
        let ds = value::datastream(template, pin)?;
        let stored = value::check(pin, ds, &values)?;
        Ok::<_, DeviceError>((
            stored,
            ds.is_some_and(|d| d.wait_for_confirmation),
            ds.is_some_and(|d| d.sync_on_connect),
            ds.is_none_or(|d| d.history),
        ))
    })??;
    match devices.downlink(device) {
        Some(link) => {
            let relayed = devices
                .online(device)
                .is_some_and(|o| o.transport == super::RELAY_TRANSPORT);
            let command = Downlink::Write {
                pin,
                values,
                by: Some(by.clone()),
            };
            let sent = link.send_timeout(command, QUEUE_WAIT).await;
            match sent {
                Ok(()) => {}
                Err(mpsc_error) => {
                    return Err(match mpsc_error {
                        tokio::sync::mpsc::error::SendTimeoutError::Timeout(_) => {
                            DeviceError::Busy(device.to_owned())
                        }
                        tokio::sync::mpsc::error::SendTimeoutError::Closed(_) => {
                            DeviceError::Offline(device.to_owned())
                        }
                    });
                }
            }
            if confirm {
                devices.set_live(device, pin, &stored, now, true);
                return Ok(CommandOutcome::Pending);
            }
            if relayed {
                // The hub the device is on records the value; its outbox
                // brings it here (recording it here too would count it twice).
                return Ok(CommandOutcome::Sent);
            }
            devices
                .store_value(device, pin, stored, now, history)
                .await?;
            Ok(CommandOutcome::Sent)
        }
        None if sync_on_connect => {
            devices
                .store_value(device, pin, stored, now, history)
                .await?;
            Ok(CommandOutcome::Queued)
        }
        None => Err(DeviceError::Offline(device.to_owned())),
    }
}

impl Devices {
    /// Makes an accepted command's value live and durable: its 2xx means it
    /// survives a crash.
    async fn store_value(
        &self,
        device: &str,
        pin: Pin,
        value: String,
        at: i64,
        history: bool,
    ) -> Result<(), DeviceError> {
        self.set_live(device, pin, &value, at, false);
        self.writer
            .write_durable(super::Record::Value {
                device: device.to_owned(),
                pin: pin.to_string(),
                value,
                at,
                history,
            })
            .await?;
        Ok(())
    }
}
