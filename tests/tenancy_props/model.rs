//! The reference model: DESIGN §3's merge and access rules written out
//! plainly, from the harness's own record of which writes were concurrent
//! (vector clocks), without reading the implementation's merged state.
//!
//! The one thing the spec leaves open is *which* of several concurrent
//! values of a last-writer-wins register wins (a membership's role, a
//! device's placement): it must be one of the concurrent maximal writes and
//! the same everywhere. For those registers the model checks that the
//! implementation's choice is among its candidates and then uses that choice.

use std::collections::BTreeMap;

use hearth::tenancy::state::{Level, Placement};
use hearth::tenancy::{PermSet, Permission};

pub type Id = String;
pub type Clock = Vec<u64>;

/// `a` happened before `b`.
pub fn before(a: &Clock, b: &Clock) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a != b
}

#[derive(Debug, Clone)]
pub struct Write<T> {
    pub clock: Clock,
    pub value: T,
}

/// The writes no other write happened after: the concurrent survivors.
pub fn maximal<T>(writes: &[Write<T>]) -> Vec<&T> {
    writes
        .iter()
        .filter(|w| !writes.iter().any(|o| before(&w.clock, &o.clock)))
        .map(|w| &w.value)
        .collect()
}

fn write<T>(clock: &Clock, value: T) -> Write<T> {
    Write {
        clock: clock.clone(),
        value,
    }
}

/// One accepted operation's effect, as the harness recorded it.
#[derive(Debug, Clone)]
pub enum Effect {
    CreateUser {
        id: Id,
        email: String,
    },
    CreateMembership {
        id: Id,
        user: Id,
        org: Id,
        role: Id,
    },
    RemoveMembership(Id),
    SetRole {
        membership: Id,
        role: Id,
    },
    CreateOrg {
        id: Id,
        parent: Option<Id>,
    },
    DeleteOrg(Id),
    CreateRole {
        id: Id,
        org: Id,
        perms: PermSet,
    },
    SetPerms {
        role: Id,
        perms: PermSet,
    },
    CreateDevice {
        id: Id,
        placement: Placement,
    },
    SetPlacement {
        device: Id,
        placement: Placement,
    },
    CreateShare {
        id: Id,
        device: Id,
        user: Id,
        level: Level,
        expires: Option<i64>,
        membership: Id,
    },
    RevokeShare(Id),
    DeleteDevice(Id),
    DeleteRole(Id),
    /// A template was created: nothing to do with access, but the harness
    /// remembers it so later steps can edit it.
    CreateTemplate(Id),
    SetEmail {
        user: Id,
        email: String,
    },
}

struct Member {
    user: Id,
    org: Id,
    roles: Vec<Write<Id>>,
    removed: bool,
}

struct Share {
    device: Id,
    user: Id,
    level: Level,
    expires: Option<i64>,
    membership: Id,
    revoked: bool,
}

#[derive(Default)]
pub struct Model {
    orgs: BTreeMap<Id, (Option<Id>, bool)>,
    emails: BTreeMap<Id, Vec<Write<String>>>,
    deleted_devices: std::collections::BTreeSet<Id>,
    deleted_roles: std::collections::BTreeSet<Id>,
    memberships: BTreeMap<Id, Member>,
    roles: BTreeMap<Id, (Id, Vec<Write<PermSet>>)>,
    placements: BTreeMap<Id, Vec<Write<Placement>>>,
    shares: BTreeMap<Id, Share>,
    /// Resolved registers, filled by `resolve`.
    role_of: BTreeMap<Id, Id>,
    placement_of: BTreeMap<Id, Placement>,
    email_of: BTreeMap<Id, String>,
}

impl Model {
    pub fn apply(&mut self, clock: &Clock, effect: &Effect) {
        match effect.clone() {
            Effect::CreateUser { id, email } => {
                self.emails.insert(id, vec![write(clock, email)]);
            }
            Effect::SetEmail { user, email } => self
                .emails
                .get_mut(&user)
                .unwrap()
                .push(write(clock, email)),
            Effect::DeleteDevice(id) => {
                self.deleted_devices.insert(id);
            }
            Effect::DeleteRole(id) => {
                self.deleted_roles.insert(id);
            }
            Effect::CreateTemplate(_) => {}
            Effect::CreateMembership {
                id,
                user,
                org,
                role,
            } => {
                self.memberships.insert(
                    id,
                    Member {
                        user,
                        org,
                        roles: vec![write(clock, role)],
                        removed: false,
                    },
                );
            }
            Effect::RemoveMembership(id) => self.memberships.get_mut(&id).unwrap().removed = true,
            Effect::SetRole { membership, role } => self
                .memberships
                .get_mut(&membership)
                .unwrap()
                .roles
                .push(write(clock, role)),
            Effect::CreateOrg { id, parent } => {
                self.orgs.insert(id, (parent, false));
            }
            Effect::DeleteOrg(id) => self.orgs.get_mut(&id).unwrap().1 = true,
            Effect::CreateRole { id, org, perms } => {
                self.roles.insert(id, (org, vec![write(clock, perms)]));
            }
            Effect::SetPerms { role, perms } => self
                .roles
                .get_mut(&role)
                .unwrap()
                .1
                .push(write(clock, perms)),
            Effect::CreateDevice { id, placement } => {
                self.placements.insert(id, vec![write(clock, placement)]);
            }
            Effect::SetPlacement { device, placement } => self
                .placements
                .get_mut(&device)
                .unwrap()
                .push(write(clock, placement)),
            Effect::CreateShare {
                id,
                device,
                user,
                level,
                expires,
                membership,
            } => {
                self.shares.insert(
                    id,
                    Share {
                        device,
                        user,
                        level,
                        expires,
                        membership,
                        revoked: false,
                    },
                );
            }
            Effect::RevokeShare(id) => self.shares.get_mut(&id).unwrap().revoked = true,
        }
    }

    /// Settles the last-writer-wins registers, checking the implementation's
    /// choice is one of the concurrent survivors.
    pub fn resolve(
        &mut self,
        impl_role: impl Fn(&str) -> Id,
        impl_placement: impl Fn(&str) -> Placement,
        impl_email: impl Fn(&str) -> String,
    ) {
        for (id, writes) in &self.emails {
            let candidates = maximal(writes);
            let chosen = impl_email(id);
            assert!(
                candidates.contains(&&chosen),
                "user {id}: email {chosen} not among {candidates:?}"
            );
            self.email_of.insert(id.clone(), chosen);
        }
        for (id, member) in &self.memberships {
            let candidates = maximal(&member.roles);
            let chosen = impl_role(id);
            assert!(
                candidates.contains(&&chosen),
                "membership {id}: role {chosen} not among {candidates:?}"
            );
            self.role_of.insert(id.clone(), chosen);
        }
        for (id, writes) in &self.placements {
            let candidates = maximal(writes);
            let chosen = impl_placement(id);
            assert!(
                candidates.contains(&&chosen),
                "device {id}: placement {chosen:?} not among {candidates:?}"
            );
            self.placement_of.insert(id.clone(), chosen);
        }
    }

    pub fn devices(&self) -> impl Iterator<Item = &Id> {
        self.placements.keys()
    }

    pub fn users(&self) -> impl Iterator<Item = &Id> {
        self.emails.keys()
    }

    pub fn orgs(&self) -> impl Iterator<Item = &Id> {
        self.orgs.keys()
    }

    /// Same email means same person; the lowest id stands for them.
    pub fn person(&self, user: &str) -> Id {
        let email = &self.email_of[user];
        self.email_of
            .iter()
            .filter(|(_, e)| *e == email)
            .map(|(id, _)| id.clone())
            .min()
            .unwrap()
    }

    /// `org` and its ancestors, nearest first.
    fn chain(&self, org: &str) -> Vec<Id> {
        let mut chain = vec![org.to_owned()];
        while let Some((Some(parent), _)) = self.orgs.get(chain.last().unwrap()) {
            chain.push(parent.clone());
        }
        chain
    }

    pub fn org_live(&self, org: &str) -> bool {
        self.orgs.contains_key(org)
            && self
                .chain(org)
                .iter()
                .all(|o| self.orgs.get(o).is_some_and(|(_, deleted)| !deleted))
    }

    fn member_live(&self, m: &str) -> bool {
        self.memberships
            .get(m)
            .is_some_and(|m| !m.removed && self.org_live(&m.org))
    }

    fn perms(&self, m: &str) -> PermSet {
        let org = &self.memberships[m].org;
        let role = &self.role_of[m];
        let Some((role_org, writes)) = self.roles.get(role) else {
            return PermSet::EMPTY;
        };
        if self.deleted_roles.contains(role) {
            return PermSet::EMPTY;
        }
        if !self.chain(org).contains(role_org) {
            return PermSet::EMPTY;
        }
        maximal(writes)
            .into_iter()
            .copied()
            .reduce(PermSet::intersection)
            .unwrap_or_default()
    }

    fn live_memberships_of(&self, user: &str) -> Vec<Id> {
        let person = self.person(user);
        self.memberships
            .iter()
            .filter(|(id, m)| self.person(&m.user) == person && self.member_live(id))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn effective_org(&self, device: &str) -> Option<Id> {
        self.chain(&self.placement_of[device].org)
            .into_iter()
            .find(|o| self.org_live(o))
    }

    fn effective_owner_membership(&self, device: &str) -> Option<Id> {
        let p = &self.placement_of[device];
        let m = p.membership.as_ref()?;
        let owner = p.owner.as_ref()?;
        let member = self.memberships.get(m)?;
        let eff = self.effective_org(device)?;
        let covers = self.chain(&eff).contains(&member.org);
        (self.member_live(m) && self.person(&member.user) == self.person(owner) && covers)
            .then(|| m.clone())
    }

    /// The level `user` has on `device` at clock reading `now`.
    pub fn level(&self, user: &str, device: &str, now: i64) -> Option<Level> {
        if self.deleted_devices.contains(device) {
            return None;
        }
        let eff = self.effective_org(device)?;
        let mut best = None;
        for m in self.live_memberships_of(user) {
            if self.chain(&eff).contains(&self.memberships[&m].org) {
                let p = self.perms(&m);
                if p.contains(Permission::ControlOrgDevices) {
                    best = best.max(Some(Level::Control));
                } else if p.contains(Permission::ViewOrgDevices) {
                    best = best.max(Some(Level::View));
                }
            }
        }
        if let Some(m) = self.effective_owner_membership(device)
            && self.person(&self.memberships[&m].user) == self.person(user)
        {
            let p = self.perms(&m);
            if p.contains(Permission::ControlOwnDevices) {
                best = best.max(Some(Level::Control));
            } else if p.contains(Permission::ViewOwnDevices) {
                best = best.max(Some(Level::View));
            }
        }
        for share in self.shares.values() {
            if share.device == device
                && !share.revoked
                && self.person(&share.user) == self.person(user)
                && share.expires.is_none_or(|t| now < t)
                && self.member_live(&share.membership)
            {
                best = best.max(Some(share.level));
            }
        }
        best
    }

    /// Organizations `user` may see: its memberships' and everything below.
    pub fn visible_orgs(&self, user: &str) -> Vec<Id> {
        let roots: Vec<Id> = self
            .live_memberships_of(user)
            .iter()
            .map(|m| self.memberships[m].org.clone())
            .collect();
        self.orgs
            .keys()
            .filter(|o| self.org_live(o) && self.chain(o).iter().any(|a| roots.contains(a)))
            .cloned()
            .collect()
    }
}
