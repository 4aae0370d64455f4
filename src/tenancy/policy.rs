//! What a peer may sync (DESIGN §3): samod's [`SharePolicy`] for the
//! tenant's two documents, decided from the peer's id alone.
//!
//! The sync protocol has no authorization of its own, so every connection
//! is authenticated before samod sees it (at the WebSocket upgrade, or by
//! the dialer) and bound to the peer id that authentication proved with
//! `Transport::with_expected_peer_id`. The id's prefix then says what the
//! peer is:
//! - `hub-<hub id>`: a hub of this tenant: both documents, read-write;
//! - `cloud`: the cloud tenancy: both documents, read-write;
//! - `replica-<grant id>`: admin tooling with a replication grant: the
//!   sharing document only, read-only (never the credentials);
//! - anything else: nothing.
//!
//! A repo holds one tenant's documents only (the cloud runs one repo per
//! tenant), so "both documents" can never reach another tenant's peer.

use std::sync::{Arc, OnceLock};

use samod::{DocumentId, PeerId, ShareConfig, SharePolicy};

/// The prefix of a hub's peer id.
pub const HUB_PREFIX: &str = "hub-";
/// The cloud's peer id.
pub const CLOUD_PEER: &str = "cloud";
/// The prefix of a read-only replication grant's peer id.
pub const REPLICA_PREFIX: &str = "replica-";

/// What kind of peer an (authenticated) peer id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerClass {
    Hub(String),
    Cloud,
    ReadOnly(String),
    Unknown,
}

impl PeerClass {
    pub fn of(peer: &str) -> PeerClass {
        if let Some(id) = peer.strip_prefix(HUB_PREFIX).filter(|id| !id.is_empty()) {
            PeerClass::Hub(id.to_owned())
        } else if peer == CLOUD_PEER {
            PeerClass::Cloud
        } else if let Some(id) = peer
            .strip_prefix(REPLICA_PREFIX)
            .filter(|id| !id.is_empty())
        {
            PeerClass::ReadOnly(id.to_owned())
        } else {
            PeerClass::Unknown
        }
    }
}

/// The peer id a hub uses and is authenticated as.
pub fn hub_peer(hub_id: &str) -> PeerId {
    PeerId::from(format!("{HUB_PREFIX}{hub_id}"))
}

/// The ids of the tenant's documents, once this replica has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocIds {
    pub tenant: DocumentId,
    pub credentials: DocumentId,
}

/// The policy: shares by [`PeerClass`] and document.
#[derive(Clone, Default)]
pub struct TenantPolicy {
    docs: Arc<OnceLock<DocIds>>,
}

impl TenantPolicy {
    /// Records the tenant's documents (once; later calls change nothing).
    pub fn set_docs(&self, docs: DocIds) {
        let _ = self.docs.set(docs);
    }

    /// What `peer` may do with `doc`.
    pub fn decide(&self, doc: &DocumentId, peer: &PeerId) -> ShareConfig {
        match PeerClass::of(peer.as_str()) {
            PeerClass::Hub(_) | PeerClass::Cloud => ShareConfig::read_write(),
            PeerClass::ReadOnly(_) => match self.docs.get() {
                Some(docs) if &docs.tenant == doc => ShareConfig::read_only(),
                _ => ShareConfig::none(),
            },
            PeerClass::Unknown => ShareConfig::none(),
        }
    }
}

impl SharePolicy for TenantPolicy {
    fn share(
        &self,
        doc_id: DocumentId,
        peer_id: PeerId,
    ) -> impl futures_util::Stream<Item = ShareConfig> + Send + 'static {
        futures_util::stream::iter([self.decide(&doc_id, &peer_id)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_get_what_design_section_3_allows() {
        let policy = TenantPolicy::default();
        let id = |_: u8| {
            let bytes = hex::decode(crate::random_hex(16)).unwrap();
            DocumentId::try_from(bytes).unwrap()
        };
        let (tenant, credentials, other) = (id(0), id(1), id(2));
        let replica = PeerId::from("replica-abc");
        // Before the documents are known, a read-only peer gets nothing.
        assert_eq!(policy.decide(&tenant, &replica), ShareConfig::none());
        policy.set_docs(DocIds {
            tenant: tenant.clone(),
            credentials: credentials.clone(),
        });
        for peer in ["hub-1234", "cloud"] {
            let peer = PeerId::from(peer);
            assert_eq!(policy.decide(&tenant, &peer), ShareConfig::read_write());
            assert_eq!(
                policy.decide(&credentials, &peer),
                ShareConfig::read_write()
            );
        }
        assert_eq!(policy.decide(&tenant, &replica), ShareConfig::read_only());
        assert_eq!(policy.decide(&credentials, &replica), ShareConfig::none());
        assert_eq!(policy.decide(&other, &replica), ShareConfig::none());
        for stranger in ["hub-", "replica-", "app", "cloudy", ""] {
            let stranger = PeerId::from(stranger);
            assert_eq!(policy.decide(&tenant, &stranger), ShareConfig::none());
            assert_eq!(policy.decide(&credentials, &stranger), ShareConfig::none());
        }
    }
}
