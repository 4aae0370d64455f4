//! The tenant's state as plain Rust values with the merge rules of DESIGN §3
//! applied (see [`read`](super::read) for how each rule is read), and the
//! indexes that make access checks and device listings fast.
//!
//! Entities change only through [`TenantState::put`] and
//! [`TenantState::remove`], which keep the indexes in step; the
//! [`Materialized`](super::materialized::Materialized) view calls them for
//! exactly the entities a change touched. Nothing here writes the document
//! (M6).

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use super::perms::PermSet;
use super::schema::SCHEMA_VERSION;
use super::template::Template;

pub use super::entities::{
    AuditEntry, Device, Entity, Id, Kind, Level, Membership, Org, Placement, Role, Share, User,
    Writes,
};

/// Where an organization sits in the tree, derived from every org.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrgPlace {
    /// The org and its ancestors, nearest first.
    pub chain: Vec<Id>,
    /// Neither it nor any ancestor is deleted.
    pub live: bool,
    /// The nearest live org of the chain: where a device placed here is.
    pub effective: Option<Id>,
}

/// A person's live membership and what its role grants there.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub membership: Id,
    pub org: Id,
    pub perms: PermSet,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Index {
    /// Users by normalized email: the first id is the person's canonical id.
    users_by_email: HashMap<String, BTreeSet<Id>>,
    /// Keyed by the user id the membership names (alias or canonical).
    memberships_by_user: HashMap<Id, BTreeSet<Id>>,
    devices_by_org: HashMap<Id, BTreeSet<Id>>,
    devices_by_membership: HashMap<Id, BTreeSet<Id>>,
    /// Unrevoked shares only.
    shares_by_device: HashMap<Id, BTreeSet<Id>>,
    shares_by_user: HashMap<Id, BTreeSet<Id>>,
    /// Absent for an org with an unknown ancestor or in a cycle.
    org_places: HashMap<Id, OrgPlace>,
    /// Every known user id → the canonical id of its person.
    canonical: HashMap<Id, Id>,
    /// Canonical person → live memberships with their permissions.
    grants: HashMap<Id, Vec<Grant>>,
    /// Persons (by any id) whose grants must be recomputed by `finish`.
    stale: BTreeSet<Id>,
    /// An org or role changed: every person's grants are recomputed.
    stale_all: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantState {
    pub schema: u64,
    pub tenant_id: String,
    orgs: BTreeMap<Id, Org>,
    users: BTreeMap<Id, User>,
    memberships: BTreeMap<Id, Membership>,
    roles: BTreeMap<Id, Role>,
    /// Hashed: looked up on every access check.
    devices: HashMap<Id, Device>,
    shares: BTreeMap<Id, Share>,
    templates: BTreeMap<Id, Template>,
    index: Index,
}

/// Adds or removes `id` under `key` in a one-to-many index, dropping empty
/// sets so that equal states have equal indexes.
fn link(index: &mut HashMap<Id, BTreeSet<Id>>, key: Option<&str>, id: &str, present: bool) {
    let Some(key) = key else { return };
    if present {
        index
            .entry(key.to_owned())
            .or_default()
            .insert(id.to_owned());
    } else if let Some(set) = index.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

impl TenantState {
    pub fn orgs(&self) -> &BTreeMap<Id, Org> {
        &self.orgs
    }
    pub fn users(&self) -> &BTreeMap<Id, User> {
        &self.users
    }
    pub fn memberships(&self) -> &BTreeMap<Id, Membership> {
        &self.memberships
    }
    pub fn roles(&self) -> &BTreeMap<Id, Role> {
        &self.roles
    }
    pub fn devices(&self) -> &HashMap<Id, Device> {
        &self.devices
    }
    pub fn shares(&self) -> &BTreeMap<Id, Share> {
        &self.shares
    }
    pub fn templates(&self) -> &BTreeMap<Id, Template> {
        &self.templates
    }

    /// Stores `entity`, replacing the one with its id, and updates the
    /// indexes ([`TenantState::finish`] completes the per-person ones).
    pub(crate) fn put(&mut self, entity: Entity) {
        match entity {
            Entity::Org(org) => {
                self.orgs.insert(org.id.clone(), org);
                self.place_orgs();
            }
            Entity::User(user) => {
                self.remove(Kind::User, &user.id.clone());
                link(
                    &mut self.index.users_by_email,
                    Some(&user.email),
                    &user.id,
                    true,
                );
                let email = user.email.clone();
                self.users.insert(user.id.clone(), user);
                self.recanonicalize(&email);
            }
            Entity::Membership(m) => {
                self.remove(Kind::Membership, &m.id.clone());
                link(
                    &mut self.index.memberships_by_user,
                    Some(&m.user),
                    &m.id,
                    true,
                );
                self.index.stale.insert(m.user.clone());
                self.memberships.insert(m.id.clone(), m);
            }
            Entity::Role(role) => {
                self.roles.insert(role.id.clone(), role);
                self.index.stale_all = true;
            }
            Entity::Device(d) => {
                self.remove(Kind::Device, &d.id.clone());
                let p = &d.placement;
                link(&mut self.index.devices_by_org, Some(&p.org), &d.id, true);
                let m = p.membership.as_deref();
                link(&mut self.index.devices_by_membership, m, &d.id, true);
                self.devices.insert(d.id.clone(), d);
            }
            Entity::Share(s) => {
                self.remove(Kind::Share, &s.id.clone());
                // Revocation is final: revoked shares never grant again.
                let unrevoked = !s.revoked;
                link(
                    &mut self.index.shares_by_device,
                    Some(&s.device),
                    &s.id,
                    unrevoked,
                );
                link(&mut self.index.shares_by_user, Some(&s.user), &s.id, true);
                self.shares.insert(s.id.clone(), s);
            }
            Entity::Template(t) => {
                self.templates.insert(t.id.clone(), t);
            }
        }
    }

    /// Forgets the entity `id` of `kind` and its index entries.
    pub(crate) fn remove(&mut self, kind: Kind, id: &str) {
        let ix = &mut self.index;
        match kind {
            Kind::Org => {
                if self.orgs.remove(id).is_some() {
                    self.place_orgs();
                }
            }
            Kind::User => {
                if let Some(u) = self.users.remove(id) {
                    link(&mut ix.users_by_email, Some(&u.email), id, false);
                    ix.stale.insert(id.to_owned());
                    if let Some(old) = ix.canonical.remove(id) {
                        ix.stale.insert(old);
                    }
                    self.recanonicalize(&u.email);
                }
            }
            Kind::Membership => {
                if let Some(m) = self.memberships.remove(id) {
                    link(&mut ix.memberships_by_user, Some(&m.user), id, false);
                    ix.stale.insert(m.user);
                }
            }
            Kind::Role => {
                self.roles.remove(id);
                ix.stale_all = true;
            }
            Kind::Device => {
                if let Some(d) = self.devices.remove(id) {
                    let p = &d.placement;
                    link(&mut ix.devices_by_org, Some(&p.org), id, false);
                    link(
                        &mut ix.devices_by_membership,
                        p.membership.as_deref(),
                        id,
                        false,
                    );
                }
            }
            Kind::Share => {
                if let Some(s) = self.shares.remove(id) {
                    link(&mut ix.shares_by_device, Some(&s.device), id, false);
                    link(&mut ix.shares_by_user, Some(&s.user), id, false);
                }
            }
            Kind::Template => {
                self.templates.remove(id);
            }
        }
    }

    /// Recomputes every org's place in the tree (orgs are few and rarely
    /// change; a change to one can change the liveness of all below it).
    fn place_orgs(&mut self) {
        let mut places = HashMap::default();
        for id in self.orgs.keys() {
            let mut chain = vec![id.clone()];
            let mut current = &self.orgs[id];
            let complete = loop {
                let Some(parent) = &current.parent else {
                    break true;
                };
                match self.orgs.get(parent) {
                    Some(next) if !chain.contains(parent) => {
                        chain.push(parent.clone());
                        current = next;
                    }
                    _ => break false,
                }
            };
            if complete {
                let live = chain.iter().all(|o| !self.orgs[o].deleted);
                places.insert(
                    id.clone(),
                    OrgPlace {
                        chain,
                        live,
                        effective: None,
                    },
                );
            }
        }
        // The nearest live org of each chain (live: neither it nor any
        // ancestor deleted).
        let effective: Vec<(Id, Option<Id>)> = places
            .iter()
            .map(|(id, place)| {
                let eff = place
                    .chain
                    .iter()
                    .find(|o| places.get(*o).is_some_and(|p| p.live))
                    .cloned();
                (id.clone(), eff)
            })
            .collect();
        for (id, eff) in effective {
            if let Some(place) = places.get_mut(&id) {
                place.effective = eff;
            }
        }
        self.index.org_places = places;
        self.index.stale_all = true;
    }

    /// Recomputes the canonical id of every user with `email` (the lowest
    /// id), marking the persons involved for new grants.
    fn recanonicalize(&mut self, email: &str) {
        let ix = &mut self.index;
        let Some(ids) = ix.users_by_email.get(email) else {
            return;
        };
        let Some(first) = ids.first().cloned() else {
            return;
        };
        for id in ids {
            if let Some(old) = ix.canonical.insert(id.clone(), first.clone()) {
                ix.stale.insert(old);
            }
            ix.stale.insert(id.clone());
        }
    }

    /// Recomputes the derived per-person grants after a batch of `put`s and
    /// `remove`s. Reading and refreshing call it; until then grants may lag.
    pub(crate) fn finish(&mut self) {
        let persons: BTreeSet<Id> = if std::mem::take(&mut self.index.stale_all) {
            self.index.grants.clear();
            self.index.stale.clear();
            self.memberships
                .values()
                .map(|m| self.canonical(&m.user).to_owned())
                .collect()
        } else {
            let stale = std::mem::take(&mut self.index.stale);
            let mut persons = BTreeSet::new();
            for id in stale {
                // An id that stopped being canonical keeps no grants.
                self.index.grants.remove(&id);
                persons.insert(self.canonical(&id).to_owned());
            }
            persons
        };
        for person in persons {
            let grants = self.compute_grants(&person);
            if grants.is_empty() {
                self.index.grants.remove(&person);
            } else {
                self.index.grants.insert(person, grants);
            }
        }
    }

    fn compute_grants(&self, person: &str) -> Vec<Grant> {
        self.memberships_of_person(person)
            .filter(|m| !m.removed && self.org_place(&m.org).is_some_and(|p| p.live))
            .map(|m| {
                let chain = &self.index.org_places[&m.org].chain;
                let perms = match self.roles.get(&m.role) {
                    Some(role) if !role.deleted && chain.contains(&role.org) => role.perms,
                    _ => PermSet::EMPTY,
                };
                Grant {
                    membership: m.id.clone(),
                    org: m.org.clone(),
                    perms,
                }
            })
            .collect()
    }

    /// The live memberships of the person `person` (a canonical id) and
    /// what each grants.
    pub fn grants(&self, person: &str) -> &[Grant] {
        self.index.grants.get(person).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn org_place(&self, org: &str) -> Option<&OrgPlace> {
        self.index.org_places.get(org)
    }

    /// Every user id of the person `user` is (itself when unknown).
    pub fn person_ids(&self, user: &str) -> Vec<String> {
        self.users
            .get(user)
            .and_then(|u| self.index.users_by_email.get(&u.email))
            .map_or_else(
                || vec![user.to_owned()],
                |ids| ids.iter().cloned().collect(),
            )
    }

    /// The canonical id of `user`: users created concurrently with one email
    /// are one person, and the lowest id names them.
    pub fn canonical<'a>(&'a self, user: &'a str) -> &'a str {
        self.index.canonical.get(user).map_or(user, String::as_str)
    }

    /// The canonical user with this normalized email, if any.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        let first = self.index.users_by_email.get(email)?.first()?;
        self.users.get(first)
    }

    /// Memberships (live or not) naming any id of the person `user`.
    pub fn memberships_of_person<'s>(
        &'s self,
        user: &str,
    ) -> impl Iterator<Item = &'s Membership> + use<'s> {
        self.by_person(&self.index.memberships_by_user, user)
            .filter_map(move |m| self.memberships.get(m))
    }

    /// Shares (of any state) granted to any id of the person `user`.
    pub fn shares_of_person<'s>(&'s self, user: &str) -> impl Iterator<Item = &'s Share> + use<'s> {
        self.by_person(&self.index.shares_by_user, user)
            .filter_map(move |s| self.shares.get(s))
    }

    /// What a by-user `index` holds for every id of the person `user`.
    fn by_person<'s>(
        &'s self,
        index: &'s HashMap<Id, BTreeSet<Id>>,
        user: &str,
    ) -> impl Iterator<Item = &'s Id> + use<'s> {
        let ids = self
            .users
            .get(user)
            .and_then(|u| self.index.users_by_email.get(&u.email));
        let alone = if ids.is_none() { index.get(user) } else { None };
        ids.into_iter()
            .flatten()
            .filter_map(move |id| index.get(id))
            .chain(alone)
            .flatten()
    }

    /// Unrevoked shares of `device` (expired ones included).
    pub fn shares_of_device<'a>(&'a self, device: &str) -> impl Iterator<Item = &'a Share> + 'a {
        self.index
            .shares_by_device
            .get(device)
            .into_iter()
            .flatten()
            .filter_map(|s| self.shares.get(s))
    }

    /// Devices whose placement names `org` (deleted ones included).
    pub fn devices_placed_in<'a>(&'a self, org: &str) -> impl Iterator<Item = &'a Device> + 'a {
        self.index
            .devices_by_org
            .get(org)
            .into_iter()
            .flatten()
            .filter_map(|d| self.devices.get(d))
    }

    /// Devices whose placement relies on `membership` for its owner.
    pub fn devices_placed_with<'a>(
        &'a self,
        membership: &str,
    ) -> impl Iterator<Item = &'a Device> + 'a {
        self.index
            .devices_by_membership
            .get(membership)
            .into_iter()
            .flatten()
            .filter_map(|d| self.devices.get(d))
    }

    /// True when this replica understands the document's schema.
    pub fn writable(&self) -> bool {
        self.schema <= SCHEMA_VERSION
    }
}
