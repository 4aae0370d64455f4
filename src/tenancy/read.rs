//! Reading entities out of the tenant document, with the merge rules of
//! DESIGN §3 applied at read time:
//! - tombstones (`deleted`, `removed`, `revoked`) are true if *any*
//!   concurrent value is true: removal wins;
//! - a role's permissions are the intersection of its concurrent values;
//! - a device's placement (and a template's definition) is the one value
//!   Automerge picks as the winner, deterministic on every replica; losing
//!   placements are kept so the audit log can say who lost to whom;
//! - users with the same normalized email are one person (the state's
//!   index resolves them to the lowest id).
//!
//! Reading never writes: verdicts derived here are not stored (M6).

use automerge::{ObjId, ReadDoc, Value, ValueRef};

use super::perms::PermSet;
use super::schema;
use super::state::{
    AuditEntry, Device, Entity, Kind, Level, Membership, Org, Placement, Role, Share, TenantState,
    User,
};
use super::template::{Definition, Template};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a tenant document: {0}")]
    Malformed(String),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Org,
        Kind::User,
        Kind::Membership,
        Kind::Role,
        Kind::Device,
        Kind::Share,
        Kind::Template,
    ];

    /// The top-level map holding entities of this kind.
    pub fn map(self) -> &'static str {
        match self {
            Kind::Org => schema::ORGS,
            Kind::User => schema::USERS,
            Kind::Membership => schema::MEMBERSHIPS,
            Kind::Role => schema::ROLES,
            Kind::Device => schema::DEVICES,
            Kind::Share => schema::SHARES,
            Kind::Template => schema::TEMPLATES,
        }
    }
}

impl TenantState {
    /// Reads the whole state from `doc`, from scratch.
    ///
    /// # Errors
    /// [`ReadError`] when the document is not a tenant document.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Self, ReadError> {
        let mut state = TenantState::default();
        read_header(doc, &mut state)?;
        for kind in Kind::ALL {
            let map = schema::object(doc, kind.map())?;
            for item in doc.map_range(&map, ..) {
                if let ValueRef::Object(_) = item.value {
                    state.put(entity(doc, kind, item.key.to_string(), &item.id())?);
                }
            }
        }
        Ok(state)
    }
}

/// Reads the schema version and tenant id into `state`.
pub(crate) fn read_header<D: ReadDoc>(doc: &D, state: &mut TenantState) -> Result<(), ReadError> {
    let r = Reader { doc };
    state.schema = doc
        .get(automerge::ROOT, "schema")?
        .and_then(|(v, _)| v.as_u64())
        .ok_or_else(|| ReadError::Malformed("no schema version".into()))?;
    state.tenant_id = r.string(&automerge::ROOT, "tenant")?;
    Ok(())
}

/// The entity `id` of `kind` as it stands in `doc`, if present.
pub(crate) fn read_entity<D: ReadDoc>(
    doc: &D,
    kind: Kind,
    id: &str,
) -> Result<Option<Entity>, ReadError> {
    let map = schema::object(doc, kind.map())?;
    match doc.get(&map, id)? {
        Some((Value::Object(_), obj)) => Ok(Some(entity(doc, kind, id.to_owned(), &obj)?)),
        _ => Ok(None),
    }
}

fn entity<D: ReadDoc>(doc: &D, kind: Kind, id: String, obj: &ObjId) -> Result<Entity, ReadError> {
    let r = Reader { doc };
    Ok(match kind {
        Kind::Org => {
            let parent = r.string(obj, "parent")?;
            Entity::Org(Org {
                name: r.string(obj, "name")?,
                parent: (!parent.is_empty()).then_some(parent),
                deleted: r.any_true(obj, "deleted")?,
                id,
            })
        }
        Kind::User => Entity::User(User {
            email: r.string(obj, "email")?,
            id,
        }),
        Kind::Membership => Entity::Membership(Membership {
            user: r.string(obj, "user")?,
            org: r.string(obj, "org")?,
            role: r.string(obj, "role")?,
            removed: r.any_true(obj, "removed")?,
            id,
        }),
        Kind::Role => {
            let values = r.all_strings(obj, "perms")?;
            let perms = values
                .iter()
                .map(|v| PermSet::from_text(v))
                .reduce(PermSet::intersection)
                .unwrap_or(PermSet::EMPTY);
            Entity::Role(Role {
                name: r.string(obj, "name")?,
                org: r.string(obj, "org")?,
                perms,
                conflicted: values.len() > 1,
                deleted: r.any_true(obj, "deleted")?,
                id,
            })
        }
        Kind::Device => {
            let bad = |e: serde_json::Error| ReadError::Malformed(format!("device {id}: {e}"));
            let mut placements = r
                .all_strings(obj, "placement")?
                .into_iter()
                .map(|text| serde_json::from_str::<Placement>(&text))
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            let winner: Placement =
                serde_json::from_str(&r.string(obj, "placement")?).map_err(bad)?;
            placements.retain(|p| *p != winner);
            let template = r.string(obj, "template")?;
            let ble_mac = r.string(obj, "ble_mac")?;
            Entity::Device(Device {
                name: r.string(obj, "name")?,
                template: (!template.is_empty()).then_some(template),
                placement: winner,
                losing_placements: placements,
                ble_mac: (!ble_mac.is_empty()).then_some(ble_mac),
                deleted: r.any_true(obj, "deleted")?,
                id,
            })
        }
        Kind::Share => Entity::Share(Share {
            device: r.string(obj, "device")?,
            user: r.string(obj, "user")?,
            level: match r.string(obj, "level")?.as_str() {
                "control" => Level::Control,
                _ => Level::View,
            },
            expires: r.int(obj, "expires")?,
            membership: r.string(obj, "membership")?,
            revoked: r.any_true(obj, "revoked")?,
            id,
        }),
        Kind::Template => {
            let definition: Definition = serde_json::from_str(&r.string(obj, "definition")?)
                .map_err(|e| ReadError::Malformed(format!("template {id}: {e}")))?;
            Entity::Template(Template {
                name: r.string(obj, "name")?,
                org: r.string(obj, "org")?,
                definition,
                deleted: r.any_true(obj, "deleted")?,
                id,
            })
        }
    })
}

/// The audit log, in the document's (merged) order.
///
/// # Errors
/// When the document is not a tenant document.
pub fn audit_entries<D: ReadDoc>(doc: &D) -> Result<Vec<AuditEntry>, ReadError> {
    let r = Reader { doc };
    let audit = schema::object(doc, schema::AUDIT)?;
    let mut out = Vec::with_capacity(doc.length(&audit));
    for item in doc.list_range(&audit, ..) {
        let ValueRef::Object(_) = item.value else {
            continue;
        };
        let entry = item.id();
        out.push(AuditEntry {
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
    Ok(out)
}

struct Reader<'a, D> {
    doc: &'a D,
}

impl<D: ReadDoc> Reader<'_, D> {
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
