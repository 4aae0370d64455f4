//! The layout of the tenant's sharing document, and its creation.
//!
//! ```text
//! ROOT
//!   schema: 1                       newer: keep syncing, refuse operations
//!   tenant: tenant id
//!   orgs/<id>        {name, parent, deleted}
//!   users/<id>       {email}
//!   memberships/<id> {user, org, role, removed}     an *instance*; never reused
//!   roles/<id>       {name, org, perms, deleted}    perms: one scalar (see perms.rs)
//!   devices/<id>     {name, template, placement, ble_mac, deleted}
//!                    placement: one JSON scalar {org, owner, membership, op}
//!   shares/<id>      {device, user, level, expires, membership, revoked}
//!   templates/<id>   {name, org, definition, deleted}
//!                    definition: one JSON scalar {datastreams, events}
//!   audit            [ JSON scalar {op, kind, by, replica, at, subject, detail} ]
//! ```
//!
//! Every map a later operation writes into is created with its parent, here
//! or in the operation that creates the parent: two replicas lazily creating
//! the same nested map concurrently would lose one side's writes. Deletions
//! are tombstone flags that are only ever set to true, so a removal wins over
//! any concurrent edit of the same entity.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT};

use super::perms::{PermSet, Permission};

/// The schema this code reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

pub const ORGS: &str = "orgs";
pub const USERS: &str = "users";
pub const MEMBERSHIPS: &str = "memberships";
pub const ROLES: &str = "roles";
pub const DEVICES: &str = "devices";
pub const SHARES: &str = "shares";
pub const TEMPLATES: &str = "templates";
pub const AUDIT: &str = "audit";

/// Ids of the built-in roles, defined at the root organization.
pub const ROLE_ADMIN: &str = "admin";
pub const ROLE_STAFF: &str = "staff";
pub const ROLE_USER: &str = "user";

pub fn builtin_roles() -> [(&'static str, &'static str, PermSet); 3] {
    use Permission::*;
    [
        (ROLE_ADMIN, "Admin", PermSet::ALL),
        (
            ROLE_STAFF,
            "Staff",
            PermSet::of(&[ViewOrgDevices, ControlOrgDevices]),
        ),
        // Blynk's default role has no permissions and leaves invited people
        // looking at an empty screen; ours lets them use their own devices.
        (
            ROLE_USER,
            "User",
            PermSet::of(&[ViewOwnDevices, ControlOwnDevices]),
        ),
    ]
}

/// Writes the skeleton of a new tenant: every top-level map, the root
/// organization and the built-in roles. Run once, by the replica that
/// creates the tenant; every other replica receives it by sync.
///
/// # Errors
/// Automerge errors only.
pub fn create<T: Transactable>(
    tx: &mut T,
    tenant_id: &str,
    root_org: &str,
    root_name: &str,
) -> Result<(), automerge::AutomergeError> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "tenant", tenant_id)?;
    for map in [ORGS, USERS, MEMBERSHIPS, ROLES, DEVICES, SHARES, TEMPLATES] {
        tx.put_object(ROOT, map, ObjType::Map)?;
    }
    tx.put_object(ROOT, AUDIT, ObjType::List)?;
    let orgs = object(tx, ORGS)?;
    let org = tx.put_object(&orgs, root_org, ObjType::Map)?;
    tx.put(&org, "name", root_name)?;
    tx.put(&org, "parent", "")?;
    tx.put(&org, "deleted", false)?;
    let roles = object(tx, ROLES)?;
    for (id, name, perms) in builtin_roles() {
        put_role(tx, &roles, id, name, root_org, perms)?;
    }
    Ok(())
}

pub fn put_role<T: Transactable>(
    tx: &mut T,
    roles: &ObjId,
    id: &str,
    name: &str,
    org: &str,
    perms: PermSet,
) -> Result<(), automerge::AutomergeError> {
    let role = tx.put_object(roles, id, ObjType::Map)?;
    tx.put(&role, "name", name)?;
    tx.put(&role, "org", org)?;
    tx.put(&role, "perms", perms.to_text())?;
    tx.put(&role, "deleted", false)?;
    Ok(())
}

/// The id of a top-level map or list.
///
/// # Errors
/// When the document lacks it (not a tenant document).
pub fn object<D: automerge::ReadDoc>(
    doc: &D,
    key: &str,
) -> Result<ObjId, automerge::AutomergeError> {
    match doc.get(ROOT, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => Err(automerge::AutomergeError::InvalidObjId(format!(
            "the tenant document has no `{key}`"
        ))),
    }
}
