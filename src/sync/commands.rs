//! Commands made through the cloud's API for devices connected here: this
//! hub long-polls the cloud, telling it which devices are connected to it,
//! and carries out what comes back as the person who commanded it, through
//! the same checks as a command made here (see `cloud::relay`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::links::Uplink;
use super::uplink::{Delivery, jittered};
use crate::devices::{Devices, Pin, RELAY_TRANSPORT};
use crate::tenancy::Caller;

/// Polls the cloud of `uplink` for commands until `shutdown`.
pub async fn poll(
    devices: Arc<Devices>,
    uplink: Uplink,
    max_backoff: Duration,
    state: Arc<Mutex<Delivery>>,
    shutdown: CancellationToken,
) {
    let client = match uplink.client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("sync: the cloud's commands cannot be fetched: {e}");
            return;
        }
    };
    let mut backoff = Duration::from_millis(200).min(max_backoff);
    loop {
        let online: Vec<String> = devices
            .online_devices()
            .into_iter()
            .filter(|(_, transport)| *transport != RELAY_TRANSPORT)
            .map(|(device, _)| device)
            .collect();
        let polled = tokio::select! {
            _ = shutdown.cancelled() => return,
            polled = client.request("POST", "/cloud/v1/relay", Some(json!({ "online": online }))) => polled,
        };
        let body = match polled.map_err(|e| e.to_string()).and_then(|r| r.ok()) {
            Ok(body) => {
                backoff = Duration::from_millis(200).min(max_backoff);
                body
            }
            Err(e) => {
                tracing::debug!("sync: polling the cloud for commands failed: {e}");
                state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .last_error = Some(e);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(jittered(backoff)) => {}
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        let commands: Vec<crate::cloud::relay::Relayed> =
            serde_json::from_value(body["commands"].clone()).unwrap_or_default();
        for command in commands {
            let Some(pin) = Pin::parse(&command.pin) else {
                continue;
            };
            let by = Caller::User(command.by.clone());
            match devices
                .command(&by, &command.device, pin, command.values)
                .await
            {
                Ok(outcome) => tracing::info!(
                    device = %command.device,
                    ?outcome,
                    "sync: a command made through the cloud"
                ),
                Err(e) => tracing::warn!(
                    device = %command.device,
                    "sync: a command made through the cloud was refused here: {e}"
                ),
            }
        }
    }
}
