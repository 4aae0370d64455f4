//! Who may see and do what: a pure function of the replicated state and one
//! clock reading (DESIGN §3 "Access"). Two replicas holding the same state
//! and reading the same clock decide identically (M1). Nothing here writes.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::perms::{PermSet, Permission};
use super::state::{Device, Id, Level, Membership, Share, TenantState};

/// Organization paths by organization, built once per listing.
type Paths<'a> = rustc_hash::FxHashMap<&'a str, Vec<String>>;

/// Access decisions at one instant.
pub struct Access<'a> {
    pub state: &'a TenantState,
    /// The hub's clock, milliseconds (share expiry).
    pub now: i64,
}

/// A device as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VisibleDevice {
    pub id: Id,
    pub name: String,
    pub level: Level,
    /// Organization names from the highest one the user may see down to the
    /// device's; empty when the device reaches the user only by a share.
    pub org_path: Vec<String>,
    pub owned: bool,
    /// What kind of device it is (its controls come from this template).
    pub template: Option<TemplateRef>,
}

/// A device's template, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TemplateRef {
    pub id: Id,
    pub name: String,
}

fn template_of(state: &TenantState, device: &Device) -> Option<TemplateRef> {
    let id = device.template.as_ref()?;
    let template = state.templates().get(id)?;
    Some(TemplateRef {
        id: template.id.clone(),
        name: template.name.clone(),
    })
}

/// What a user wants to do, for [`Access::can`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See it (a device: its values; an organization: that it exists).
    View,
    /// Send a device commands.
    Control,
    /// An administrative operation needing this permission.
    Manage(Permission),
}

/// What the action is on, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'t> {
    Device(&'t str),
    Org(&'t str),
}

impl<'a> Access<'a> {
    pub fn new(state: &'a TenantState, now: i64) -> Self {
        Self { state, now }
    }

    /// The one question every API call and device command asks: may `user`
    /// do `action` to `target` at this clock reading? Unknown targets: no.
    pub fn can(&self, user: &str, action: Action, target: Target<'_>) -> bool {
        match target {
            Target::Device(id) => {
                let Some(device) = self.state.devices().get(id) else {
                    return false;
                };
                match action {
                    Action::View => self.device_level(user, device).is_some(),
                    Action::Control => self.device_level(user, device) == Some(Level::Control),
                    Action::Manage(permission) => self.effective_org(device).is_some_and(|org| {
                        !device.deleted && self.can_manage(user, permission, org)
                    }),
                }
            }
            Target::Org(org) => match action {
                Action::View => {
                    self.org_live(org)
                        && self.memberships_of(user).any(|m| self.covers(&m.org, org))
                }
                Action::Control => false,
                Action::Manage(permission) => self.can_manage(user, permission, org),
            },
        }
    }

    /// An organization exists while it and every ancestor are not deleted.
    pub fn org_live(&self, org: &str) -> bool {
        self.state.org_place(org).is_some_and(|p| p.live)
    }

    /// `org` and its ancestors, nearest first; `None` for an unknown org or
    /// a cycle (which no valid operation creates).
    pub fn ancestry(&self, org: &str) -> Option<&'a [Id]> {
        self.state.org_place(org).map(|p| p.chain.as_slice())
    }

    /// Is `ancestor` the same as `org` or above it?
    pub fn covers(&self, ancestor: &str, org: &str) -> bool {
        self.ancestry(org)
            .is_some_and(|chain| chain.iter().any(|o| o == ancestor))
    }

    pub fn membership_live(&self, m: &Membership) -> bool {
        !m.removed && self.org_live(&m.org)
    }

    /// Live memberships of `user` (and of the users it is merged with).
    pub fn memberships_of(&self, user: &str) -> impl Iterator<Item = &'a Membership> {
        self.state
            .memberships_of_person(user)
            .filter(|m| self.membership_live(m))
    }

    /// A membership's permissions: its role's, if the role exists, is not
    /// deleted and is defined at the membership's organization or above.
    pub fn membership_perms(&self, m: &Membership) -> PermSet {
        match self.state.roles().get(&m.role) {
            Some(role) if !role.deleted && self.covers(&role.org, &m.org) => role.perms,
            _ => PermSet::EMPTY,
        }
    }

    /// The device's placement organization, or its nearest live ancestor if
    /// that was deleted (concurrently with the device moving into it).
    pub fn effective_org(&self, device: &Device) -> Option<&'a str> {
        self.state
            .org_place(&device.placement.org)?
            .effective
            .as_deref()
    }

    /// The placed owner while the recorded membership instance is live and
    /// covers the effective organization; otherwise `None` (ownerless).
    pub fn effective_owner(&self, device: &Device) -> Option<&'a Membership> {
        let placement = &device.placement;
        let membership = self
            .state
            .memberships()
            .get(placement.membership.as_ref()?)?;
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
        let Some(chain) = self.ancestry(org) else {
            return PermSet::EMPTY;
        };
        self.state
            .grants(self.state.canonical(user))
            .iter()
            .filter(|g| chain.contains(&g.org))
            .fold(PermSet::EMPTY, |acc, g| acc.union(g.perms))
    }

    pub fn can_manage(&self, user: &str, permission: Permission, org: &str) -> bool {
        self.org_live(org) && self.perms_over(user, org).contains(permission)
    }

    /// The level at which `user` may use `device`, if any. Control implies view.
    pub fn device_level(&self, user: &str, device: &Device) -> Option<Level> {
        if device.deleted {
            return None;
        }
        let state = self.state;
        let org = self.effective_org(device)?;
        let chain = self.ancestry(org)?;
        let me = state.canonical(user);
        let grants = state.grants(me);
        let perms = grants
            .iter()
            .filter(|g| chain.contains(&g.org))
            .fold(PermSet::EMPTY, |acc, g| acc.union(g.perms));
        let mut level = None;
        let grant = |level: &mut Option<Level>, l: Level| *level = (*level).max(Some(l));
        if perms.contains(Permission::ControlOrgDevices) {
            grant(&mut level, Level::Control);
        } else if perms.contains(Permission::ViewOrgDevices) {
            grant(&mut level, Level::View);
        }
        // The effective owner (see `effective_owner`) is this person when
        // the placement's membership is one of their live ones, covers the
        // device's organization, and the placed owner is them.
        let placement = &device.placement;
        let owner_grant = placement.membership.as_deref().and_then(|mid| {
            grants.iter().find(|g| {
                g.membership == mid
                    && chain.contains(&g.org)
                    && placement
                        .owner
                        .as_deref()
                        .is_some_and(|o| state.canonical(o) == me)
            })
        });
        if let Some(own) = owner_grant.map(|g| g.perms) {
            if own.contains(Permission::ControlOwnDevices) {
                grant(&mut level, Level::Control);
            } else if own.contains(Permission::ViewOwnDevices) {
                grant(&mut level, Level::View);
            }
        }
        if level != Some(Level::Control)
            && let Some(share) = self.share_level(user, &device.id)
        {
            grant(&mut level, share);
        }
        level
    }

    fn share_level(&self, user: &str, device: &str) -> Option<Level> {
        let user = self.state.canonical(user);
        self.state
            .shares_of_device(device)
            .filter(|s| self.state.canonical(&s.user) == user && self.share_live(s))
            .map(|s| s.level)
            .max()
    }

    /// A share grants while not revoked, not expired by this clock reading,
    /// and the grantee's membership instance it relies on is live (M3).
    pub fn share_live(&self, s: &Share) -> bool {
        !s.revoked
            && s.expires.is_none_or(|t| self.now < t)
            && self
                .state
                .memberships()
                .get(&s.membership)
                .is_some_and(|m| self.membership_live(m))
    }

    /// Organizations `user` may see: those of its live memberships and
    /// everything below them. Never anything above (M4).
    pub fn visible_orgs(&self, user: &str) -> HashSet<&'a str> {
        let roots: Vec<&str> = self
            .state
            .grants(self.state.canonical(user))
            .iter()
            .map(|g| g.org.as_str())
            .collect();
        self.state
            .orgs()
            .keys()
            .map(String::as_str)
            .filter(|o| self.org_live(o) && roots.iter().any(|r| self.covers(r, o)))
            .collect()
    }

    /// Every device `user` may see, across all their organizations and
    /// shares, each labelled with the organization path they may see.
    ///
    /// Candidates come from the indexes (devices of organizations the user
    /// may view, devices placed with their memberships, their shares); each
    /// is then decided by [`Access::device_level`], the same function every
    /// single check uses.
    pub fn devices_of(&self, user: &str) -> Vec<VisibleDevice> {
        let state = self.state;
        let visible = self.visible_orgs(user);
        let mut candidates: BTreeMap<&str, &Device> = BTreeMap::new();
        for org in state.orgs().keys() {
            let viewable = self
                .ancestry(org)
                .and_then(|chain| chain.iter().find(|o| self.org_live(o)))
                .is_some_and(|eff| {
                    let perms = self.perms_over(user, eff);
                    visible.contains(eff.as_str())
                        && (perms.contains(Permission::ViewOrgDevices)
                            || perms.contains(Permission::ControlOrgDevices))
                });
            if viewable {
                candidates.extend(state.devices_placed_in(org).map(|d| (d.id.as_str(), d)));
            }
        }
        for m in self.memberships_of(user) {
            candidates.extend(state.devices_placed_with(&m.id).map(|d| (d.id.as_str(), d)));
        }
        for share in state.shares_of_person(user) {
            if let Some(d) = state.devices().get(&share.device) {
                candidates.insert(&d.id, d);
            }
        }
        // Devices of one organization share its path: build it once.
        let mut paths = Paths::default();
        candidates
            .into_values()
            .filter_map(|device| self.visible_device(user, device, &visible, &mut paths))
            .collect()
    }

    /// Every live device as the console sees it: control, full path.
    pub fn all_devices(&self) -> Vec<VisibleDevice> {
        let state = self.state;
        let mut out: Vec<VisibleDevice> = state
            .devices()
            .values()
            .filter(|d| !d.deleted)
            .filter_map(|d| {
                let org = self.effective_org(d)?;
                let org_path = self
                    .ancestry(org)?
                    .iter()
                    .rev()
                    .filter_map(|o| state.orgs().get(o).map(|o| o.name.clone()))
                    .collect();
                Some(VisibleDevice {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    level: Level::Control,
                    org_path,
                    owned: false,
                    template: template_of(state, d),
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// One device as `user` sees it, if they may (see [`Access::devices_of`]).
    pub fn device_for(&self, user: &str, device: &Device) -> Option<VisibleDevice> {
        let visible = self.visible_orgs(user);
        self.visible_device(user, device, &visible, &mut Paths::default())
    }

    fn visible_device(
        &self,
        user: &str,
        device: &Device,
        visible: &HashSet<&'a str>,
        paths: &mut Paths<'a>,
    ) -> Option<VisibleDevice> {
        let state = self.state;
        let level = self.device_level(user, device)?;
        let me = state.canonical(user);
        let org_path = match self.effective_org(device) {
            Some(org) => paths
                .entry(org)
                .or_insert_with(|| {
                    self.ancestry(org)
                        .unwrap_or_default()
                        .iter()
                        .rev()
                        .filter(|o| visible.contains(o.as_str()))
                        .filter_map(|o| state.orgs().get(o).map(|o| o.name.clone()))
                        .collect()
                })
                .clone(),
            None => Vec::new(),
        };
        let owned = device
            .placement
            .owner
            .as_deref()
            .is_some_and(|o| state.canonical(o) == me)
            && self
                .effective_owner(device)
                .is_some_and(|m| state.canonical(&m.user) == me);
        Some(VisibleDevice {
            id: device.id.clone(),
            name: device.name.clone(),
            level,
            org_path,
            owned,
            template: template_of(state, device),
        })
    }

    /// Ids of live devices that would be ownerless after `membership` went.
    pub fn devices_owned_through(&self, membership: &str) -> Vec<Id> {
        self.state
            .devices_placed_with(membership)
            .filter(|d| !d.deleted)
            .filter(|d| self.effective_owner(d).is_some_and(|m| m.id == membership))
            .map(|d| d.id.clone())
            .collect()
    }
}
