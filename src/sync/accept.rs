//! Accepting a sync peer on a WebSocket that has already been
//! authenticated: the connection goes to samod bound to the proved peer id,
//! so a peer claiming another id in the handshake is dropped, and the
//! tenancy's share policy decides what it may sync.

use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use samod::{AcceptorEvent, PeerId};
use tokio_util::sync::CancellationToken;

use crate::tenancy::Replica;

/// A peer connected to this node because it dialed this node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct IncomingLink {
    /// Who: `hub:<id>` for one of the household's hubs, else the peer its
    /// replication grant names.
    pub peer: String,
    /// Unix ms since when it is connected.
    pub connected_since: i64,
}

/// The peers connected to this node right now (those it dialed are its
/// links); each stays listed while its [`Connected`] lives.
#[derive(Debug, Default)]
pub struct Incoming {
    next: AtomicU64,
    peers: Mutex<BTreeMap<u64, IncomingLink>>,
}

impl Incoming {
    /// Lists `peer` as connected since `now_ms` until the guard is dropped.
    pub fn enter(self: &Arc<Self>, peer: &PeerId, now_ms: i64) -> Connected {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                IncomingLink {
                    peer: peer.to_string(),
                    connected_since: now_ms,
                },
            );
        Connected {
            incoming: self.clone(),
            key,
        }
    }

    /// Who is connected, by peer, the longest connected first.
    pub fn list(&self) -> Vec<IncomingLink> {
        let mut links: Vec<IncomingLink> = self
            .peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        links.sort_by(|a, b| (&a.peer, a.connected_since).cmp(&(&b.peer, b.connected_since)));
        links
    }
}

/// One accepted connection's place in [`Incoming`].
pub struct Connected {
    incoming: Arc<Incoming>,
    key: u64,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.incoming
            .peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// The acceptor's name in samod's logs (not a reachable URL).
const ACCEPTOR: &str = "hearth://sync";

/// Hands the upgraded `socket` of the authenticated `peer` to `replica`'s
/// repo; the returned future resolves when that connection has ended
/// (`None`: the repo has stopped and the connection was dropped). Whenever
/// the household's state changes, `allowed` is asked again; once it says
/// no (the peer's credential was revoked), the connection is closed.
pub fn accept(
    replica: &Arc<Replica>,
    socket: axum::extract::ws::WebSocket,
    peer: PeerId,
    allowed: impl Fn(&Replica) -> bool + Send + 'static,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    if replica.is_stopping() {
        return None;
    }
    let repo = replica.repo();
    let acceptor = match url::Url::parse(ACCEPTOR).map(|url| repo.make_acceptor(url)) {
        Ok(Ok(acceptor)) => acceptor,
        _ => {
            tracing::debug!(%peer, "sync: the repo has stopped; connection dropped");
            return None;
        }
    };
    let stop = CancellationToken::new();
    let transport = super::wire::from_axum(socket, stop.clone(), replica.tasks())
        .with_expected_peer_id(peer.clone());
    let Ok(connection) = acceptor.accept(transport) else {
        tracing::debug!(%peer, "sync: the repo has stopped; connection dropped");
        return None;
    };
    tracing::info!(%peer, "sync: peer connected");
    let mut changed = replica.subscribe();
    let watched = replica.clone();
    Some(async move {
        // Listen first, then look: a connection that ended in between is
        // seen as ended by the look, one that ends after by the listener.
        let mut events = connection.events();
        let ended = async {
            if connection.handshake_complete().await.is_err() {
                return;
            }
            while let Some(event) = events.next().await {
                if let AcceptorEvent::ClientDisconnected { .. } = event {
                    break;
                }
            }
        };
        tokio::pin!(ended);
        loop {
            tokio::select! {
                () = &mut ended => break,
                moved = changed.changed() => {
                    if moved.is_err() || !allowed(&watched) {
                        tracing::info!(%peer, "sync: the peer's credential was revoked; closing");
                        stop.cancel();
                        (&mut ended).await;
                        break;
                    }
                }
            }
        }
        tracing::info!(%peer, "sync: peer disconnected");
    })
}
