//! Reading the credentials document into [`Credentials`], and the
//! token-hash lookups authentication needs. It only reads: nothing here
//! changes the document, and a presented token is compared by its hash only.

use std::collections::BTreeMap;

use automerge::{Automerge, ROOT, ReadDoc, Value};

use super::{
    BRIDGES, Bridge, Credentials, DEVICE_TOKENS, HUB_PREFIX, HubCredential, INVITES, Invite,
    PASSWORDS, SCHEMA_VERSION, token_hash,
};
use crate::tenancy::read::ReadError;
use crate::tenancy::state::Id;

impl Credentials {
    /// Reads the whole document.
    ///
    /// # Errors
    /// When it is not a credentials document.
    pub fn read(doc: &Automerge) -> Result<Self, ReadError> {
        let str_of = |obj: &automerge::ObjId, key: &str| -> Result<String, ReadError> {
            Ok(doc
                .get(obj, key)?
                .and_then(|(v, _)| v.into_string().ok())
                .unwrap_or_default())
        };
        let mut out = Credentials {
            schema: doc
                .get(ROOT, "schema")?
                .and_then(|(v, _)| v.as_u64())
                .ok_or_else(|| ReadError::Malformed("no schema version".into()))?,
            tenant_id: str_of(&ROOT, "tenant")?,
            ..Default::default()
        };
        let map = |name: &str| -> Result<automerge::ObjId, ReadError> {
            match doc.get(ROOT, name)? {
                Some((Value::Object(_), id)) => Ok(id),
                _ => Err(ReadError::Malformed(format!("no `{name}`"))),
            }
        };
        let passwords = map(PASSWORDS)?;
        for key in doc.keys(&passwords) {
            out.passwords.insert(key.clone(), str_of(&passwords, &key)?);
        }
        let tokens = map(DEVICE_TOKENS)?;
        for device in doc.keys(&tokens) {
            let hash = str_of(&tokens, &device)?;
            out.device_by_token.insert(hash.clone(), device.clone());
            out.device_tokens.insert(device, hash);
        }
        let bridges = map(BRIDGES)?;
        for id in doc.keys(&bridges) {
            let Some((Value::Object(_), obj)) = doc.get(&bridges, id.as_str())? else {
                continue;
            };
            let revoked = doc
                .get_all(&obj, "revoked")?
                .into_iter()
                .any(|(v, _)| v.as_bool() == Some(true));
            let bridge = Bridge {
                name: str_of(&obj, "name")?,
                org: str_of(&obj, "org")?,
                token_hash: str_of(&obj, "token")?,
                revoked,
                id: id.clone(),
            };
            out.bridges.insert(id, bridge);
        }
        for key in doc.keys(ROOT) {
            let Some(id) = key.strip_prefix(HUB_PREFIX) else {
                continue;
            };
            let Some((Value::Object(_), obj)) = doc.get(ROOT, key.as_str())? else {
                continue;
            };
            let revoked = doc
                .get_all(&obj, "revoked")?
                .into_iter()
                .any(|(v, _)| v.as_bool() == Some(true));
            let fingerprint = Some(str_of(&obj, "fp")?).filter(|f| !f.is_empty());
            out.hubs.insert(
                id.to_owned(),
                HubCredential {
                    id: id.to_owned(),
                    token_hash: str_of(&obj, "token")?,
                    fingerprint,
                    revoked,
                },
            );
        }
        let invites = map(INVITES)?;
        for user in doc.keys(&invites) {
            let Some((Value::Object(_), obj)) = doc.get(&invites, user.as_str())? else {
                continue;
            };
            let expires = doc
                .get(&obj, "expires")?
                .and_then(|(v, _)| v.as_i64())
                .unwrap_or(0);
            let invite = Invite {
                token_hash: str_of(&obj, "token")?,
                expires,
            };
            out.invites.insert(user, invite);
        }
        Ok(out)
    }

    /// The PHC string of `user`'s password, if one is set.
    pub fn password_hash(&self, user: &str) -> Option<&str> {
        self.passwords.get(user).map(String::as_str)
    }

    /// The device a presented auth token belongs to.
    pub fn device_for_token(&self, token: &str) -> Option<&str> {
        self.device_by_token
            .get(&token_hash(token))
            .map(String::as_str)
    }

    /// The unrevoked bridge a presented bridge token belongs to.
    pub fn bridge_for_token(&self, token: &str) -> Option<&Bridge> {
        let hash = token_hash(token);
        self.bridges
            .values()
            .find(|b| !b.revoked && b.token_hash == hash)
    }

    /// The user an unexpired invite `token` was issued for.
    pub fn invited_user(&self, token: &str, now: i64) -> Option<&str> {
        let hash = token_hash(token);
        self.invites
            .iter()
            .find(|(_, i)| i.token_hash == hash && i.expires > now)
            .map(|(user, _)| user.as_str())
    }

    /// The unrevoked hub a presented hub token belongs to.
    pub fn hub_for_token(&self, token: &str) -> Option<&HubCredential> {
        let hash = token_hash(token);
        self.hubs
            .values()
            .find(|h| !h.revoked && h.token_hash == hash)
    }

    pub fn hubs(&self) -> &BTreeMap<Id, HubCredential> {
        &self.hubs
    }

    pub fn bridges(&self) -> &BTreeMap<Id, Bridge> {
        &self.bridges
    }

    pub fn writable(&self) -> bool {
        self.schema <= SCHEMA_VERSION
    }
}
