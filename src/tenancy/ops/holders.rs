//! "Who can see or control this device, and why": every person with access
//! to a device and each reason they have it (ownership, a role in an
//! organization, a share), as far as the reader may see (M4). Only someone
//! who may share the device (its owner, or `manage_devices` over its
//! organization) may ask: the list names people and their expiries.
//!
//! Each person's level is [`Access::device_level`]'s, the function every
//! command is checked with, so the panel cannot promise what a command
//! would be refused; the reasons are that level explained.

use std::collections::BTreeMap;

use serde::Serialize;

use super::devices::{require_device_manager, visible_device};
use super::{Caller, OpError, sees_org};
use crate::tenancy::access::Access;
use crate::tenancy::perms::Permission;
use crate::tenancy::state::{Id, Level, Membership, TenantState};

/// One person with access to a device.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Holder {
    pub user: Id,
    pub email: String,
    /// What they may do with it now; `null` for an owner whose role gives
    /// no access to their own devices (they own it, but cannot use it).
    pub level: Option<Level>,
    /// Every reason they have it: ownership, then roles, then shares.
    pub reasons: Vec<Reason>,
}

/// Why a person has access.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// They own it (through their membership in `org`); their role says
    /// what owners may do with their own devices.
    Owner {
        org: Id,
        org_name: String,
        role_name: String,
        level: Option<Level>,
    },
    /// Their role in `org` (the device's organization or one above it)
    /// lets them see or control every device there.
    Role {
        org: Id,
        org_name: String,
        role_name: String,
        level: Level,
    },
    /// Shared with them (revocable with `DELETE /shares/{share}`).
    Share {
        share: Id,
        level: Level,
        /// Unix milliseconds by the hub's clock; `null`: until revoked.
        expires: Option<i64>,
    },
}

/// Everyone with access to `device`, as `by` may see them, sorted by email.
///
/// # Errors
/// [`OpError::NotFound`] when `by` may not see the device;
/// [`OpError::Denied`] (`manage_devices`) when they may see it but not share it.
pub fn device_holders(
    state: &TenantState,
    by: &Caller,
    device: &str,
    now: i64,
) -> Result<Vec<Holder>, OpError> {
    let access = Access::new(state, now);
    let d = visible_device(&access, by, device)?;
    require_device_manager(&access, by, d)?;
    let Some(org) = access.effective_org(d) else {
        return Ok(Vec::new());
    };
    let chain = access.ancestry(org).unwrap_or_default();
    let shown = |m: &Membership| sees_org(&access, by, &m.org);
    let org_name = |id: &str| {
        state
            .orgs()
            .get(id)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    };
    let role_name = |m: &Membership| {
        state
            .roles()
            .get(&m.role)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let mut reasons: BTreeMap<&str, Vec<Reason>> = BTreeMap::new();

    if let Some(m) = access.effective_owner(d).filter(|m| shown(m)) {
        let perms = access.membership_perms(m);
        let level = if perms.contains(Permission::ControlOwnDevices) {
            Some(Level::Control)
        } else if perms.contains(Permission::ViewOwnDevices) {
            Some(Level::View)
        } else {
            None
        };
        reasons
            .entry(state.canonical(&m.user))
            .or_default()
            .push(Reason::Owner {
                org: m.org.clone(),
                org_name: org_name(&m.org),
                role_name: role_name(m),
                level,
            });
    }
    for m in state.memberships().values() {
        if !access.membership_live(m) || !chain.contains(&m.org) || !shown(m) {
            continue;
        }
        let perms = access.membership_perms(m);
        let level = if perms.contains(Permission::ControlOrgDevices) {
            Level::Control
        } else if perms.contains(Permission::ViewOrgDevices) {
            Level::View
        } else {
            continue;
        };
        reasons
            .entry(state.canonical(&m.user))
            .or_default()
            .push(Reason::Role {
                org: m.org.clone(),
                org_name: org_name(&m.org),
                role_name: role_name(m),
                level,
            });
    }
    for s in state.shares_of_device(device) {
        let relied_on = state.memberships().get(&s.membership);
        if !access.share_live(s) || !relied_on.is_some_and(&shown) {
            continue;
        }
        reasons
            .entry(state.canonical(&s.user))
            .or_default()
            .push(Reason::Share {
                share: s.id.clone(),
                level: s.level,
                expires: s.expires,
            });
    }

    let mut holders: Vec<Holder> = reasons
        .into_iter()
        .map(|(user, reasons)| Holder {
            user: user.to_owned(),
            email: state
                .users()
                .get(user)
                .map(|u| u.email.clone())
                .unwrap_or_default(),
            level: access.device_level(user, d),
            reasons,
        })
        .collect();
    holders.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(holders)
}
