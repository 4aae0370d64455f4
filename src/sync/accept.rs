//! Accepting a sync peer on a WebSocket that has already been
//! authenticated: the connection goes to samod bound to the proved peer id,
//! so a peer claiming another id in the handshake is dropped, and the
//! tenancy's share policy decides what it may sync.

use samod::{PeerId, Repo};

/// The acceptor's name in samod's logs (not a reachable URL).
const ACCEPTOR: &str = "hearth://sync";

/// Hands the upgraded `socket` of the authenticated `peer` to `repo`.
pub fn accept(repo: &Repo, socket: axum::extract::ws::WebSocket, peer: PeerId) {
    let acceptor = match url::Url::parse(ACCEPTOR).map(|url| repo.make_acceptor(url)) {
        Ok(Ok(acceptor)) => acceptor,
        _ => {
            tracing::debug!(%peer, "sync: the repo has stopped; connection dropped");
            return;
        }
    };
    let transport = super::wire::from_axum(socket).with_expected_peer_id(peer.clone());
    match acceptor.accept(transport) {
        Ok(_) => tracing::info!(%peer, "sync: peer connected"),
        Err(_) => tracing::debug!(%peer, "sync: the repo has stopped; connection dropped"),
    }
}
