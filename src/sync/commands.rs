//! Commands made through the cloud's API for devices connected here: this
//! hub long-polls the cloud, telling it which devices are connected to it,
//! and carries out what comes back as the person who commanded it, through
//! the same checks as a command made here (see `cloud::relay`).
//!
//! Each poll asks the cloud to answer within one keepalive
//! ([`super::wire::keepalive`]) and is given up after three, the rule the
//! sync WebSocket's pings follow: a cloud gone silent (packets dropped, no
//! reset) costs a poll, never the relay.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::delivery::{Backoff, Delivery};
use super::links::Dialed;
use crate::devices::{Devices, Pin, RELAY_TRANSPORT};
use crate::tenancy::Caller;

/// Polls the cloud of `dialed` for commands until `shutdown`.
pub async fn poll(
    devices: Arc<Devices>,
    dialed: Dialed,
    max_backoff: Duration,
    state: Arc<Mutex<Delivery>>,
    shutdown: CancellationToken,
) {
    let client = match dialed.client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("sync: the cloud's commands cannot be fetched: {e}");
            return;
        }
    };
    let mut backoff = Backoff::new(max_backoff, state);
    let wait = super::wire::keepalive();
    let limit = wait * 3;
    loop {
        let online: Vec<String> = devices
            .online_devices()
            .into_iter()
            .filter(|(_, transport)| *transport != RELAY_TRANSPORT)
            .map(|(device, _)| device)
            .collect();
        let polled = tokio::select! {
            _ = shutdown.cancelled() => return,
            polled = client.request_within(
                limit,
                "POST",
                "/cloud/v1/relay",
                Some(json!({ "online": online, "wait_ms": wait.as_millis() as u64 })),
            ) => polled,
        };
        let body = match polled.map_err(|e| e.to_string()).and_then(|r| r.ok()) {
            Ok(body) => {
                backoff.reset();
                body
            }
            Err(e) => {
                tracing::debug!("sync: polling the cloud for commands failed: {e}");
                if !backoff.failed(e, &shutdown).await {
                    return;
                }
                continue;
            }
        };
        let commands: Vec<Relayed> =
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

/// A command on its way to a hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relayed {
    pub device: String,
    pub pin: String,
    pub values: Vec<String>,
    /// The person who commanded it (the hub checks their permission again).
    pub by: String,
}
