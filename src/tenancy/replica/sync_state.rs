//! How each of the household's documents stands with one sync peer: what
//! it lacks of ours and we of its ([`DocSync`]). It only reads the repo's
//! peer state; it never changes a document nor a connection.

use super::{CREDENTIALS, Replica, TENANT};

/// One document's sync with one peer (see [`Replica::sync_state`]).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct DocSync {
    pub kind: &'static str,
    /// Whether the share policy lets this peer sync the document at all.
    pub shared: bool,
    /// Our changes the peer is not known to have.
    pub theirs_lacking: usize,
    /// Heads the peer announced that we do not have yet (each is at least
    /// one change we lack).
    pub ours_lacking: usize,
    /// When the peer last sent something about the document (unix ms).
    pub last_received: Option<i64>,
}

impl Replica {
    /// How each of the household's documents stands with the peer on
    /// connection `conn`: what it lacks of ours and we of its.
    pub fn sync_state(&self, conn: samod::ConnectionId) -> Vec<DocSync> {
        let Some(docs) = self.docs.get() else {
            return Vec::new();
        };
        [(TENANT, &docs.tenant), (CREDENTIALS, &docs.credentials)]
            .into_iter()
            .map(|(kind, doc)| {
                let (peers, _) = doc.handle().peers();
                let state = peers.get(&conn);
                doc.handle().with_document(|d| {
                    let shared = state.and_then(|s| s.shared_heads.clone());
                    let theirs = state.and_then(|s| s.their_heads.clone());
                    DocSync {
                        kind,
                        shared: state.is_some_and(|s| {
                            s.share_config
                                .is_some_and(|c| c.access != samod::ShareAccess::None)
                        }),
                        theirs_lacking: match &shared {
                            Some(heads) => d.get_changes(heads).len(),
                            None => d.get_changes(&[]).len(),
                        },
                        ours_lacking: theirs.map_or(0, |heads| {
                            heads
                                .iter()
                                .filter(|h| automerge::ReadDoc::get_change_by_hash(d, h).is_none())
                                .count()
                        }),
                        last_received: state
                            .and_then(|s| s.last_received)
                            .map(|t| t.timestamp_millis()),
                    }
                })
            })
            .collect()
    }
}
