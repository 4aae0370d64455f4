//! Login sessions: bearer tokens local to this hub (DESIGN §3).
//!
//! A token is 256 random bits. SQLite keeps only a keyed SHA-256 of it
//! (keyed with a per-hub secret in `meta`, so a stolen database does not
//! even allow checking guesses offline without that row), and every
//! session is also held in memory, so checking a request's token costs one
//! hash and one map lookup, never argon2.

use std::collections::HashMap;
use std::sync::RwLock;

use rusqlite::OptionalExtension;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{Durability, Store, StoreError};

/// How long a login lasts.
pub const LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// What tokens start with, so they are recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "hth_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Session {
    pub id: String,
    pub user: String,
    /// What the client called itself at login ("Ann's phone").
    pub label: String,
    /// Unix seconds.
    pub created: i64,
    pub expires: i64,
}

pub struct Sessions {
    store: Store,
    key: [u8; 32],
    by_hash: RwLock<HashMap<String, Session>>,
    /// Bumped after every revocation, so live streams re-check their token.
    revoked: tokio::sync::watch::Sender<u64>,
}

impl Sessions {
    /// Loads the hub's session key (creating it once) and every unexpired
    /// session.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn load(store: Store, now: i64) -> Result<Self, StoreError> {
        let (key, rows) = store
            .write(Durability::Acknowledged, move |c| {
                let existing: Option<String> = c
                    .query_row(
                        "SELECT value FROM meta WHERE key = 'session_key'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                let key = match existing {
                    Some(key) => key,
                    None => {
                        let key = crate::random_hex(32);
                        c.execute(
                            "INSERT INTO meta (key, value) VALUES ('session_key', ?1)",
                            [&key],
                        )?;
                        key
                    }
                };
                c.execute("DELETE FROM sessions WHERE expires <= ?1", [now])?;
                let mut stmt = c.prepare(
                    "SELECT token_hash, id, user, label, created, expires FROM sessions",
                )?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            Session {
                                id: r.get(1)?,
                                user: r.get(2)?,
                                label: r.get(3)?,
                                created: r.get(4)?,
                                expires: r.get(5)?,
                            },
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((key, rows))
            })
            .await?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&key, &mut bytes)
            .map_err(|_| StoreError::Transaction("meta.session_key is not 64 hex digits".into()))?;
        Ok(Sessions {
            store,
            key: bytes,
            by_hash: RwLock::new(rows.into_iter().collect()),
            revoked: tokio::sync::watch::Sender::new(0),
        })
    }

    fn hash(&self, token: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(token.as_bytes());
        hex::encode(h.finalize())
    }

    /// Starts a session for `user`; returns the token (shown once) and the
    /// session. Durable before it returns.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn create(
        &self,
        user: &str,
        label: &str,
        now: i64,
    ) -> Result<(String, Session), StoreError> {
        let token = format!("{TOKEN_PREFIX}{}", crate::random_hex(32));
        let hash = self.hash(&token);
        let session = Session {
            id: crate::random_hex(8),
            user: user.to_owned(),
            label: label.chars().take(100).collect(),
            created: now,
            expires: now + LIFETIME_SECS,
        };
        let row = session.clone();
        let stored_hash = hash.clone();
        self.store
            .write(Durability::Acknowledged, move |c| {
                c.execute(
                    "INSERT INTO sessions (id, token_hash, user, label, created, expires)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![
                        row.id,
                        stored_hash,
                        row.user,
                        row.label,
                        row.created,
                        row.expires
                    ],
                )
            })
            .await?;
        self.write_map().insert(hash, session.clone());
        Ok((token, session))
    }

    /// The live session a presented token belongs to.
    pub fn check(&self, token: &str, now: i64) -> Option<Session> {
        if !token.starts_with(TOKEN_PREFIX) {
            return None;
        }
        let map = self.by_hash.read().unwrap_or_else(|e| e.into_inner());
        map.get(&self.hash(token))
            .filter(|s| s.expires > now)
            .cloned()
    }

    /// Notified after every revocation.
    pub fn subscribe_revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revoked.subscribe()
    }

    /// Is the session `id` still live?
    pub fn is_live(&self, id: &str, now: i64) -> bool {
        let map = self.by_hash.read().unwrap_or_else(|e| e.into_inner());
        map.values().any(|s| s.id == id && s.expires > now)
    }

    /// The live sessions of `user`.
    pub fn of_user(&self, user: &str, now: i64) -> Vec<Session> {
        let map = self.by_hash.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Session> = map
            .values()
            .filter(|s| s.user == user && s.expires > now)
            .cloned()
            .collect();
        out.sort_by_key(|s| s.created);
        out
    }

    /// Ends the sessions `which` selects; returns how many.
    ///
    /// # Errors
    /// Storage failures (then nothing was revoked).
    pub async fn revoke(&self, which: impl Fn(&Session) -> bool) -> Result<usize, StoreError> {
        let doomed: Vec<(String, String)> = {
            let map = self.by_hash.read().unwrap_or_else(|e| e.into_inner());
            map.iter()
                .filter(|(_, s)| which(s))
                .map(|(h, s)| (h.clone(), s.id.clone()))
                .collect()
        };
        if doomed.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = doomed.iter().map(|(_, id)| id.clone()).collect();
        self.store
            .write(Durability::Acknowledged, move |c| {
                let mut stmt = c.prepare("DELETE FROM sessions WHERE id = ?1")?;
                for id in &ids {
                    stmt.execute([id])?;
                }
                Ok(())
            })
            .await?;
        {
            let mut map = self.write_map();
            for (hash, _) in &doomed {
                map.remove(hash);
            }
        }
        self.revoked.send_modify(|v| *v += 1);
        Ok(doomed.len())
    }

    fn write_map(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Session>> {
        self.by_hash.write().unwrap_or_else(|e| e.into_inner())
    }
}
