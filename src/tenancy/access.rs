//! Who may see and do what: a pure function of the replicated state and one
//! clock reading (DESIGN §3 "Access"). Two replicas holding the same state
//! and reading the same clock decide identically (M1). Nothing here writes.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::perms::{PermSet, Permission};
use super::state::{Device, Id, Level, Membership, TenantState};

/// Access decisions at one instant.
pub struct Access<'a> {
    pub state: &'a TenantState,
    /// The hub's clock, milliseconds (share expiry).
    pub now: i64,
}

/// A device as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisibleDevice {
    pub id: Id,
    pub name: String,
    pub level: Level,
    /// Organization names from the highest one the user may see down to the
    /// device's; empty when the device reaches the user only by a share.
    pub org_path: Vec<String>,
    pub owned: bool,
}

impl<'a> Access<'a> {
    pub fn new(state: &'a TenantState, now: i64) -> Self {
        Self { state, now }
    }

    /// An organization exists while it and every ancestor are not deleted.
    pub fn org_live(&self, org: &str) -> bool {
        self.ancestry(org).is_some_and(|chain| {
            chain
                .iter()
                .all(|o| self.state.orgs.get(*o).is_some_and(|o| !o.deleted))
        })
    }

    /// `org` and its ancestors, nearest first; `None` for an unknown org or
    /// a cycle (which no valid operation creates).
    pub fn ancestry<'s>(&'s self, org: &'s str) -> Option<Vec<&'s str>> {
        let mut chain = vec![org];
        let mut current = self.state.orgs.get(org)?;
        while let Some(parent) = &current.parent {
            if chain.contains(&parent.as_str()) || chain.len() > 64 {
                return None;
            }
            chain.push(parent);
            current = self.state.orgs.get(parent)?;
        }
        Some(chain)
    }

    /// Is `ancestor` the same as `org` or above it?
    pub fn covers(&self, ancestor: &str, org: &str) -> bool {
        self.ancestry(org)
            .is_some_and(|chain| chain.contains(&ancestor))
    }

    pub fn membership_live(&self, m: &Membership) -> bool {
        !m.removed && self.org_live(&m.org)
    }

    /// Live memberships of `user` (and of the users it is merged with).
    pub fn memberships_of(&self, user: &str) -> impl Iterator<Item = &'a Membership> + '_ {
        let user = self.state.canonical(user).to_owned();
        self.state
            .memberships
            .values()
            .filter(move |m| self.state.canonical(&m.user) == user && self.membership_live(m))
    }

    /// A membership's permissions: its role's, if the role exists, is not
    /// deleted and is defined at the membership's organization or above.
    pub fn membership_perms(&self, m: &Membership) -> PermSet {
        match self.state.roles.get(&m.role) {
            Some(role) if !role.deleted && self.covers(&role.org, &m.org) => role.perms,
            _ => PermSet::EMPTY,
        }
    }

    /// The device's placement organization, or its nearest live ancestor if
    /// that was deleted (concurrently with the device moving into it).
    pub fn effective_org(&self, device: &Device) -> Option<&'a str> {
        let state = self.state;
        let chain = self.ancestry(&device.placement.org)?;
        chain
            .into_iter()
            .find(|o| self.org_live(o))
            .and_then(|o| state.orgs.get_key_value(o).map(|(k, _)| k.as_str()))
    }

    /// The placed owner while the recorded membership instance is live and
    /// covers the effective organization; otherwise `None` (ownerless).
    pub fn effective_owner(&self, device: &Device) -> Option<&'a Membership> {
        let placement = &device.placement;
        let membership = self.state.memberships.get(placement.membership.as_ref()?)?;
        let owner = placement.owner.as_deref()?;
        let effective = self.effective_org(device)?;
        (self.membership_live(membership)
            && self.state.canonical(&membership.user) == self.state.canonical(owner)
            && self.covers(&membership.org, effective))
        .then_some(membership)
    }

    /// Permissions `user` holds over organization `org` (from memberships in
    /// it or above).
    pub fn perms_over(&self, user: &str, org: &str) -> PermSet {
        self.memberships_of(user)
            .filter(|m| self.covers(&m.org, org))
            .fold(PermSet::EMPTY, |acc, m| acc.union(self.membership_perms(m)))
    }

    pub fn can_manage(&self, user: &str, permission: Permission, org: &str) -> bool {
        self.org_live(org) && self.perms_over(user, org).contains(permission)
    }

    /// The level at which `user` may use `device`, if any. Control implies view.
    pub fn device_level(&self, user: &str, device: &Device) -> Option<Level> {
        if device.deleted {
            return None;
        }
        let org = self.effective_org(device)?;
        let perms = self.perms_over(user, org);
        let mut level = None;
        let mut grant = |l: Level| level = level.max(Some(l));
        if perms.contains(Permission::ControlOrgDevices) {
            grant(Level::Control);
        } else if perms.contains(Permission::ViewOrgDevices) {
            grant(Level::View);
        }
        if let Some(owner) = self.effective_owner(device)
            && self.state.canonical(&owner.user) == self.state.canonical(user)
        {
            let own = self.membership_perms(owner);
            if own.contains(Permission::ControlOwnDevices) {
                grant(Level::Control);
            } else if own.contains(Permission::ViewOwnDevices) {
                grant(Level::View);
            }
        }
        if let Some(share) = self.share_level(user, &device.id) {
            grant(share);
        }
        level
    }

    fn share_level(&self, user: &str, device: &str) -> Option<Level> {
        let user = self.state.canonical(user);
        self.state
            .shares
            .values()
            .filter(|s| s.device == device && !s.revoked)
            .filter(|s| self.state.canonical(&s.user) == user)
            .filter(|s| s.expires.is_none_or(|t| self.now < t))
            .filter(|s| {
                self.state
                    .memberships
                    .get(&s.membership)
                    .is_some_and(|m| self.membership_live(m))
            })
            .map(|s| s.level)
            .max()
    }

    /// Organizations `user` may see: those of its live memberships and
    /// everything below them. Never anything above (M4).
    pub fn visible_orgs(&self, user: &str) -> HashSet<&'a str> {
        let roots: Vec<&str> = self.memberships_of(user).map(|m| m.org.as_str()).collect();
        self.state
            .orgs
            .keys()
            .map(String::as_str)
            .filter(|o| self.org_live(o) && roots.iter().any(|r| self.covers(r, o)))
            .collect()
    }

    /// Every device `user` may see, across all their organizations and
    /// shares, each labelled with the organization path they may see.
    pub fn devices_of(&self, user: &str) -> Vec<VisibleDevice> {
        let visible = self.visible_orgs(user);
        let mut out: BTreeMap<&str, VisibleDevice> = BTreeMap::new();
        for device in self.state.devices.values() {
            let Some(level) = self.device_level(user, device) else {
                continue;
            };
            let org_path = self
                .effective_org(device)
                .and_then(|o| self.ancestry(o))
                .map(|chain| {
                    chain
                        .into_iter()
                        .rev()
                        .filter(|o| visible.contains(o))
                        .filter_map(|o| self.state.orgs.get(o).map(|o| o.name.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let owned = self
                .effective_owner(device)
                .is_some_and(|m| self.state.canonical(&m.user) == self.state.canonical(user));
            out.insert(
                &device.id,
                VisibleDevice {
                    id: device.id.clone(),
                    name: device.name.clone(),
                    level,
                    org_path,
                    owned,
                },
            );
        }
        out.into_values().collect()
    }

    /// Ids of live devices that would be ownerless after `membership` went.
    pub fn devices_owned_through(&self, membership: &str) -> Vec<Id> {
        self.state
            .devices
            .values()
            .filter(|d| !d.deleted)
            .filter(|d| self.effective_owner(d).is_some_and(|m| m.id == membership))
            .map(|d| d.id.clone())
            .collect()
    }
}
