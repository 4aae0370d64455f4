//! People: invite, change role, remove, change email.
//!
//! Inviting an address that already has an account anywhere is normal, never
//! an error: the person gets one more membership *instance*. A removal
//! tombstones that instance (never reused), so a concurrent role change
//! leaves the member removed (M3).

use automerge::transaction::Transactable;

use super::{
    Caller, OpError, Tenant, new_id, normalize_email, put_map, require, require_in_org, sees_org,
    set_field, set_written,
};
use crate::tenancy::access::Access;
use crate::tenancy::perms::Permission;
use crate::tenancy::schema;
use crate::tenancy::state::{Id, TenantState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    pub op: Id,
    pub user: Id,
    pub membership: Id,
    /// True when the person already had an account in this household.
    pub existing_user: bool,
    /// Set when the role can see no device: allowed, but worth saying.
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub op: Id,
    /// Devices this member owned that are now ownerless (managed through the
    /// organization's `manage_devices` holders).
    pub ownerless_devices: Vec<Id>,
}

pub(super) fn put_user<T: Transactable>(
    tx: &mut T,
    id: &str,
    email: &str,
) -> Result<(), automerge::AutomergeError> {
    put_map(tx, schema::USERS, id, &[("email", email.into())])?;
    Ok(())
}

pub(super) fn put_membership<T: Transactable>(
    tx: &mut T,
    id: &str,
    user: &str,
    org: &str,
    role: &str,
) -> Result<(), automerge::AutomergeError> {
    put_map(
        tx,
        schema::MEMBERSHIPS,
        id,
        &[
            ("user", user.into()),
            ("org", org.into()),
            ("role", role.into()),
            ("removed", false.into()),
        ],
    )?;
    Ok(())
}

/// A role usable in `org`: live and defined at `org` or above.
fn usable_role(access: &Access<'_>, by: &Caller, role: &str, org: &str) -> Result<(), OpError> {
    match access.state.roles().get(role) {
        Some(r) if !r.deleted && access.covers(&r.org, org) => Ok(()),
        // A role in a branch the caller cannot see is, to them, no role.
        Some(r) if !r.deleted && sees_org(access, by, &r.org) => Err(OpError::Refused(format!(
            "role \"{}\" is defined in another branch of the organization tree; \
             use a role defined in this organization or above it",
            r.name
        ))),
        _ => Err(OpError::NotFound(format!("role {role}"))),
    }
}

impl Tenant {
    /// Invites `email` into `org` with `role`.
    ///
    /// # Errors
    /// Not found / denied / refused as [`OpError`] says.
    pub fn invite(
        &mut self,
        by: &Caller,
        email: &str,
        org: &str,
        role: &str,
        now: i64,
    ) -> Result<Invited, OpError> {
        let email = normalize_email(email)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        require_in_org(&access, by, Permission::ManageUsers, org)?;
        usable_role(&access, by, role, org)?;
        let existing = state.user_by_email(&email).map(|u| u.id.clone());
        if let Some(user) = &existing
            && let Some(m) = access.memberships_of(user).find(|m| m.org == org)
        {
            let role_name = state.roles().get(&m.role).map_or("?", |r| r.name.as_str());
            return Err(OpError::Refused(format!(
                "{email} is already a member of {} with role \"{role_name}\"; change their role instead",
                state.orgs().get(org).map_or(org, |o| o.name.as_str())
            )));
        }
        let perms = state.roles().get(role).map(|r| r.perms).unwrap_or_default();
        let warning = (!perms.sees_devices()).then(|| {
            format!(
                "role \"{}\" can see no devices; {email} will see only what is shared with them",
                state.roles().get(role).map_or(role, |r| r.name.as_str())
            )
        });
        let user = existing.clone().unwrap_or_else(new_id);
        let membership = new_id();
        let (u, m) = (user.clone(), membership.clone());
        let new_user = existing.is_none();
        let op = w.commit(
            by,
            "invite",
            &membership,
            serde_json::json!({ "user": user, "email": email, "org": org, "role": role }),
            now,
            |tx| {
                if new_user {
                    put_user(tx, &u, &email)?;
                }
                put_membership(tx, &m, &u, org, role)
            },
        )?;
        Ok(Invited {
            op,
            user,
            membership,
            existing_user: !new_user,
            warning,
        })
    }

    /// Gives membership `membership` the role `role`.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn change_role(
        &mut self,
        by: &Caller,
        membership: &str,
        role: &str,
        now: i64,
    ) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let m = live_membership(&access, by, membership)?;
        require(&access, by, Permission::ManageUsers, &m.org)?;
        usable_role(&access, by, role, &m.org)?;
        if m.role == role {
            return Err(OpError::Refused("the member already has this role".into()));
        }
        refuse_losing_last_admin(state, &access, membership, Some(role))?;
        let detail = serde_json::json!({ "from": m.role, "to": role, "user": m.user });
        w.commit_as(by, "change_role", membership, detail, now, |tx, op| {
            set_written(tx, schema::MEMBERSHIPS, membership, "role", role, op)
        })
    }

    /// Removes a member. Allowed even if they own devices: the answer lists
    /// the devices that become ownerless.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn remove_member(
        &mut self,
        by: &Caller,
        membership: &str,
        now: i64,
    ) -> Result<Removed, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let m = live_membership(&access, by, membership)?;
        require(&access, by, Permission::ManageUsers, &m.org)?;
        refuse_losing_last_admin(state, &access, membership, None)?;
        let ownerless_devices = access.devices_owned_through(membership);
        let detail =
            serde_json::json!({ "user": m.user, "org": m.org, "ownerless": ownerless_devices });
        let op = w.commit(by, "remove_member", membership, detail, now, |tx| {
            set_field(tx, schema::MEMBERSHIPS, membership, "removed", true)
        })?;
        Ok(Removed {
            op,
            ownerless_devices,
        })
    }

    /// Changes a user's email (self, or anyone holding `manage_users` over
    /// one of their organizations).
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn change_email(
        &mut self,
        by: &Caller,
        user: &str,
        email: &str,
        now: i64,
    ) -> Result<Id, OpError> {
        let email = normalize_email(email)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let user = state.canonical(user).to_owned();
        let orgs: Vec<Id> = access
            .memberships_of(&user)
            .map(|m| m.org.clone())
            .collect();
        // Someone else's address: only who manages *every* organization
        // they belong to (a sub-organization's admin must not redirect a
        // root admin's account).
        let visible = match by {
            Caller::Console => true,
            Caller::User(me) if state.canonical(me) == user => true,
            Caller::User(_) => orgs.iter().any(|o| sees_org(&access, by, o)),
        };
        if !visible || !state.users().contains_key(&user) {
            return Err(OpError::NotFound(format!("user {user}")));
        }
        if let Caller::User(me) = by
            && state.canonical(me) != user
            && !orgs
                .iter()
                .all(|o| require(&access, by, Permission::ManageUsers, o).is_ok())
        {
            return Err(OpError::Denied {
                permission: Permission::ManageUsers,
                scope: "every organization they belong to".into(),
            });
        }
        if let Some(other) = state.user_by_email(&email)
            && other.id != user
        {
            return Err(OpError::Refused(format!(
                "{email} already belongs to another member of this household"
            )));
        }
        // The person is the canonical user and its aliases (accounts created
        // concurrently with one address): move them all, or the aliases would
        // split off as a second person on the old address.
        let accounts: Vec<Id> = state
            .users()
            .keys()
            .filter(|u| state.canonical(u) == user)
            .cloned()
            .collect();
        let detail = serde_json::json!({ "email": email });
        w.commit_as(by, "change_email", &user, detail, now, |tx, op| {
            for account in &accounts {
                set_written(tx, schema::USERS, account, "email", email.as_str(), op)?;
            }
            Ok(())
        })
    }
}

/// A live membership the caller can see (its organization is visible).
fn live_membership<'a>(
    access: &Access<'a>,
    by: &Caller,
    membership: &str,
) -> Result<&'a crate::tenancy::state::Membership, OpError> {
    access
        .state
        .memberships()
        .get(membership)
        .filter(|m| access.membership_live(m) && sees_org(access, by, &m.org))
        .ok_or_else(|| OpError::NotFound(format!("member {membership}")))
}

/// Refuses to leave the tenant with no live Admin-level member at the root.
fn refuse_losing_last_admin(
    state: &TenantState,
    access: &Access<'_>,
    membership: &str,
    new_role: Option<&str>,
) -> Result<(), OpError> {
    let Some(root) = state.orgs().values().find(|o| o.parent.is_none()) else {
        return Ok(());
    };
    let is_admin = |m: &crate::tenancy::state::Membership, role: &str| {
        let role_perms = state
            .roles()
            .get(role)
            .filter(|r| !r.deleted)
            .map(|r| r.perms)
            .unwrap_or_default();
        m.org == root.id
            && role_perms.contains(Permission::ManageUsers)
            && role_perms.contains(Permission::ManageRoles)
    };
    let target_is_admin = state
        .memberships()
        .get(membership)
        .is_some_and(|m| is_admin(m, &m.role));
    if !target_is_admin {
        return Ok(());
    }
    let admins_after = state
        .memberships()
        .values()
        .filter(|m| access.membership_live(m))
        .filter(|m| match (m.id == membership, new_role) {
            (true, None) => false,
            (true, Some(role)) => is_admin(m, role),
            (false, _) => is_admin(m, &m.role),
        })
        .count();
    if admins_after == 0 {
        return Err(OpError::Refused(
            "this is the household's last administrator; make someone else an admin first".into(),
        ));
    }
    Ok(())
}
