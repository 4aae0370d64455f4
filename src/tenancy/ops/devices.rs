//! Devices: add, rename, move, delete, transfer ownership, share, unshare.
//!
//! Every write of a device's placement writes the whole placement as one
//! value (M2). A transfer says exactly why when it cannot happen (Blynk's
//! "Can't transfer to the same owner" is the counter-example).

use super::{
    Caller, OpError, Tenant, Writer, new_id, non_empty, normalize_email, put_map, require,
    require_in_org, sees_org, set_field, set_written,
};
use crate::tenancy::access::Access;
use crate::tenancy::perms::Permission;
use crate::tenancy::schema;
use crate::tenancy::state::{Device, Id, Level, Membership, Placement, TenantState};

/// What a transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    Done {
        op: Id,
        org: Id,
    },
    /// Transfer to the current owner: nothing to do, and it says so.
    AlreadyOwner(String),
}

/// A device the caller can see (any level), or "not found".
pub(super) fn visible_device<'a>(
    access: &Access<'a>,
    by: &Caller,
    device: &str,
) -> Result<&'a Device, OpError> {
    let found = access.state.devices().get(device).filter(|d| !d.deleted);
    match (found, by) {
        (Some(d), Caller::Console) => Ok(d),
        (Some(d), Caller::User(user)) if access.device_level(user, d).is_some() => Ok(d),
        _ => Err(OpError::NotFound(format!("device {device}"))),
    }
}

/// The caller manages the device: `manage_devices` over its organization,
/// or being its effective owner.
pub(super) fn require_device_manager(
    access: &Access<'_>,
    by: &Caller,
    device: &Device,
) -> Result<Id, OpError> {
    let org = access
        .effective_org(device)
        .ok_or_else(|| OpError::NotFound(format!("device {}", device.id)))?
        .to_owned();
    if let Caller::User(user) = by
        && access
            .effective_owner(device)
            .is_some_and(|m| access.state.canonical(&m.user) == access.state.canonical(user))
    {
        return Ok(org);
    }
    require(access, by, Permission::ManageDevices, &org)?;
    Ok(org)
}

/// The member's live membership nearest to `org` that covers it.
fn covering_membership<'a>(access: &Access<'a>, user: &str, org: &str) -> Option<&'a Membership> {
    let chain = access.ancestry(org)?;
    access
        .memberships_of(user)
        .filter_map(|m| {
            chain
                .iter()
                .position(|o| *o == m.org)
                .map(|depth| (depth, m))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)))
        .map(|(_, m)| m)
}

/// Writes a device's whole placement as one value (M2).
fn commit_placement(
    w: Writer<'_>,
    by: &Caller,
    kind: &str,
    device: &str,
    placement: &Placement,
    detail: serde_json::Value,
    now: i64,
) -> Result<Id, OpError> {
    let text = placement_text(placement);
    let mut detail = detail;
    detail["placement_op"] = serde_json::Value::String(placement.op.clone());
    w.commit(by, kind, device, detail, now, |tx| {
        set_field(tx, schema::DEVICES, device, "placement", text.as_str())
    })
}

fn placement_text(p: &Placement) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

/// The name of `template` when a device in `org` may use it: not deleted,
/// and defined in `org` or an organization above it.
fn usable_template<'a>(access: &Access<'a>, template: &str, org: &str) -> Option<&'a str> {
    access
        .state
        .templates()
        .get(template)
        .filter(|t| !t.deleted && access.covers(&t.org, org))
        .map(|t| t.name.as_str())
}

impl Tenant {
    /// Adds a device to `org`, owned by the caller when their membership
    /// covers `org` (else ownerless). Returns the device id.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn add_device(
        &mut self,
        by: &Caller,
        org: &str,
        name: &str,
        template: Option<&str>,
        now: i64,
    ) -> Result<Id, OpError> {
        let name = non_empty("device name", name)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        require_in_org(&access, by, Permission::ManageDevices, org)?;
        if let Some(template) = template
            && usable_template(&access, template, org).is_none()
        {
            return Err(OpError::NotFound(format!(
                "template {template} (defined in this organization or above)"
            )));
        }
        let id = new_id();
        let op = new_id();
        let owner = match by {
            Caller::User(user) => covering_membership(&access, user, org),
            Caller::Console => None,
        };
        let placement = Placement {
            org: org.to_owned(),
            owner: owner.map(|m| state.canonical(&m.user).to_owned()),
            membership: owner.map(|m| m.id.clone()),
            op,
        };
        let detail = serde_json::json!({
            "name": name, "org": org, "owner": placement.owner, "placement_op": placement.op,
        });
        w.commit(by, "add_device", &id, detail, now, |tx| {
            put_map(
                tx,
                schema::DEVICES,
                &id,
                &[
                    ("name", name.as_str().into()),
                    ("template", template.unwrap_or("").into()),
                    ("placement", placement_text(&placement).into()),
                    ("deleted", false.into()),
                ],
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Renames a device.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn rename_device(
        &mut self,
        by: &Caller,
        device: &str,
        name: &str,
        now: i64,
    ) -> Result<Id, OpError> {
        let name = non_empty("device name", name)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let d = visible_device(&access, by, device)?;
        require_device_manager(&access, by, d)?;
        w.commit_as(
            by,
            "rename_device",
            device,
            serde_json::json!({ "name": name }),
            now,
            |tx, op| set_written(tx, schema::DEVICES, device, "name", name.as_str(), op),
        )
    }

    /// Makes a device another kind (a template usable in its organization),
    /// or none: its controls and what its datastreams accept follow the new
    /// template from now on; what it recorded stays.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn set_device_template(
        &mut self,
        by: &Caller,
        device: &str,
        template: Option<&str>,
        now: i64,
    ) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let d = visible_device(&access, by, device)?;
        require_device_manager(&access, by, d)?;
        let template_name = match template {
            None => None,
            Some(template) => {
                let org = access.effective_org(d).unwrap_or_default();
                let Some(name) = usable_template(&access, template, org) else {
                    return Err(OpError::Refused(
                        "a device can use only a template defined in its own organization or \
                         one above it; choose one of those"
                            .into(),
                    ));
                };
                Some(name.to_owned())
            }
        };
        w.commit_as(
            by,
            "set_device_template",
            device,
            serde_json::json!({ "template": template, "template_name": template_name }),
            now,
            |tx, op| {
                set_written(
                    tx,
                    schema::DEVICES,
                    device,
                    "template",
                    template.unwrap_or(""),
                    op,
                )
            },
        )
    }

    /// Deletes a device.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn delete_device(&mut self, by: &Caller, device: &str, now: i64) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let d = visible_device(&access, by, device)?;
        let org = access.effective_org(d).unwrap_or_default().to_owned();
        require(&access, by, Permission::ManageDevices, &org)?;
        w.commit(
            by,
            "delete_device",
            device,
            serde_json::json!({ "name": d.name }),
            now,
            |tx| set_field(tx, schema::DEVICES, device, "deleted", true),
        )
    }

    /// Moves a device to `org`. The owner stays while one of their
    /// memberships covers `org`; otherwise the device becomes ownerless.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn move_device(
        &mut self,
        by: &Caller,
        device: &str,
        org: &str,
        now: i64,
    ) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let d = visible_device(&access, by, device)?;
        let from = access.effective_org(d).unwrap_or_default().to_owned();
        require(&access, by, Permission::ManageDevices, &from)?;
        require_in_org(&access, by, Permission::ManageDevices, org)?;
        if from == org {
            return Err(OpError::Refused(
                "the device is already in that organization".into(),
            ));
        }
        let owner = access
            .effective_owner(d)
            .and_then(|m| covering_membership(&access, &m.user, org));
        let op = new_id();
        let placement = Placement {
            org: org.to_owned(),
            owner: owner.map(|m| state.canonical(&m.user).to_owned()),
            membership: owner.map(|m| m.id.clone()),
            op: op.clone(),
        };
        let detail = serde_json::json!({ "from": from, "to": org, "owner": placement.owner });
        commit_placement(w, by, "move_device", device, &placement, detail, now)
    }

    /// Transfers ownership of `device` to the member `to` (a user id or an
    /// email). `dest_org` is needed only when the recipient's memberships do
    /// not cover the device's organization and they belong to several.
    ///
    /// # Errors
    /// Every refusal names the reason and what to do instead.
    pub fn transfer(
        &mut self,
        by: &Caller,
        device: &str,
        to: &str,
        dest_org: Option<&str>,
        now: i64,
    ) -> Result<Transfer, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let d = visible_device(&access, by, device)?;
        let org = require_device_manager(&access, by, d)?;
        let recipient = find_member(state, &access, to)?;
        let label = state
            .users()
            .get(&recipient)
            .map_or(recipient.clone(), |u| u.email.clone());
        // A destination other than where the device is makes it a move to
        // there (checked like any), not a no-op that ignores it.
        if access
            .effective_owner(d)
            .is_some_and(|m| state.canonical(&m.user) == recipient)
            && dest_org.is_none_or(|dest| dest == org)
        {
            return Ok(Transfer::AlreadyOwner(format!(
                "{label} already owns {}; nothing changed",
                d.name
            )));
        }
        let target_org = match (covering_membership(&access, &recipient, &org), dest_org) {
            (Some(_), None) => org.clone(),
            (_, Some(dest)) => dest.to_owned(),
            (None, None) => {
                let orgs: Vec<&crate::tenancy::state::Org> = access
                    .memberships_of(&recipient)
                    .filter_map(|m| state.orgs().get(&m.org))
                    .collect();
                match orgs.as_slice() {
                    [only] if sees_org(&access, by, &only.id) => only.id.clone(),
                    // Their one organization is beyond the caller: it goes
                    // unnamed (DESIGN §3), and the way forward is an invite.
                    [_] => {
                        return Err(OpError::Refused(format!(
                            "{label} is not a member of any organization you can see; \
                             invite them first (they keep their other memberships)"
                        )));
                    }
                    many => {
                        // Only the organizations the caller may see are named (DESIGN §3).
                        let names: Vec<String> = many
                            .iter()
                            .filter(|o| sees_org(&access, by, &o.id))
                            .map(|o| format!("{} ({})", o.name, o.id))
                            .collect();
                        let choices = if names.is_empty() {
                            "one of theirs where you manage devices".to_owned()
                        } else {
                            format!("one of theirs you can see: {}", names.join(", "))
                        };
                        return Err(OpError::Refused(format!(
                            "{label} is a member of several organizations, none of which holds {}; \
                             name the destination organization ({choices})",
                            d.name,
                        )));
                    }
                }
            }
        };
        if target_org != org {
            require_in_org(&access, by, Permission::ManageDevices, &target_org)?;
        }
        let Some(membership) = covering_membership(&access, &recipient, &target_org) else {
            return Err(OpError::Refused(format!(
                "{label} has no membership in or above the destination organization; \
                 invite them there first, or choose one of their organizations"
            )));
        };
        let placement = Placement {
            org: target_org.clone(),
            owner: Some(recipient.clone()),
            membership: Some(membership.id.clone()),
            op: new_id(),
        };
        if let Some(reason) = would_not_see(state, now, d, &placement, &recipient, membership) {
            return Err(OpError::Refused(format!("{label} {reason}")));
        }
        let from = access.effective_owner(d).map(|m| m.user.clone());
        let detail = serde_json::json!({ "from": from, "to": recipient, "org": target_org });
        // The answer's op is the audit entry's, like every other operation's.
        let op = commit_placement(w, by, "transfer", device, &placement, detail, now)?;
        Ok(Transfer::Done {
            op,
            org: target_org,
        })
    }

    /// Shares `device` with the member `with` (user id or email) at `level`
    /// until `expires` (local-clock milliseconds), if given.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn share(
        &mut self,
        by: &Caller,
        device: &str,
        with: &str,
        level: Level,
        expires: Option<i64>,
        now: i64,
    ) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let d = visible_device(&access, by, device)?;
        require_device_manager(&access, by, d)?;
        let grantee = find_member(state, &access, with)?;
        if expires.is_some_and(|t| t <= now) {
            return Err(OpError::Invalid(
                "the expiry is in the past (by this hub's clock)".into(),
            ));
        }
        let membership = access
            .memberships_of(&grantee)
            .min_by(|a, b| a.id.cmp(&b.id))
            .map(|m| m.id.clone())
            .ok_or_else(|| OpError::NotFound(format!("member {with}")))?;
        let id = new_id();
        let detail = serde_json::json!({ "device": device, "user": grantee, "level": level.name(), "expires": expires });
        w.commit(by, "share", &id, detail, now, |tx| {
            let mut fields = vec![
                ("device", device.into()),
                ("user", grantee.as_str().into()),
                ("level", level.name().into()),
                ("membership", membership.as_str().into()),
                ("revoked", false.into()),
            ];
            if let Some(t) = expires {
                fields.push(("expires", t.into()));
            }
            put_map(tx, schema::SHARES, &id, &fields)?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Revokes a share.
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn unshare(&mut self, by: &Caller, share: &str, now: i64) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let s = state
            .shares()
            .get(share)
            .filter(|s| !s.revoked)
            .ok_or_else(|| OpError::NotFound(format!("share {share}")))?;
        let d = visible_device(&access, by, &s.device)
            .map_err(|_| OpError::NotFound(format!("share {share}")))?;
        require_device_manager(&access, by, d)?;
        w.commit(
            by,
            "unshare",
            share,
            serde_json::json!({ "device": s.device, "user": s.user }),
            now,
            |tx| set_field(tx, schema::SHARES, share, "revoked", true),
        )
    }
}

/// A member of this household by user id or email, else the refusal Blynk's
/// users never got: who they are not, and what to do.
fn find_member(state: &TenantState, access: &Access<'_>, who: &str) -> Result<Id, OpError> {
    let user = match state.users().get(who) {
        Some(u) => Some(state.canonical(&u.id).to_owned()),
        None => normalize_email(who)
            .ok()
            .and_then(|e| state.user_by_email(&e))
            .map(|u| u.id.clone()),
    };
    match user {
        Some(user) if access.memberships_of(&user).next().is_some() => Ok(user),
        _ => Err(OpError::Refused(format!(
            "{who} is not a member of this household; invite them first — they keep their other memberships"
        ))),
    }
}

/// Why the recipient would not see the device after the transfer, if so.
fn would_not_see(
    state: &TenantState,
    now: i64,
    device: &Device,
    placement: &Placement,
    recipient: &str,
    membership: &Membership,
) -> Option<String> {
    let mut after = device.clone();
    after.placement = placement.clone();
    if Access::new(state, now)
        .device_level(recipient, &after)
        .is_some()
    {
        return None;
    }
    let role = state
        .roles()
        .get(&membership.role)
        .map_or("?", |r| r.name.as_str());
    Some(format!(
        "could not see {} afterwards: their role \"{role}\" has neither view_own_devices nor \
         view_org_devices; give them a role that can see devices first",
        device.name
    ))
}
