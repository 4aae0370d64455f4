//! Delivering the outbox to the cloud: oldest first, in batches, each
//! deleted here only once the cloud answered that it is durable there.
//! Failures back off exponentially with jitter up to the configured cap
//! and are retried forever; new values wake the task at once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::links::Dialed;
use crate::devices::outbox::Outbox;
use crate::store::Store;

/// Rows per delivery.
pub const BATCH: usize = 2000;
/// With nothing queued, look again this often anyway.
const IDLE: Duration = Duration::from_secs(5);

/// How delivery goes, for `hearth sync status` and `/metrics`.
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Delivery {
    /// Values the cloud acknowledged since this hub started.
    pub delivered: u64,
    /// Unix ms of the last acknowledged delivery.
    pub last_delivery: Option<i64>,
    pub last_error: Option<String>,
}

/// How long one delivery may take before it is given up and retried (a
/// cloud gone silent must not hold the outbox).
const DELIVERY_LIMIT: Duration = Duration::from_secs(30);

/// Delivers `outbox` to the cloud of `dialed` until `shutdown`.
pub async fn deliver(
    outbox: Arc<Outbox>,
    store: Store,
    dialed: Dialed,
    max_backoff: Duration,
    state: Arc<Mutex<Delivery>>,
    clock: crate::clock::Clock,
    shutdown: CancellationToken,
) {
    let client = match dialed.client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("sync: telemetry cannot be delivered: {e}");
            return;
        }
    };
    let mut backoff = Backoff::new(max_backoff, state.clone());
    loop {
        // A failing outbox (a full disk, a locked database) is retried
        // with backoff and shown in the link's status; delivery never stops
        // for good while the hub runs.
        let rows = match Outbox::peek(&store, BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("sync: the outbox cannot be read: {e}");
                if !backoff
                    .failed(format!("the outbox cannot be read: {e}"), &shutdown)
                    .await
                {
                    return;
                }
                continue;
            }
        };
        let Some(last) = rows.last().map(|r| r.seq) else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = outbox.queued.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
            continue;
        };
        let count = rows.len() as u64;
        let sent = client
            .request_within(
                DELIVERY_LIMIT,
                "POST",
                "/cloud/v1/telemetry",
                Some(json!({ "rows": rows })),
            )
            .await;
        let outcome = match sent {
            Ok(reply) => reply.ok().and_then(|body| {
                (body["acked"][1].as_i64() == Some(last))
                    .then_some(())
                    .ok_or_else(|| format!("the cloud acknowledged something else: {body}"))
            }),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                if let Err(e) = Outbox::acknowledged(&store, last).await {
                    // Sent again after the backoff: the cloud takes a
                    // repeat of rows it has (they are acknowledged by seq).
                    tracing::error!("sync: the outbox cannot be trimmed: {e}");
                    if !backoff
                        .failed(format!("the outbox cannot be trimmed: {e}"), &shutdown)
                        .await
                    {
                        return;
                    }
                    continue;
                }
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                state.delivered += count;
                state.last_delivery = Some(clock.now_ms());
                state.last_error = None;
                drop(state);
                backoff.reset();
            }
            Err(e) => {
                tracing::warn!("sync: telemetry not delivered ({count} values wait): {e}");
                if !backoff.failed(e, &shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Retrying a peer: [`crate::backoff::Backoff`] from 200 ms to a cap, with
/// each failure told to the link's status. Shared by delivery and command
/// polls.
pub struct Backoff {
    waits: crate::backoff::Backoff,
    state: Arc<Mutex<Delivery>>,
}

impl Backoff {
    pub fn new(max: Duration, state: Arc<Mutex<Delivery>>) -> Backoff {
        Backoff {
            waits: crate::backoff::Backoff::new(Duration::from_millis(200), max),
            state,
        }
    }

    /// After a success: the next failure waits the shortest time again.
    pub fn reset(&mut self) {
        self.waits.reset();
    }

    /// Records `error` and waits; false when `shutdown` came first.
    pub async fn failed(&mut self, error: String, shutdown: &CancellationToken) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error = Some(error);
        self.waits.wait(shutdown).await
    }
}
