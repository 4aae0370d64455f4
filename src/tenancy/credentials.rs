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

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT};
use sha2::{Digest, Sha256};

use super::access::{Access, Action, Target};
use super::ops::{Caller, OpError};
use super::perms::Permission;
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

mod lookup;
mod writes;
pub use writes::{
    accept_invite, put_bridge, put_device_token, put_hub, put_invite, put_password_hash,
    revoke_bridge, revoke_hub,
};

#[cfg(test)]
mod tests;
