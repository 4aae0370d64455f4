//! The links' two watchers: one keeps each dialed link's state in step with
//! its dialer's events (what `sync status` shows), one drops this hub's
//! links to hubs the household revoked (forgetting them: stored link and
//! dialer). They never dial.

use std::sync::{Arc, Mutex, PoisonError};

use samod::DialerHandle;
use tokio_util::sync::CancellationToken;

use super::{LinkState, SyncLinks};
use crate::clock::Clock;

/// Whenever the household's state changes, drops this hub's links to hubs
/// the household revoked (theirs to it are closed where they are accepted).
pub(super) async fn drop_revoked(
    links: std::sync::Weak<SyncLinks>,
    mut changed: tokio::sync::watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            moved = changed.changed() => if moved.is_err() { return },
        }
        let Some(links) = links.upgrade() else { return };
        let revoked: Vec<String> = links
            .replica
            .with_credentials(|c| {
                c.hubs()
                    .values()
                    .filter(|h| h.revoked)
                    .map(|h| format!("{}{}", crate::tenancy::policy::HUB_PREFIX, h.id))
                    .collect()
            })
            .unwrap_or_default();
        let linked: Vec<String> = links
            .dialers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|l| l.dialed.peer.clone())
            .filter(|peer| revoked.contains(peer))
            .collect();
        for peer in linked {
            tracing::info!(%peer, "sync: the household revoked this hub; its link is dropped");
            if let Err(e) = links.forget(&peer).await {
                tracing::error!(%peer, "sync: a revoked hub's link is not forgotten: {e}");
            }
        }
    }
}

/// Why a connection ended, in words a person reads on the Hubs page:
/// the sync library's own reasons name its internals ("Dialer DialerId(0)
/// connection removed"), which the log keeps.
fn plain_reason(reason: &str) -> String {
    if reason.contains("DialerId") || reason.contains("connection removed") {
        "the connection closed (the other side stopped, or the network between dropped it)"
            .to_owned()
    } else {
        reason.to_owned()
    }
}

/// Keeps `state` in step with the dialer's events.
pub(super) async fn watch_link(
    handle: DialerHandle,
    state: Arc<Mutex<LinkState>>,
    peer: String,
    clock: Clock,
) {
    use futures_util::StreamExt;
    let mut events = handle.events();
    while let Some(event) = events.next().await {
        let now = clock.now_ms();
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            samod::DialerEvent::Connected { .. } => {
                tracing::info!(%peer, "sync: connected");
                state.connected_since = Some(now);
                state.down_since = None;
                state.last_error = None;
            }
            samod::DialerEvent::Disconnected { reason } => {
                tracing::warn!(%peer, "sync: disconnected: {reason}");
                state.connected_since = None;
                state.down_since = Some(now);
                state.last_error = Some(plain_reason(&reason));
            }
            samod::DialerEvent::Reconnecting { .. } => {}
            samod::DialerEvent::MaxRetriesReached | samod::DialerEvent::PermanentFailure => {
                tracing::error!(%peer, "sync: the dialer gave up");
            }
        }
    }
}
