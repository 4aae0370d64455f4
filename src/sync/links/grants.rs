//! Read-only replication grants this hub issues (the sharing document only,
//! for a peer that may read but never write it): issued with a token shown
//! once, stored hashed, and looked up by the token a peer presents. It never
//! keeps a token in clear.

use rusqlite::OptionalExtension;
use samod::PeerId;

use super::SyncLinks;
use crate::store::{Durability, StoreError};
use crate::tenancy::credentials::{new_token, token_hash};
use crate::tenancy::policy::REPLICA_PREFIX;

impl SyncLinks {
    /// Issues a read-only replication grant (the sharing document only):
    /// its id (the peer id is `replica-<id>`) and token, shown this once.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn grant(&self, by: &str, now: i64) -> Result<(String, String), StoreError> {
        let id = crate::random_hex(8);
        let token = format!("rep_{}", new_token());
        let (row_id, hash, by) = (id.clone(), token_hash(&token), by.to_owned());
        self.store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO sync_grants (id, token_hash, created_by, created) VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![row_id, hash, by, now],
                )
            })
            .await?;
        Ok((id, token))
    }

    /// The peer id an unrevoked replication grant's `token` proves.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn grant_peer(&self, token: &str) -> Result<Option<PeerId>, StoreError> {
        let hash = token_hash(token);
        let id: Option<String> = self
            .store
            .read(move |c| {
                c.query_row(
                    "SELECT id FROM sync_grants WHERE token_hash = ?1 AND revoked IS NULL",
                    [hash],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        Ok(id.map(|id| PeerId::from(format!("{REPLICA_PREFIX}{id}"))))
    }
}
