//! Roles: create, edit, delete. A role is defined in an organization and
//! usable there and below; `manage_roles` in O edits roles defined in O or
//! below, never above. An edit writes the whole permission set as one value,
//! so concurrent edits resolve to their intersection (see `perms.rs`).

use super::{
    Caller, OpError, Tenant, member_emails, new_id, non_empty, require, require_in_org, sees_org,
    set_field,
};
use crate::tenancy::access::Access;
use crate::tenancy::perms::{PermSet, Permission};
use crate::tenancy::schema;
use crate::tenancy::state::{Id, Role};

impl Tenant {
    /// Defines a role in `org`; returns its id.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn create_role(
        &mut self,
        by: &Caller,
        org: &str,
        name: &str,
        perms: PermSet,
        now: i64,
    ) -> Result<Id, OpError> {
        let name = non_empty("role name", name)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        require_in_org(&access, by, Permission::ManageRoles, org)?;
        if state
            .roles()
            .values()
            .any(|r| !r.deleted && r.org == org && r.name.eq_ignore_ascii_case(&name))
        {
            return Err(OpError::Refused(format!(
                "a role named \"{name}\" already exists here; edit it instead"
            )));
        }
        let id = new_id();
        let detail = serde_json::json!({ "name": name, "org": org, "perms": perms.to_text() });
        w.commit(by, "create_role", &id, detail, now, |tx| {
            let roles = schema::object(tx, schema::ROLES)?;
            schema::put_role(tx, &roles, &id, &name, org, perms)
        })?;
        Ok(id)
    }

    /// Replaces a role's permission set.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn edit_role(
        &mut self,
        by: &Caller,
        role: &str,
        perms: PermSet,
        now: i64,
    ) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let r = visible_role(&access, by, role)?;
        require(&access, by, Permission::ManageRoles, &r.org)?;
        // Writing the value it already has would not even reach the document
        // (Automerge drops a put of the current value), so it would not take
        // part in a merge: say so instead of logging an edit that is not one.
        if r.perms == perms && !r.conflicted {
            return Err(OpError::Refused(format!(
                "the role \"{}\" already has exactly these permissions; nothing changed",
                r.name
            )));
        }
        let detail = serde_json::json!({ "from": r.perms.to_text(), "to": perms.to_text() });
        // A value of its own, tagged with this edit's op, so the edit always
        // takes part in a merge and the log can tell whether it stands.
        w.commit_as(by, "edit_role", role, detail, now, |tx, op| {
            set_field(tx, schema::ROLES, role, "perms", perms.to_text_tagged(op))
        })
    }

    /// Deletes a role no live member holds. Built-in roles stay.
    ///
    /// # Errors
    /// [`OpError::Refused`] naming who still holds it.
    pub fn delete_role(&mut self, by: &Caller, role: &str, now: i64) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let r = visible_role(&access, by, role)?;
        require(&access, by, Permission::ManageRoles, &r.org)?;
        if schema::builtin_roles().iter().any(|(id, _, _)| *id == role) {
            return Err(OpError::Refused(format!(
                "\"{}\" is a built-in role; edit it instead",
                r.name
            )));
        }
        let holders = member_emails(&access, |m| m.role == role);
        if !holders.is_empty() {
            return Err(OpError::Refused(format!(
                "role \"{}\" is still held by {}; give them another role first",
                r.name,
                holders.join(", ")
            )));
        }
        w.commit(
            by,
            "delete_role",
            role,
            serde_json::json!({ "name": r.name }),
            now,
            |tx| set_field(tx, schema::ROLES, role, "deleted", true),
        )
    }
}

fn visible_role<'a>(access: &Access<'a>, by: &Caller, role: &str) -> Result<&'a Role, OpError> {
    match access.state.roles().get(role) {
        Some(r) if !r.deleted && sees_org(access, by, &r.org) => Ok(r),
        // Deleted, alone or with the organization it was defined in (the
        // audit log tells which): say so rather than that it never was.
        Some(r) if r.deleted && sees_org(access, by, home_of(access, &r.org)) => {
            Err(OpError::NotFound(format!(
                "role {role} (it was deleted; the audit log says when)"
            )))
        }
        _ => Err(OpError::NotFound(format!("role {role}"))),
    }
}

/// Where a role's organization is, or was: itself while it lives, else its
/// parent (whose members may learn that it went).
fn home_of<'a>(access: &Access<'a>, org: &'a str) -> &'a str {
    if access.org_live(org) {
        return org;
    }
    access
        .state
        .orgs()
        .get(org)
        .and_then(|o| o.parent.as_deref())
        .unwrap_or(org)
}
