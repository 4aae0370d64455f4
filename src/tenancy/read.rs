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

use automerge::{ObjId, ReadDoc, ScalarValueRef, Value, ValueRef};

use super::perms::PermSet;
use super::schema;
use super::state::{
    AuditEntry, Device, Entity, Kind, Level, Membership, Org, Placement, Role, Share, TenantState,
    User, Writes,
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
        state.finish();
        Ok(state)
    }
}

/// Reads the schema version and tenant id into `state`.
pub(crate) fn read_header<D: ReadDoc>(doc: &D, state: &mut TenantState) -> Result<(), ReadError> {
    let r = Fields::of(doc, &automerge::ROOT);
    state.schema = doc
        .get(automerge::ROOT, "schema")?
        .and_then(|(v, _)| v.as_u64())
        .ok_or_else(|| ReadError::Malformed("no schema version".into()))?;
    state.tenant_id = r.string("tenant");
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
    let r = Fields::of(doc, obj);
    Ok(match kind {
        Kind::Org => {
            let parent = r.string("parent");
            Entity::Org(Org {
                name: r.string("name"),
                parent: (!parent.is_empty()).then_some(parent),
                deleted: r.any_true("deleted")?,
                name_writes: r.writes("name")?,
                id,
            })
        }
        Kind::User => Entity::User(User {
            email: r.string("email"),
            email_writes: r.writes("email")?,
            id,
        }),
        Kind::Membership => Entity::Membership(Membership {
            user: r.string("user"),
            org: r.string("org"),
            role: r.string("role"),
            removed: r.any_true("removed")?,
            role_writes: r.writes("role")?,
            id,
        }),
        Kind::Role => {
            let values = r.all_strings("perms")?;
            let perms = values
                .iter()
                .map(|v| PermSet::from_text(v))
                .reduce(PermSet::intersection)
                .unwrap_or(PermSet::EMPTY);
            Entity::Role(Role {
                name: r.string("name"),
                org: r.string("org"),
                perms,
                conflicted: values.len() > 1,
                perms_ops: values.iter().filter_map(|v| PermSet::tag(v)).collect(),
                deleted: r.any_true("deleted")?,
                id,
            })
        }
        Kind::Device => {
            let bad = |e: serde_json::Error| ReadError::Malformed(format!("device {id}: {e}"));
            let mut placements = r
                .all_strings("placement")?
                .into_iter()
                .map(|text| serde_json::from_str::<Placement>(&text))
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            let winner: Placement = serde_json::from_str(&r.string("placement")).map_err(bad)?;
            placements.retain(|p| *p != winner);
            let template = r.string("template");
            let ble_mac = r.string("ble_mac");
            Entity::Device(Device {
                name: r.string("name"),
                template: (!template.is_empty()).then_some(template),
                placement: winner,
                losing_placements: placements,
                ble_mac: (!ble_mac.is_empty()).then_some(ble_mac),
                deleted: r.any_true("deleted")?,
                name_writes: r.writes("name")?,
                template_writes: r.writes("template")?,
                id,
            })
        }
        Kind::Share => Entity::Share(Share {
            device: r.string("device"),
            user: r.string("user"),
            level: match r.string("level").as_str() {
                "control" => Level::Control,
                _ => Level::View,
            },
            expires: r.int("expires"),
            membership: r.string("membership"),
            revoked: r.any_true("revoked")?,
            id,
        }),
        Kind::Template => {
            let (definition, unreadable) =
                match serde_json::from_str::<Definition>(&r.string("definition")) {
                    Ok(definition) => (definition, None),
                    Err(e) => (Definition::default(), Some(e.to_string())),
                };
            Entity::Template(Template {
                name: r.string("name"),
                org: r.string("org"),
                definition,
                unreadable,
                deleted: r.any_true("deleted")?,
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
    let audit = schema::object(doc, schema::AUDIT)?;
    let mut out = Vec::with_capacity(doc.length(&audit));
    for item in doc.list_range(&audit, ..) {
        let ValueRef::Scalar(ScalarValueRef::Str(text)) = item.value else {
            continue;
        };
        let entry = serde_json::from_str(&text)
            .map_err(|e| ReadError::Malformed(format!("audit entry {}: {e}", item.index)))?;
        out.push(entry);
    }
    Ok(out)
}

/// One object's fields, read in one pass over its map (a `get` per field
/// costs a search through the object's whole history each time); keys with
/// concurrent values are read again in full.
struct Fields<'d, D> {
    doc: &'d D,
    obj: ObjId,
    values: Vec<(String, ValueRef<'d>, bool)>,
}

impl<'d, D: ReadDoc> Fields<'d, D> {
    fn of(doc: &'d D, obj: &ObjId) -> Self {
        let values = doc
            .map_range(obj, ..)
            .map(|item| (item.key.into_owned(), item.value, item.conflict))
            .collect();
        Fields {
            doc,
            obj: obj.clone(),
            values,
        }
    }

    fn value(&self, key: &str) -> Option<&(String, ValueRef<'d>, bool)> {
        self.values.iter().find(|(k, _, _)| k == key)
    }

    fn string(&self, key: &str) -> String {
        match self.value(key) {
            Some((_, ValueRef::Scalar(ScalarValueRef::Str(s)), _)) => s.to_string(),
            _ => String::new(),
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.value(key)? {
            (_, ValueRef::Scalar(ScalarValueRef::Int(i)), _) => Some(*i),
            (_, ValueRef::Scalar(ScalarValueRef::Uint(u)), _) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    /// Every concurrent value of `key` (the winner alone when there is no
    /// conflict).
    fn all(&self, key: &str) -> Result<Vec<Value<'static>>, ReadError> {
        match self.value(key) {
            None => Ok(Vec::new()),
            Some((_, value, false)) => Ok(vec![Value::from(value.clone())]),
            Some((_, _, true)) => Ok(self
                .doc
                .get_all(&self.obj, key)?
                .into_iter()
                .map(|(v, _)| v.to_owned())
                .collect()),
        }
    }

    fn all_strings(&self, key: &str) -> Result<Vec<String>, ReadError> {
        Ok(self
            .all(key)?
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }

    /// The operations that wrote `field` (its `<field>_op` key).
    fn writes(&self, field: &str) -> Result<Writes, ReadError> {
        let key = format!("{field}_op");
        let winner = self.string(&key);
        let losers = self
            .all_strings(&key)?
            .into_iter()
            .filter(|op| *op != winner)
            .collect();
        Ok(Writes {
            winner: (!winner.is_empty()).then_some(winner),
            losers,
        })
    }

    fn any_true(&self, key: &str) -> Result<bool, ReadError> {
        Ok(self
            .all(key)?
            .into_iter()
            .any(|v| v.as_bool() == Some(true)))
    }
}
