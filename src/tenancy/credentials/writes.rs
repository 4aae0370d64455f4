//! Writing the credentials document: password hashes, invites, device
//! tokens, bridges and hub credentials, each one commit with a message. It
//! never writes a document whose schema is newer than this code's, and never
//! decides who may write: callers check [`authorize`](super::authorize) first.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ObjType, ROOT, ReadDoc, Value};

use super::{BRIDGES, Credentials, DEVICE_TOKENS, HUB_PREFIX, INVITES, PASSWORDS};
use crate::tenancy::ops::{OpError, new_id};
use crate::tenancy::state::Id;

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
