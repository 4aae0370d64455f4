//! The tenant's state as plain Rust values, read from the document with the
//! merge rules of DESIGN §3 applied at read time:
//! - tombstones (`deleted`, `removed`, `revoked`) are true if *any*
//!   concurrent value is true: removal wins;
//! - a role's permissions are the intersection of its concurrent values;
//! - a device's placement is the one value Automerge picks as the winner
//!   (deterministic on every replica); the others are kept as losers so the
//!   audit log can say who lost to whom;
//! - users with the same normalized email are one person: the lowest id is
//!   canonical, the others are its aliases.
//!
//! Reading never writes: verdicts derived here are not stored (M6).

use std::collections::{BTreeMap, HashMap};

use automerge::{ObjId, ReadDoc, Value};
use serde::{Deserialize, Serialize};

use super::perms::PermSet;
use super::schema::{self, SCHEMA_VERSION};

pub type Id = String;

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: Id,
    pub name: String,
    pub parent: Option<Id>,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Id,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub id: Id,
    pub user: Id,
    pub org: Id,
    pub role: Id,
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: Id,
    pub name: String,
    pub org: Id,
    pub perms: PermSet,
    /// Concurrent edits were intersected and not yet superseded.
    pub conflicted: bool,
    pub deleted: bool,
}

/// Where a device is and who owns it: written as one value, so concurrent
/// transfers never mix field by field (M2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub org: Id,
    pub owner: Option<Id>,
    /// The owner's membership instance the ownership relies on (M3).
    pub membership: Option<Id>,
    /// The operation that wrote this placement.
    pub op: Id,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: Id,
    pub name: String,
    pub template: Option<Id>,
    pub placement: Placement,
    /// Concurrent placements that lost to `placement`.
    pub losing_placements: Vec<Placement>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    View,
    Control,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::View => "view",
            Level::Control => "control",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub id: Id,
    pub device: Id,
    pub user: Id,
    pub level: Level,
    /// Local-clock milliseconds; the share grants nothing from then on.
    pub expires: Option<i64>,
    pub membership: Id,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub op: Id,
    pub kind: String,
    /// The acting user's id, or `console` for the hub's admin socket.
    pub by: Id,
    pub replica: String,
    /// The acting replica's clock, milliseconds; not comparable across replicas.
    pub at: i64,
    /// The entity the operation is about (device, membership, org, role, share).
    pub subject: Id,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct TenantState {
    pub schema: u64,
    pub tenant_id: String,
    pub orgs: BTreeMap<Id, Org>,
    pub users: BTreeMap<Id, User>,
    pub memberships: BTreeMap<Id, Membership>,
    pub roles: BTreeMap<Id, Role>,
    pub devices: BTreeMap<Id, Device>,
    pub shares: BTreeMap<Id, Share>,
    pub audit: Vec<AuditEntry>,
    /// Alias user id → canonical user id, for users merged by email.
    pub aliases: HashMap<Id, Id>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a tenant document: {0}")]
    Malformed(String),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

impl TenantState {
    /// Reads the whole state from `doc`.
    ///
    /// # Errors
    /// [`ReadError`] when the document is not a tenant document.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, ReadError> {
        let r = Reader { doc };
        let schema = r
            .doc
            .get(automerge::ROOT, "schema")?
            .and_then(|(v, _)| v.as_u64())
            .ok_or_else(|| ReadError::Malformed("no schema version".into()))?;
        let mut state = TenantState {
            schema,
            tenant_id: r.string(&automerge::ROOT, "tenant")?,
            ..Default::default()
        };
        for (id, obj) in r.entries(schema::ORGS)? {
            let parent = r.string(&obj, "parent")?;
            state.orgs.insert(
                id.clone(),
                Org {
                    name: r.string(&obj, "name")?,
                    parent: (!parent.is_empty()).then_some(parent),
                    deleted: r.any_true(&obj, "deleted")?,
                    id,
                },
            );
        }
        for (id, obj) in r.entries(schema::USERS)? {
            let email = r.string(&obj, "email")?;
            state.users.insert(id.clone(), User { id, email });
        }
        for (id, obj) in r.entries(schema::MEMBERSHIPS)? {
            state.memberships.insert(
                id.clone(),
                Membership {
                    user: r.string(&obj, "user")?,
                    org: r.string(&obj, "org")?,
                    role: r.string(&obj, "role")?,
                    removed: r.any_true(&obj, "removed")?,
                    id,
                },
            );
        }
        for (id, obj) in r.entries(schema::ROLES)? {
            let values = r.all_strings(&obj, "perms")?;
            let perms = values
                .iter()
                .map(|v| PermSet::from_text(v))
                .reduce(PermSet::intersection)
                .unwrap_or(PermSet::EMPTY);
            state.roles.insert(
                id.clone(),
                Role {
                    name: r.string(&obj, "name")?,
                    org: r.string(&obj, "org")?,
                    perms,
                    conflicted: values.len() > 1,
                    deleted: r.any_true(&obj, "deleted")?,
                    id,
                },
            );
        }
        for (id, obj) in r.entries(schema::DEVICES)? {
            let mut placements = r
                .all_strings(&obj, "placement")?
                .into_iter()
                .map(|text| serde_json::from_str::<Placement>(&text))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ReadError::Malformed(format!("device {id}: placement: {e}")))?;
            let winner = r.string(&obj, "placement")?;
            let winner: Placement = serde_json::from_str(&winner)
                .map_err(|e| ReadError::Malformed(format!("device {id}: placement: {e}")))?;
            placements.retain(|p| *p != winner);
            let template = r.string(&obj, "template")?;
            state.devices.insert(
                id.clone(),
                Device {
                    name: r.string(&obj, "name")?,
                    template: (!template.is_empty()).then_some(template),
                    placement: winner,
                    losing_placements: placements,
                    deleted: r.any_true(&obj, "deleted")?,
                    id,
                },
            );
        }
        for (id, obj) in r.entries(schema::SHARES)? {
            let level = match r.string(&obj, "level")?.as_str() {
                "control" => Level::Control,
                _ => Level::View,
            };
            state.shares.insert(
                id.clone(),
                Share {
                    device: r.string(&obj, "device")?,
                    user: r.string(&obj, "user")?,
                    level,
                    expires: r.int(&obj, "expires")?,
                    membership: r.string(&obj, "membership")?,
                    revoked: r.any_true(&obj, "revoked")?,
                    id,
                },
            );
        }
        let audit = schema::object(r.doc, schema::AUDIT)?;
        for index in 0..r.doc.length(&audit) {
            let Some((Value::Object(_), entry)) = r.doc.get(&audit, index)? else {
                continue;
            };
            state.audit.push(AuditEntry {
                op: r.string(&entry, "op")?,
                kind: r.string(&entry, "kind")?,
                by: r.string(&entry, "by")?,
                replica: r.string(&entry, "replica")?,
                at: r.int(&entry, "at")?.unwrap_or(0),
                subject: r.string(&entry, "subject")?,
                detail: serde_json::from_str(&r.string(&entry, "detail")?)
                    .unwrap_or(serde_json::Value::Null),
            });
        }
        state.aliases = aliases(&state.users);
        Ok(state)
    }

    /// The canonical id of `user` (itself unless it is an alias).
    pub fn canonical<'a>(&'a self, user: &'a str) -> &'a str {
        self.aliases.get(user).map_or(user, String::as_str)
    }

    /// The canonical user with this normalized email, if any.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.email == email && self.canonical(&u.id) == u.id)
    }

    /// True when this replica understands the document's schema.
    pub fn writable(&self) -> bool {
        self.schema <= SCHEMA_VERSION
    }
}

/// Users created concurrently with one email are one person: lowest id wins.
fn aliases(users: &BTreeMap<Id, User>) -> HashMap<Id, Id> {
    let mut first_by_email: HashMap<&str, &str> = HashMap::new();
    let mut aliases = HashMap::new();
    // BTreeMap iterates in id order, so the first seen is the lowest id.
    for user in users.values() {
        match first_by_email.get(user.email.as_str()) {
            Some(canonical) => {
                aliases.insert(user.id.clone(), (*canonical).to_owned());
            }
            None => {
                first_by_email.insert(&user.email, &user.id);
            }
        }
    }
    aliases
}

struct Reader<'a, D> {
    doc: &'a D,
}

impl<D: ReadDoc> Reader<'_, D> {
    fn entries(&self, map: &str) -> Result<Vec<(Id, ObjId)>, ReadError> {
        let obj = schema::object(self.doc, map)?;
        let mut out = Vec::new();
        for key in self.doc.keys(&obj) {
            if let Some((Value::Object(_), id)) = self.doc.get(&obj, key.as_str())? {
                out.push((key, id));
            }
        }
        Ok(out)
    }

    fn string(&self, obj: &ObjId, key: &str) -> Result<String, ReadError> {
        Ok(self
            .doc
            .get(obj, key)?
            .and_then(|(v, _)| v.as_str().map(str::to_owned))
            .unwrap_or_default())
    }

    fn all_strings(&self, obj: &ObjId, key: &str) -> Result<Vec<String>, ReadError> {
        Ok(self
            .doc
            .get_all(obj, key)?
            .into_iter()
            .filter_map(|(v, _)| v.as_str().map(str::to_owned))
            .collect())
    }

    fn int(&self, obj: &ObjId, key: &str) -> Result<Option<i64>, ReadError> {
        Ok(self.doc.get(obj, key)?.and_then(|(v, _)| v.as_i64()))
    }

    fn any_true(&self, obj: &ObjId, key: &str) -> Result<bool, ReadError> {
        Ok(self
            .doc
            .get_all(obj, key)?
            .into_iter()
            .any(|(v, _)| v.as_bool() == Some(true)))
    }
}
