//! Organizations: create, rename, delete.
//!
//! Deleting is refused while the organization holds devices, members or
//! sub-organizations, naming them. If a device is moved into it concurrently
//! with its deletion, the device falls back to the nearest live ancestor
//! (see `Access::effective_org`). The root is never deleted, a refusal never names a device the
//! caller may not see (only how many), and the roles defined in a deleted organization go in the
//! same change.

use super::{
    Caller, OpError, Tenant, device_names, member_emails, new_id, non_empty, put_map, require,
    require_in_org, sees_org, set_field, set_written,
};
use crate::tenancy::access::Access;
use crate::tenancy::perms::Permission;
use crate::tenancy::schema;
use crate::tenancy::state::Id;

impl Tenant {
    /// Creates a sub-organization of `parent`; returns its id.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn create_org(
        &mut self,
        by: &Caller,
        parent: &str,
        name: &str,
        now: i64,
    ) -> Result<Id, OpError> {
        let name = non_empty("organization name", name)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        require_in_org(&access, by, Permission::ManageOrgs, parent)?;
        let id = new_id();
        let detail = serde_json::json!({ "name": name, "parent": parent });
        w.commit(by, "create_org", &id, detail, now, |tx| {
            put_map(
                tx,
                schema::ORGS,
                &id,
                &[
                    ("name", name.as_str().into()),
                    ("parent", parent.into()),
                    ("deleted", false.into()),
                ],
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Renames an organization.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn rename_org(
        &mut self,
        by: &Caller,
        org: &str,
        name: &str,
        now: i64,
    ) -> Result<Id, OpError> {
        let name = non_empty("organization name", name)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        require_in_org(&access, by, Permission::ManageOrgs, org)?;
        let detail = serde_json::json!({ "name": name });
        w.commit_as(by, "rename_org", org, detail, now, |tx, op| {
            set_written(tx, schema::ORGS, org, "name", name.as_str(), op)
        })
    }

    /// Deletes an empty organization. The root cannot be deleted.
    ///
    /// # Errors
    /// [`OpError::Refused`] naming what it still holds.
    pub fn delete_org(&mut self, by: &Caller, org: &str, now: i64) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        if !sees_org(&access, by, org) {
            return Err(OpError::NotFound(format!("organization {org}")));
        }
        let Some(parent) = state.orgs().get(org).and_then(|o| o.parent.clone()) else {
            return Err(OpError::Refused(
                "the household's root organization cannot be deleted".into(),
            ));
        };
        require(&access, by, Permission::ManageOrgs, &parent)?;
        let devices = device_names(
            &access,
            by,
            state
                .devices()
                .values()
                .filter(|d| !d.deleted && access.effective_org(d) == Some(org)),
        );
        let members = member_emails(&access, |m| m.org == org);
        let members: Vec<String> = members.into_iter().map(String::from).collect();
        let children: Vec<String> = state
            .orgs()
            .values()
            .filter(|o| o.parent.as_deref() == Some(org) && access.org_live(&o.id))
            .map(|o| o.name.clone())
            .collect();
        let mut holds = Vec::new();
        for (what, names) in [
            ("devices", devices),
            ("members", members),
            ("sub-organizations", children),
        ] {
            if !names.is_empty() {
                holds.push(format!("{what}: {}", names.join(", ")));
            }
        }
        if !holds.is_empty() {
            return Err(OpError::Refused(format!(
                "the organization still holds {}; move or remove them first",
                holds.join("; ")
            )));
        }
        // The roles defined here go with it, in the same change and said in
        // the log: nobody can hold one (they are usable only here and
        // below, and this is empty), and a concurrent edit of one, or an
        // invite with one, loses to the deletion (M3).
        let roles: Vec<(&str, &str)> = state
            .roles()
            .values()
            .filter(|r| !r.deleted && r.org == org)
            .map(|r| (r.id.as_str(), r.name.as_str()))
            .collect();
        let detail = serde_json::json!({
            "roles_deleted": roles.iter().map(|(_, name)| *name).collect::<Vec<_>>(),
        });
        w.commit(by, "delete_org", org, detail, now, |tx| {
            set_field(tx, schema::ORGS, org, "deleted", true)?;
            for (role, _) in &roles {
                set_field(tx, schema::ROLES, role, "deleted", true)?;
            }
            Ok(())
        })
    }
}
