//! The cloud's registry, in its own SQLite database: one-time link codes
//! (hashes) and the hubs it accepts, each with its tenant, its credential's
//! hash and the ids of the tenant's documents.
//!
//! A code is redeemed at most once. Linking a tenant the cloud already
//! holds adopts it again (same tenant, same documents): never a second
//! copy, never a suffixed duplicate.

use rusqlite::OptionalExtension;

use crate::store::{Durability, Store, StoreError};
use crate::tenancy::credentials::{new_token, token_hash};

/// How long a link code stays valid.
const CODE_LIFETIME_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("unknown, used or expired link code: ask the cloud's operator for a new one")]
    BadCode,
    #[error("tenant {0} is already linked with other documents; it cannot be linked twice")]
    Mismatch(String),
    #[error("hub {0} is linked to another household")]
    HubTaken(String),
    #[error("{0} is not a valid {1}")]
    Invalid(String, &'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a hub asks to link.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    pub code: String,
    pub hub_id: String,
    pub tenant_id: String,
    pub tenant_doc: String,
    pub credentials_doc: String,
}

/// A hub the cloud accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedHub {
    pub hub_id: String,
    pub tenant_id: String,
    pub tenant_doc: String,
    pub credentials_doc: String,
}

/// A new link code, valid for a day; only its hash is kept.
///
/// # Errors
/// Storage failures.
pub async fn issue_code(store: &Store, now: i64) -> Result<String, StoreError> {
    let code = format!("link_{}", new_token());
    let hash = token_hash(&code);
    store
        .write(Durability::Acknowledged, move |c| {
            c.execute(
                "INSERT INTO cloud_codes (code_hash, expires) VALUES (?1, ?2)",
                rusqlite::params![hash, now + CODE_LIFETIME_MS],
            )
        })
        .await?;
    Ok(code)
}

pub use crate::sync::valid_id;

/// Redeems `request.code`: records the hub (replacing its earlier
/// credential if it linked before) and returns its new credential.
///
/// # Errors
/// [`RegistryError`] saying why the link is refused.
pub async fn redeem(
    store: &Store,
    request: LinkRequest,
    now: i64,
) -> Result<String, RegistryError> {
    for (value, what) in [
        (&request.hub_id, "hub id"),
        (&request.tenant_id, "tenant id"),
    ] {
        if !valid_id(value) {
            return Err(RegistryError::Invalid(value.clone(), what));
        }
    }
    for (value, what) in [
        (&request.tenant_doc, "document id"),
        (&request.credentials_doc, "document id"),
    ] {
        if value.parse::<samod::DocumentId>().is_err() {
            return Err(RegistryError::Invalid(value.clone(), what));
        }
    }
    let token = format!("hub_{}", new_token());
    let hash = token_hash(&token);
    let outcome = store
        .write(Durability::Acknowledged, move |c| {
            let code = token_hash(&request.code);
            let usable: bool = c
                .query_row(
                    "SELECT expires > ?2 AND used_by IS NULL FROM cloud_codes WHERE code_hash = ?1",
                    rusqlite::params![code, now],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            if !usable {
                return Ok(Err(RegistryError::BadCode));
            }
            let known: Option<(String, String)> = c
                .query_row(
                    "SELECT tenant_doc, credentials_doc FROM cloud_hubs WHERE tenant_id = ?1 LIMIT 1",
                    [&request.tenant_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if known.is_some_and(|k| k != (request.tenant_doc.clone(), request.credentials_doc.clone())) {
                return Ok(Err(RegistryError::Mismatch(request.tenant_id.clone())));
            }
            let owner: Option<String> = c
                .query_row(
                    "SELECT tenant_id FROM cloud_hubs WHERE hub_id = ?1",
                    [&request.hub_id],
                    |r| r.get(0),
                )
                .optional()?;
            if owner.is_some_and(|t| t != request.tenant_id) {
                return Ok(Err(RegistryError::HubTaken(request.hub_id.clone())));
            }
            c.execute(
                "UPDATE cloud_codes SET used_by = ?2 WHERE code_hash = ?1",
                [&code, &request.hub_id],
            )?;
            c.execute(
                "INSERT INTO cloud_hubs (hub_id, tenant_id, token_hash, tenant_doc, credentials_doc, linked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (hub_id) DO UPDATE SET tenant_id = excluded.tenant_id,
                   token_hash = excluded.token_hash, tenant_doc = excluded.tenant_doc,
                   credentials_doc = excluded.credentials_doc, linked = excluded.linked,
                   revoked = NULL",
                rusqlite::params![
                    request.hub_id,
                    request.tenant_id,
                    hash,
                    request.tenant_doc,
                    request.credentials_doc,
                    now
                ],
            )?;
            Ok(Ok(()))
        })
        .await?;
    outcome.map(|()| token)
}

/// The unrevoked hub a presented credential belongs to.
///
/// # Errors
/// Storage failures.
pub async fn hub_for_token(store: &Store, token: &str) -> Result<Option<LinkedHub>, StoreError> {
    let hash = token_hash(token);
    store
        .read(move |c| {
            c.query_row(
                "SELECT hub_id, tenant_id, tenant_doc, credentials_doc FROM cloud_hubs
                 WHERE token_hash = ?1 AND revoked IS NULL",
                [hash],
                |r| {
                    Ok(LinkedHub {
                        hub_id: r.get(0)?,
                        tenant_id: r.get(1)?,
                        tenant_doc: r.get(2)?,
                        credentials_doc: r.get(3)?,
                    })
                },
            )
            .optional()
        })
        .await
}

/// Whether any hub links `tenant` (so the cloud serves it).
///
/// # Errors
/// Storage failures.
pub async fn tenant_known(store: &Store, tenant: &str) -> Result<bool, StoreError> {
    let tenant = tenant.to_owned();
    store
        .read(move |c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM cloud_hubs WHERE tenant_id = ?1)",
                [tenant],
                |r| r.get(0),
            )
        })
        .await
}

/// Every household the cloud serves.
///
/// # Errors
/// Storage failures.
pub async fn tenants(store: &Store) -> Result<Vec<String>, StoreError> {
    store
        .read(|c| {
            let mut stmt =
                c.prepare("SELECT DISTINCT tenant_id FROM cloud_hubs ORDER BY tenant_id")?;
            stmt.query_map([], |r| r.get(0))?.collect()
        })
        .await
}

/// The hubs the cloud knows, with whether each is revoked.
///
/// # Errors
/// Storage failures.
pub async fn hubs(store: &Store) -> Result<Vec<(LinkedHub, bool)>, StoreError> {
    store
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT hub_id, tenant_id, tenant_doc, credentials_doc, revoked IS NOT NULL
                 FROM cloud_hubs ORDER BY tenant_id, hub_id",
            )?;
            stmt.query_map([], |r| {
                Ok((
                    LinkedHub {
                        hub_id: r.get(0)?,
                        tenant_id: r.get(1)?,
                        tenant_doc: r.get(2)?,
                        credentials_doc: r.get(3)?,
                    },
                    r.get(4)?,
                ))
            })?
            .collect()
        })
        .await
}

/// Revokes `hub`'s credential: its connections are refused from now on.
///
/// # Errors
/// Storage failures.
pub async fn revoke(store: &Store, hub: &str, now: i64) -> Result<bool, StoreError> {
    let hub = hub.to_owned();
    store
        .write(Durability::Acknowledged, move |c| {
            c.execute(
                "UPDATE cloud_hubs SET revoked = ?2 WHERE hub_id = ?1 AND revoked IS NULL",
                rusqlite::params![hub, now],
            )
        })
        .await
        .map(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_id() -> String {
        let bytes = hex::decode(crate::random_hex(16)).unwrap();
        samod::DocumentId::try_from(bytes).unwrap().to_string()
    }

    fn request(code: &str, hub: &str, tenant: &str, docs: &(String, String)) -> LinkRequest {
        LinkRequest {
            code: code.to_owned(),
            hub_id: hub.to_owned(),
            tenant_id: tenant.to_owned(),
            tenant_doc: docs.0.clone(),
            credentials_doc: docs.1.clone(),
        }
    }

    #[tokio::test]
    async fn a_code_links_once_and_a_tenant_keeps_its_documents() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, thread, _) = Store::open(tmp.path(), 16, crate::node::SCHEMA).unwrap();
        let now = 1_000_000;
        let docs = (doc_id(), doc_id());
        let code = issue_code(&store, now).await.unwrap();
        let token = redeem(&store, request(&code, "hub-a", "t1", &docs), now)
            .await
            .unwrap();
        let hub = hub_for_token(&store, &token).await.unwrap().unwrap();
        assert_eq!(
            (hub.hub_id.as_str(), hub.tenant_id.as_str()),
            ("hub-a", "t1")
        );
        assert!(tenant_known(&store, "t1").await.unwrap());
        assert!(!tenant_known(&store, "t2").await.unwrap());

        // Used once: the same code again is refused, whoever brings it.
        let again = redeem(&store, request(&code, "hub-b", "t1", &docs), now).await;
        assert!(matches!(again, Err(RegistryError::BadCode)), "{again:?}");
        // A code expires after a day.
        let old = issue_code(&store, now).await.unwrap();
        let late = redeem(
            &store,
            request(&old, "hub-b", "t1", &docs),
            now + CODE_LIFETIME_MS,
        )
        .await;
        assert!(matches!(late, Err(RegistryError::BadCode)), "{late:?}");
        // The same tenant with other documents would be a duplicate: refused.
        let fresh = issue_code(&store, now).await.unwrap();
        let other = (doc_id(), doc_id());
        let dup = redeem(&store, request(&fresh, "hub-b", "t1", &other), now).await;
        assert!(matches!(dup, Err(RegistryError::Mismatch(_))), "{dup:?}");
        // A second hub of the tenant, with its documents, is welcome.
        let second = redeem(&store, request(&fresh, "hub-b", "t1", &docs), now)
            .await
            .unwrap();
        assert_ne!(second, token);
        // Ids that would name files are checked.
        let bad = issue_code(&store, now).await.unwrap();
        let evil = redeem(&store, request(&bad, "hub-c", "../etc", &docs), now).await;
        assert!(matches!(evil, Err(RegistryError::Invalid(..))), "{evil:?}");

        // Revoked: the credential no longer opens anything.
        assert!(revoke(&store, "hub-a", now).await.unwrap());
        assert!(hub_for_token(&store, &token).await.unwrap().is_none());
        assert!(hub_for_token(&store, &second).await.unwrap().is_some());
        store.close().await;
        thread.join().await;
    }
}
