//! A second hub joins the household: an admin of a hub that has it issues
//! a one-time pairing code; the new hub presents it with its id and
//! certificate fingerprint; the household's hub records the newcomer's
//! credential in the credentials document (every hub and the cloud then
//! accept it) and answers with it and the documents' ids; the newcomer
//! stores the link, dials, and adopts the household from that hub.
//!
//! Every hub also keeps a credential of its own in the credentials
//! document (its token's hash and its certificate's fingerprint), so a hub
//! that finds it on the LAN can pin its certificate to what the household
//! recorded, not to what the LAN says. It never dials a hub the credentials do not hold
//! unrevoked with a certificate, never moves a connected link before the new address proves to
//! be that hub, and keeps a pairing code only as a hash, used once within the hour.

use rusqlite::OptionalExtension;
use serde_json::{Value, json};

use super::{Dialed, LinkError, SyncLinks};
use crate::store::{Durability, StoreError};
use crate::tenancy::credentials::{new_token, token_hash};
use crate::tenancy::policy::{DocIds, HUB_PREFIX};

/// How long a pairing code stays valid.
const PAIRING_LIFETIME_MS: i64 = 3600 * 1000;
/// Where this hub keeps its own token (the state directory is private).
const OWN_TOKEN: &str = "hub_token";

/// What the household's hub answers a joining one.
#[derive(Debug, Clone)]
pub struct Pairing {
    pub token: String,
    pub ids: DocIds,
    pub peer: String,
}

/// Whether the hub at `url` answers as hub `id` over TLS pinned to
/// `fingerprint` (only its private key can do that).
async fn proves(url: &str, fingerprint: Option<&str>, id: &str) -> bool {
    let Ok(client) = crate::client::Client::for_url(url, fingerprint) else {
        return false;
    };
    let asked = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.call("GET", "/health", None),
    )
    .await;
    matches!(asked, Ok(Ok(reply)) if reply.status == 200 && reply.body["hub_id"] == id)
}

impl SyncLinks {
    /// The tag this household's hubs announce on the LAN.
    pub fn tenant_tag(&self) -> Option<String> {
        self.replica
            .tenant_id()
            .map(|t| crate::sync::lan::tenant_tag(&t))
    }

    /// A hub of the household was found at `address:port`: follow it if a
    /// link to it exists, else dial it if this hub's id is the smaller.
    ///
    /// # Errors
    /// Storage failures; a hub the credentials do not know is refused.
    pub async fn discovered(
        &self,
        id: &str,
        addresses: &[std::net::IpAddr],
        port: u16,
    ) -> Result<(), LinkError> {
        if id == self.hub_id {
            return Ok(());
        }
        let known = self
            .replica
            .with_credentials(|c| c.hubs().get(id).filter(|h| !h.revoked).cloned())
            .map_err(|_| LinkError::NoTenant)?
            .ok_or_else(|| LinkError::Refused(format!("hub {id} is not one of the household's")))?;
        // Only a hub whose certificate the household recorded is dialed
        // from what the LAN says: to anyone else, this hub's token would
        // travel to whoever answers (a plain-HTTP hub is linked by hand).
        if known.fingerprint.is_none() {
            return Err(LinkError::Refused(format!(
                "hub {id} serves plain HTTP; it is not dialed from an mDNS announcement"
            )));
        }
        let scheme = "https";
        let urls: Vec<String> = addresses
            .iter()
            .map(|address| match address {
                std::net::IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}"),
                v4 => format!("{scheme}://{v4}:{port}"),
            })
            .collect();
        let Some(url) = urls.first().cloned() else {
            return Ok(());
        };
        let peer = format!("{HUB_PREFIX}{id}");
        let existing = self
            .dialers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|l| l.dialed.peer == peer)
            .map(|l| l.dialed.clone());
        let connected = || {
            self.replica.repo().connected_peers().0.iter().any(|c| {
                matches!(&c.state, samod::ConnectionState::Connected { their_peer_id }
                    if their_peer_id.as_str() == peer)
            })
        };
        match existing {
            Some(link) if urls.contains(&link.url) => Ok(()),
            // Anyone on the LAN can announce: a link that looks connected
            // (a connection to a vanished address can look so for long) is
            // moved only once the new address proves to be that hub, with
            // the certificate the household recorded.
            Some(_)
                if self.is_connected(&peer)
                    && !proves(&url, known.fingerprint.as_deref(), id).await =>
            {
                Ok(())
            }
            Some(link) => {
                tracing::info!(hub = %id, from = %link.url, to = %url, "sync: a hub moved; following it");
                self.forget(&peer).await?;
                let moved = Dialed {
                    url,
                    fingerprint: known.fingerprint,
                    ..link
                };
                self.store_dialed(&moved).await?;
                self.dial(moved)
            }
            // It dials this hub already (a link it made when joining).
            None if connected() => Ok(()),
            None if self.hub_id.as_str() < id => {
                self.register_self().await?;
                let token = self
                    .own_token()
                    .await?
                    .ok_or_else(|| LinkError::Refused("this hub has no credential yet".into()))?;
                tracing::info!(hub = %id, %url, "sync: found a hub of the household on the LAN");
                let dialed = Dialed {
                    url,
                    token,
                    fingerprint: known.fingerprint,
                    peer,
                    linked: self.clock.now_ms(),
                };
                self.store_dialed(&dialed).await?;
                self.dial(dialed)
            }
            None => Ok(()),
        }
    }

    /// This hub's own token, if it has one.
    async fn own_token(&self) -> Result<Option<String>, StoreError> {
        self.store
            .read(|c| {
                c.query_row("SELECT value FROM meta WHERE key = ?1", [OWN_TOKEN], |r| {
                    r.get(0)
                })
                .optional()
            })
            .await
    }

    async fn save_own_token(&self, token: &str) -> Result<(), StoreError> {
        let token = token.to_owned();
        self.store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [OWN_TOKEN, &token],
                )
            })
            .await?;
        Ok(())
    }

    /// This node serves its API, with the certificate of SHA-256
    /// `fingerprint` (what hubs dialing it pin; none over plain HTTP):
    /// recorded with its own credential when there is a household (at
    /// start; setup and joining record it later). Called once, before the
    /// API serves.
    pub async fn serving(&self, fingerprint: Option<String>) {
        if let Some(fingerprint) = fingerprint
            && self.fingerprint.set(fingerprint).is_err()
        {
            tracing::warn!("sync: the certificate was already set; keeping the first");
        }
        if self.replica.is_founded()
            && let Err(e) = self.register_self().await
        {
            tracing::warn!("sync: this hub's credential is not recorded: {e}");
        }
    }

    /// Makes sure the household's credentials hold this hub's own
    /// credential with its current certificate (no-op when they do).
    ///
    /// # Errors
    /// Storage failures; [`LinkError::NoTenant`] before the household.
    pub async fn register_self(&self) -> Result<(), LinkError> {
        if !self.replica.is_founded() {
            return Err(LinkError::NoTenant);
        }
        let own = self.own_token().await?;
        let recorded = self
            .replica
            .with_credentials(|c| c.hubs().get(&self.hub_id).cloned())
            .map_err(|_| LinkError::NoTenant)?;
        let current = match (&own, &recorded) {
            (Some(token), Some(hub)) => {
                hub.token_hash == token_hash(token)
                    && hub.fingerprint.as_deref() == self.fingerprint.get().map(String::as_str)
            }
            _ => false,
        };
        if current {
            return Ok(());
        }
        let token = match own {
            Some(token) => token,
            None => {
                let token = format!("hub_{}", new_token());
                self.save_own_token(&token).await?;
                token
            }
        };
        self.replica
            .put_hub(
                &self.hub_id,
                &token_hash(&token),
                self.fingerprint.get().map(String::as_str),
            )
            .await
            .map_err(|e| LinkError::Refused(e.to_string()))
    }

    /// A one-time code (valid an hour) with which one hub joins.
    ///
    /// # Errors
    /// Storage failures; [`LinkError::NoTenant`] before the household.
    pub async fn pairing_code(&self, now: i64) -> Result<String, LinkError> {
        self.register_self().await?;
        let code = format!("pair_{}", new_token());
        let hash = token_hash(&code);
        self.store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO sync_pairings (code_hash, expires) VALUES (?1, ?2)",
                    rusqlite::params![hash, now + PAIRING_LIFETIME_MS],
                )
            })
            .await?;
        Ok(code)
    }

    /// Redeems a pairing `code` for the hub `hub_id`: records its new
    /// credential in the household and returns it with the documents.
    ///
    /// # Errors
    /// [`LinkError::Refused`] for an unknown, used or expired code.
    pub async fn redeem_pairing(
        &self,
        code: &str,
        hub_id: &str,
        fingerprint: Option<&str>,
        now: i64,
    ) -> Result<Pairing, LinkError> {
        if !crate::sync::valid_id(hub_id) || hub_id == self.hub_id {
            return Err(LinkError::Refused(format!("{hub_id:?} is not a hub id")));
        }
        let ids = self.replica.doc_ids().ok_or(LinkError::NoTenant)?;
        let (hash, joiner) = (token_hash(code), hub_id.to_owned());
        let usable = self
            .store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "UPDATE sync_pairings SET used_by = ?3
                     WHERE code_hash = ?1 AND expires > ?2 AND used_by IS NULL",
                    rusqlite::params![hash, now, joiner],
                )
            })
            .await?;
        if usable == 0 {
            return Err(LinkError::Refused(
                "unknown, used or expired pairing code: ask an admin for a new one".into(),
            ));
        }
        let token = format!("hub_{}", new_token());
        self.replica
            .put_hub(hub_id, &token_hash(&token), fingerprint)
            .await
            .map_err(|e| LinkError::Refused(e.to_string()))?;
        tracing::info!(hub = hub_id, "sync: a hub joined the household");
        Ok(Pairing {
            token,
            ids,
            peer: format!("{HUB_PREFIX}{}", self.hub_id),
        })
    }

    /// Joins the household of the hub at `url` (its API, pinned to
    /// `fingerprint`) with a pairing `code`: stores the link, dials it and
    /// adopts the household from it.
    ///
    /// # Errors
    /// [`LinkError`] saying what went wrong and where.
    pub async fn join(
        &self,
        url: &str,
        code: &str,
        fingerprint: Option<&str>,
        now: i64,
    ) -> Result<(), LinkError> {
        if self.replica.is_founded() {
            return Err(LinkError::AlreadyLinked(
                "a household (this hub has one already)".into(),
            ));
        }
        let client = crate::client::Client::for_url(url, fingerprint).map_err(LinkError::BadUrl)?;
        let body = json!({
            "code": code,
            "hub_id": self.hub_id,
            "fingerprint": self.fingerprint.get(),
        });
        let reply: Value = client
            .call("POST", "/hubs/join", Some(body))
            .await
            .map_err(|e| LinkError::Unreachable(e.to_string()))?
            .ok()
            .map_err(LinkError::Refused)?;
        let text = |key: &str| {
            reply[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| LinkError::Refused(format!("the answer carries no {key}")))
        };
        let ids = DocIds {
            tenant: text("tenant_doc")?
                .parse()
                .map_err(|_| LinkError::Refused("a bad document id".into()))?,
            credentials: text("credentials_doc")?
                .parse()
                .map_err(|_| LinkError::Refused("a bad document id".into()))?,
        };
        let token = text("token")?;
        self.save_own_token(&token).await?;
        let dialed = Dialed {
            url: url.trim_end_matches('/').to_owned(),
            token,
            fingerprint: fingerprint.map(str::to_owned),
            peer: text("peer")?,
            linked: now,
        };
        let peer = dialed.peer.clone();
        self.store_dialed(&dialed).await?;
        self.dial(dialed)?;
        if let Err(e) = self.replica.adopt(ids).await {
            // Nothing half-joined stays behind: the join can be tried again.
            self.forget(&peer).await?;
            return Err(LinkError::Refused(e.to_string()));
        }
        tracing::info!(url, "sync: joined the household");
        Ok(())
    }
}
