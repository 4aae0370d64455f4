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

use hearth::tenancy::TenantState;
use hearth::tenancy::state::{Level, Placement};
use hearth::tenancy::{PermSet, Permission};

pub type Id = String;
pub type Clock = Vec<u64>;

/// `a` happened before `b`.
pub fn before(a: &Clock, b: &Clock) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a != b
}

/// One write of a register: when (the writer's vector clock), by which
/// operation (its audit op), and what.
#[derive(Debug, Clone)]
pub struct Write<T> {
    pub clock: Clock,
    pub op: Id,
    pub value: T,
}

/// The writes no other write happened after: the concurrent survivors.
pub fn maximal<T>(writes: &[Write<T>]) -> Vec<&Write<T>> {
    writes
        .iter()
        .filter(|w| !writes.iter().any(|o| before(&w.clock, &o.clock)))
        .collect()
}

fn at<T>(clock: &Clock, op: &str, value: T) -> Write<T> {
    Write {
        clock: clock.clone(),
        op: op.to_owned(),
        value,
    }
}

fn values<T>(writes: &[&Write<T>]) -> Vec<(Id, T)>
where
    T: Clone,
{
    writes
        .iter()
        .map(|w| (w.op.clone(), w.value.clone()))
        .collect()
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
    Rename {
        what: Named,
        id: Id,
        name: String,
    },
}

fn name_register(what: Named) -> &'static str {
    match what {
        Named::Device => "device_name",
        Named::Org => "org_name",
    }
}

/// Checks the implementation's choice for one register (`winner`: the op it
/// says won, `None` for a register only its creation wrote) and returns
/// how it settled.
fn settle<T: PartialEq + std::fmt::Debug + Clone>(
    register: &str,
    id: &str,
    writes: &[Write<T>],
    winner: Option<&str>,
    shown: &T,
) -> Settled {
    let survivors = maximal(writes);
    let winning = match winner {
        Some(op) => survivors.iter().find(|w| w.op == op).unwrap_or_else(|| {
            panic!(
                "{register} of {id}: the winner {op} is not among the concurrent survivors {:?}",
                values(&survivors)
            )
        }),
        None => {
            assert!(
                writes.len() == 1,
                "{register} of {id}: written {} times, but no op is recorded as the winner",
                writes.len()
            );
            &writes[0]
        }
    };
    assert!(
        &winning.value == shown,
        "{register} of {id}: shows {shown:?}, but its winner {} wrote {:?}",
        winning.op,
        winning.value
    );
    Settled {
        winner: winning.op.clone(),
        survivors: survivors.iter().map(|w| w.op.clone()).collect(),
    }
}

/// Entities with a last-writer-wins name that an operation can rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Named {
    Device,
    Org,
}

/// What the audit log must say of an operation (M5), derived from the
/// concurrent writes alone. `Merged` and `Inert` carry no text here: the
/// harness compares their kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Effective,
    LostTo(Id),
    SupersededBy(Id),
    Merged,
    Inert,
}

/// How one register settled: the winning write's op, given by the
/// implementation and checked to be a concurrent survivor.
#[derive(Debug, Clone, Default)]
struct Settled {
    winner: Id,
    survivors: Vec<Id>,
}

impl Settled {
    /// The outcome of the write by `op`: it stands, it lost a concurrent
    /// conflict to the one that stands, or something after it overwrote it.
    fn outcome(&self, op: &str) -> Expected {
        if self.winner == op {
            Expected::Effective
        } else if self.survivors.iter().any(|s| s == op) {
            Expected::LostTo(self.winner.clone())
        } else {
            Expected::SupersededBy(self.winner.clone())
        }
    }
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
    names: BTreeMap<(Named, Id), Vec<Write<String>>>,
    /// Resolved registers, filled by `resolve`.
    role_of: BTreeMap<Id, Id>,
    placement_of: BTreeMap<Id, Placement>,
    email_of: BTreeMap<Id, String>,
    /// How each register settled, by (register, entity).
    settled: BTreeMap<(&'static str, Id), Settled>,
    /// Audit op of every write, to the registers it wrote.
    wrote: BTreeMap<Id, Vec<(&'static str, Id)>>,
}

impl Model {
    /// Records `effect` of the operation `op`, done at vector clock `clock`.
    pub fn apply(&mut self, clock: &Clock, op: &str, effect: &Effect) {
        let register = match effect {
            Effect::SetEmail { user, .. } => Some(("email", user.clone())),
            Effect::SetRole { membership, .. } => Some(("role", membership.clone())),
            Effect::SetPerms { role, .. } => Some(("perms", role.clone())),
            Effect::SetPlacement { device, .. } => Some(("placement", device.clone())),
            Effect::Rename { what, id, .. } => Some((name_register(*what), id.clone())),
            _ => None,
        };
        if let Some(register) = register {
            self.wrote.entry(op.to_owned()).or_default().push(register);
        }
        match effect.clone() {
            Effect::Rename { what, id, name } => self
                .names
                .entry((what, id))
                .or_default()
                .push(at(clock, op, name)),
            Effect::CreateUser { id, email } => {
                self.emails.insert(id, vec![at(clock, op, email)]);
            }
            Effect::SetEmail { user, email } => self
                .emails
                .get_mut(&user)
                .unwrap()
                .push(at(clock, op, email)),
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
                        roles: vec![at(clock, op, role)],
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
                .push(at(clock, op, role)),
            Effect::CreateOrg { id, parent } => {
                // The harness founds the root as "Home" and names the rest "org".
                let name = if parent.is_none() { "Home" } else { "org" };
                self.names
                    .insert((Named::Org, id.clone()), vec![at(clock, op, name.into())]);
                self.orgs.insert(id, (parent, false));
            }
            Effect::DeleteOrg(id) => self.orgs.get_mut(&id).unwrap().1 = true,
            Effect::CreateRole { id, org, perms } => {
                self.roles.insert(id, (org, vec![at(clock, op, perms)]));
            }
            Effect::SetPerms { role, perms } => self
                .roles
                .get_mut(&role)
                .unwrap()
                .1
                .push(at(clock, op, perms)),
            Effect::CreateDevice { id, placement } => {
                self.names.insert(
                    (Named::Device, id.clone()),
                    vec![at(clock, op, "device".into())],
                );
                self.placements.insert(id, vec![at(clock, op, placement)]);
            }
            Effect::SetPlacement { device, placement } => self
                .placements
                .get_mut(&device)
                .unwrap()
                .push(at(clock, op, placement)),
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

    /// Settles the last-writer-wins registers: the implementation's
    /// winner must be one of the concurrent survivors *and* show that
    /// write's value (a winner whose op and value came from different writes
    /// is a lie in the audit log).
    pub fn resolve(&mut self, state: &TenantState) {
        let mut settled = BTreeMap::new();
        for (id, writes) in &self.emails {
            let u = &state.users()[id];
            let s = settle(
                "email",
                id,
                writes,
                u.email_writes.winner.as_deref(),
                &u.email,
            );
            settled.insert(("email", id.clone()), s);
            self.email_of.insert(id.clone(), u.email.clone());
        }
        for (id, member) in &self.memberships {
            let m = &state.memberships()[id];
            let s = settle(
                "role",
                id,
                &member.roles,
                m.role_writes.winner.as_deref(),
                &m.role,
            );
            settled.insert(("role", id.clone()), s);
            self.role_of.insert(id.clone(), m.role.clone());
        }
        for (id, writes) in &self.placements {
            let placement = &state.devices()[id].placement;
            let winner = writes
                .iter()
                .find(|w| &w.value == placement)
                .map_or("no recorded write", |w| w.op.as_str());
            let s = settle("placement", id, writes, Some(winner), placement);
            settled.insert(("placement", id.clone()), s);
            self.placement_of.insert(id.clone(), placement.clone());
        }
        for ((what, id), writes) in &self.names {
            let (name, written) = match what {
                Named::Device => {
                    let d = &state.devices()[id];
                    (&d.name, &d.name_writes)
                }
                Named::Org => {
                    let o = &state.orgs()[id];
                    (&o.name, &o.name_writes)
                }
            };
            let register = name_register(*what);
            let s = settle(register, id, writes, written.winner.as_deref(), name);
            settled.insert((register, id.clone()), s);
        }
        for (id, (_, writes)) in &self.roles {
            let survivors = maximal(writes).iter().map(|w| w.op.clone()).collect();
            settled.insert(
                ("perms", id.clone()),
                Settled {
                    winner: String::new(),
                    survivors,
                },
            );
        }
        self.settled = settled;
    }

    /// What the audit log must say of operation `op` (of `kind`, on
    /// `subject`), or `None` for kinds whose outcome is not about a register.
    pub fn expected(&self, op: &str, kind: &str, subject: &str) -> Option<Expected> {
        let register = match kind {
            "rename_device" => name_register(Named::Device),
            "rename_org" => name_register(Named::Org),
            "change_email" => "email",
            "change_role" => "role",
            "edit_role" => "perms",
            "move_device" | "transfer" => "placement",
            _ => return None,
        };
        assert!(
            self.wrote
                .get(op)
                .is_some_and(|w| w.contains(&(register, subject.to_owned()))),
            "the log has {kind} {op} on {subject}, which the harness never saw write it"
        );
        let settled = &self.settled[&(register, subject.to_owned())];
        Some(match kind {
            "change_role" if self.memberships[subject].removed => Expected::Inert,
            "edit_role" if self.deleted_roles.contains(subject) => Expected::Inert,
            "edit_role" => {
                if !settled.survivors.iter().any(|s| s == op) {
                    let by = settled.survivors.iter().min().cloned().unwrap_or_default();
                    Expected::SupersededBy(by)
                } else if settled.survivors.len() > 1 {
                    Expected::Merged
                } else {
                    Expected::Effective
                }
            }
            _ => settled.outcome(op),
        })
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
            .map(|w| w.value)
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
