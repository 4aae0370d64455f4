//! The tenant's credentials document (DESIGN §3): hashes of secrets, kept
//! apart from the sharing document so that only infrastructure peers (the
//! tenant's hubs and the cloud) ever receive them, while every hub of the
//! household can still authenticate every device and person offline.
//!
//! ```text
//! ROOT
//!   schema: 1
//!   tenant: the sharing document's tenant id
//!   passwords/<user id>        PHC string (argon2id), one scalar
//!   device_tokens/<device id>  SHA-256 (hex) of the device's auth token
//!   bridges/<bridge id>        {name, org, token: SHA-256 hex, revoked}
//!   invites/<user id>          {token: SHA-256 hex, expires: unix ms}
//!   hub/<hub id>               {token: SHA-256 hex, fp: certificate SHA-256, revoked}
//! ```
//!
//! Hubs are root keys of their own (`hub/<id>`), not a map created later:
//! documents made before hubs paired have no such map, and two replicas
//! creating it concurrently would lose one side (DESIGN §3).
//!
//! Tokens are random (128 bits), so a fast hash is enough and lets a
//! connecting device be found by its token's hash. Passwords get a slow,
//! salted hash (argon2id PHC string), computed by the accounts layer.
//! Concurrent writes of one password or token: one value wins on every
//! replica, and the loser's secret stops working (it can be set again).
//! BTHome bind keys are not here: they stay on the hubs (DESIGN §3).
//!
//! It never stores a secret, only its hash, and refuses a password hash that is not an argon2id
//! PHC string. Who may write here is decided from the sharing state, never from this document.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ObjType, ROOT, ReadDoc, Value};
use sha2::{Digest, Sha256};

use super::access::{Access, Action, Target};
use super::ops::{Caller, OpError, new_id};
use super::perms::Permission;
use super::read::ReadError;
use super::state::{Id, TenantState};

/// The layout this code reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

const PASSWORDS: &str = "passwords";
const DEVICE_TOKENS: &str = "device_tokens";
const BRIDGES: &str = "bridges";
const INVITES: &str = "invites";
const HUB_PREFIX: &str = "hub/";

/// An invitation a new member accepts by setting their password.
#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    pub token_hash: String,
    /// Unix milliseconds.
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bridge {
    pub id: Id,
    pub name: String,
    /// The organization whose devices it may report (adoption inbox).
    pub org: Id,
    pub token_hash: String,
    pub revoked: bool,
}

/// A hub of the household: how it proves itself to the others.
#[derive(Debug, Clone, PartialEq)]
pub struct HubCredential {
    pub id: Id,
    pub token_hash: String,
    /// SHA-256 of its API certificate, which hubs dialing it pin.
    pub fingerprint: Option<String>,
    pub revoked: bool,
}

/// The credentials as read, with the token-hash lookups authentication needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    pub schema: u64,
    pub tenant_id: String,
    passwords: BTreeMap<Id, String>,
    device_tokens: BTreeMap<Id, String>,
    device_by_token: HashMap<String, Id>,
    bridges: BTreeMap<Id, Bridge>,
    invites: BTreeMap<Id, Invite>,
    hubs: BTreeMap<Id, HubCredential>,
}

/// A new document for the tenant `tenant_id`.
///
/// # Errors
/// Automerge errors only.
pub fn create(tenant_id: &str) -> Result<Automerge, OpError> {
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "schema", SCHEMA_VERSION)?;
        tx.put(ROOT, "tenant", tenant_id)?;
        for map in [PASSWORDS, DEVICE_TOKENS, BRIDGES, INVITES] {
            tx.put_object(ROOT, map, ObjType::Map)?;
        }
        Ok(())
    })
    .map_err(|f| OpError::Internal(f.error.to_string()))?;
    Ok(doc)
}

/// A new random secret token (32 hex characters, like a Blynk auth token).
pub fn new_token() -> String {
    crate::random_hex(16)
}

/// How a token is stored and looked up.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

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

/// Who may write which credential, decided on the sharing state.
pub mod authorize {
    use super::*;

    /// A person sets their own password; the console sets anyone's.
    ///
    /// # Errors
    /// [`OpError::NotFound`] for an unknown user, [`OpError::Denied`] else.
    pub fn password(state: &TenantState, by: &Caller, user: &str) -> Result<(), OpError> {
        if !state.users().contains_key(user) {
            return Err(OpError::NotFound(format!("user {user}")));
        }
        match by {
            Caller::Console => Ok(()),
            Caller::User(me) if state.canonical(me) == state.canonical(user) => Ok(()),
            Caller::User(_) => Err(OpError::Refused(
                "only the person themselves (or the hub's console) can set a password".into(),
            )),
        }
    }

    /// Resetting someone's password needs `manage_users` over *every*
    /// organization they belong to, so a sub-organization's admin cannot
    /// take over a root admin who is also a member there.
    ///
    /// # Errors
    /// [`OpError::NotFound`] when the caller cannot see the person,
    /// [`OpError::Denied`] when one of their organizations is beyond them.
    pub fn password_reset(
        state: &TenantState,
        by: &Caller,
        user: &str,
        now: i64,
    ) -> Result<(), OpError> {
        let access = Access::new(state, now);
        let orgs: Vec<&str> = access
            .memberships_of(user)
            .map(|m| m.org.as_str())
            .collect();
        let Caller::User(me) = by else {
            return if state.users().contains_key(user) {
                Ok(())
            } else {
                Err(OpError::NotFound(format!("user {user}")))
            };
        };
        let visible = access.visible_orgs(me);
        if orgs.is_empty() || !orgs.iter().any(|o| visible.contains(o)) {
            return Err(OpError::NotFound(format!("user {user}")));
        }
        if orgs
            .iter()
            .all(|o| access.can_manage(me, Permission::ManageUsers, o))
        {
            Ok(())
        } else {
            Err(OpError::Denied {
                permission: Permission::ManageUsers,
                scope: "every organization they belong to".into(),
            })
        }
    }

    /// Issuing a device's token needs `manage_devices` over its organization.
    ///
    /// # Errors
    /// [`OpError::NotFound`] when the caller cannot see the device.
    pub fn device_token(
        state: &TenantState,
        by: &Caller,
        device: &str,
        now: i64,
    ) -> Result<(), OpError> {
        let access = Access::new(state, now);
        let target = Target::Device(device);
        let live = state.devices().get(device).is_some_and(|d| !d.deleted);
        match by {
            Caller::Console if live => Ok(()),
            Caller::User(u) if live && access.can(u, Action::View, target) => {
                if access.can(u, Action::Manage(Permission::ManageDevices), target) {
                    Ok(())
                } else {
                    Err(OpError::Denied {
                        permission: Permission::ManageDevices,
                        scope: "the device's organization".into(),
                    })
                }
            }
            _ => Err(OpError::NotFound(format!("device {device}"))),
        }
    }

    /// Adding a bridge needs `manage_devices` in the organization.
    ///
    /// # Errors
    /// [`OpError::NotFound`] when the caller cannot see the organization.
    pub fn bridge(state: &TenantState, by: &Caller, org: &str, now: i64) -> Result<(), OpError> {
        let access = Access::new(state, now);
        let target = Target::Org(org);
        match by {
            Caller::Console if access.org_live(org) => Ok(()),
            Caller::User(u) if access.can(u, Action::View, target) => {
                if access.can(u, Action::Manage(Permission::ManageDevices), target) {
                    Ok(())
                } else {
                    Err(OpError::Denied {
                        permission: Permission::ManageDevices,
                        scope: format!("organization {org}"),
                    })
                }
            }
            _ => Err(OpError::NotFound(format!("organization {org}"))),
        }
    }
}

fn write(
    doc: &mut Automerge,
    what: &str,
    f: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> Result<(), OpError> {
    let creds = Credentials::read(doc).map_err(|e| OpError::Internal(e.to_string()))?;
    if !creds.writable() {
        return Err(OpError::SchemaTooNew(creds.schema));
    }
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| CommitOptions::default().with_message(what.to_owned()),
        f,
    )
    .map(|_| ())
    .map_err(|f| OpError::Internal(f.error.to_string()))
}

fn root_map(
    tx: &automerge::transaction::Transaction<'_>,
    name: &str,
) -> Result<automerge::ObjId, automerge::AutomergeError> {
    match tx.get(ROOT, name)? {
        Some((Value::Object(_), id)) => Ok(id),
        _ => Err(automerge::AutomergeError::InvalidObjId(name.to_owned())),
    }
}

/// Stores `phc` (an argon2id PHC string) as `user`'s password hash.
///
/// # Errors
/// [`OpError::Invalid`] for something that is not an argon2id PHC string.
pub fn put_password_hash(doc: &mut Automerge, user: &str, phc: &str) -> Result<(), OpError> {
    if !phc.starts_with("$argon2id$") {
        return Err(OpError::Invalid(
            "a password hash must be an argon2id PHC string".into(),
        ));
    }
    write(doc, &format!("password {user}"), |tx| {
        let map = root_map(tx, PASSWORDS)?;
        tx.put(&map, user, phc)
    })
}

/// Records an invite for `user` (replacing an older one).
///
/// # Errors
/// Automerge errors only.
pub fn put_invite(
    doc: &mut Automerge,
    user: &str,
    hash: &str,
    expires: i64,
) -> Result<(), OpError> {
    write(doc, &format!("invite {user}"), |tx| {
        let map = root_map(tx, INVITES)?;
        let invite = tx.put_object(&map, user, ObjType::Map)?;
        tx.put(&invite, "token", hash)?;
        tx.put(&invite, "expires", expires)
    })
}

/// Accepts `user`'s invite: sets the password and removes the invite, in
/// one change, so the code cannot be used twice.
///
/// # Errors
/// As [`put_password_hash`].
pub fn accept_invite(doc: &mut Automerge, user: &str, phc: &str) -> Result<(), OpError> {
    if !phc.starts_with("$argon2id$") {
        return Err(OpError::Invalid(
            "a password hash must be an argon2id PHC string".into(),
        ));
    }
    write(doc, &format!("accept invite {user}"), |tx| {
        let passwords = root_map(tx, PASSWORDS)?;
        tx.put(&passwords, user, phc)?;
        let invites = root_map(tx, INVITES)?;
        tx.delete(&invites, user)
    })
}

/// Replaces `device`'s token hash (the old token stops working).
///
/// # Errors
/// Automerge errors only.
pub fn put_device_token(doc: &mut Automerge, device: &str, hash: &str) -> Result<(), OpError> {
    write(doc, &format!("device token {device}"), |tx| {
        let map = root_map(tx, DEVICE_TOKENS)?;
        tx.put(&map, device, hash)
    })
}

/// Adds a bridge with the token hash `hash`; returns its id.
///
/// # Errors
/// [`OpError::Invalid`] for an empty name.
pub fn put_bridge(doc: &mut Automerge, name: &str, org: &str, hash: &str) -> Result<Id, OpError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(OpError::Invalid(
            "bridge name must be 1 to 200 characters".into(),
        ));
    }
    let id = new_id();
    write(doc, &format!("bridge {id}"), |tx| {
        let map = root_map(tx, BRIDGES)?;
        let bridge = tx.put_object(&map, id.as_str(), ObjType::Map)?;
        tx.put(&bridge, "name", name)?;
        tx.put(&bridge, "org", org)?;
        tx.put(&bridge, "token", hash)?;
        tx.put(&bridge, "revoked", false)
    })?;
    Ok(id)
}

/// Revokes a bridge for good (a revocation wins over anything concurrent).
///
/// # Errors
/// [`OpError::NotFound`] for an unknown bridge.
pub fn revoke_bridge(doc: &mut Automerge, id: &str) -> Result<(), OpError> {
    let creds = Credentials::read(doc).map_err(|e| OpError::Internal(e.to_string()))?;
    if !creds.bridges.contains_key(id) {
        return Err(OpError::NotFound(format!("bridge {id}")));
    }
    write(doc, &format!("revoke bridge {id}"), |tx| {
        let map = root_map(tx, BRIDGES)?;
        match tx.get(&map, id)? {
            Some((Value::Object(_), bridge)) => tx.put(&bridge, "revoked", true),
            _ => Err(automerge::AutomergeError::InvalidObjId(id.to_owned())),
        }
    })
}

/// Records hub `id`'s token hash and certificate fingerprint (replacing
/// what it had; a revoked hub stays revoked).
///
/// # Errors
/// Automerge errors only.
pub fn put_hub(
    doc: &mut Automerge,
    id: &str,
    hash: &str,
    fingerprint: Option<&str>,
) -> Result<(), OpError> {
    write(doc, &format!("hub {id}"), |tx| {
        let key = format!("{HUB_PREFIX}{id}");
        let hub = match tx.get(ROOT, key.as_str())? {
            Some((Value::Object(_), hub)) => hub,
            _ => {
                let hub = tx.put_object(ROOT, key.as_str(), ObjType::Map)?;
                tx.put(&hub, "revoked", false)?;
                hub
            }
        };
        tx.put(&hub, "token", hash)?;
        tx.put(&hub, "fp", fingerprint.unwrap_or_default())
    })
}

/// Revokes hub `id` for good: no peer accepts its token again.
///
/// # Errors
/// [`OpError::NotFound`] for an unknown hub.
pub fn revoke_hub(doc: &mut Automerge, id: &str) -> Result<(), OpError> {
    write(doc, &format!("revoke hub {id}"), |tx| {
        match tx.get(ROOT, format!("{HUB_PREFIX}{id}").as_str())? {
            Some((Value::Object(_), hub)) => tx.put(&hub, "revoked", true),
            _ => Err(automerge::AutomergeError::InvalidObjId(id.to_owned())),
        }
    })
    .map_err(|e| match e {
        OpError::Internal(_) => OpError::NotFound(format!("hub {id}")),
        other => other,
    })
}

#[cfg(test)]
mod tests;
