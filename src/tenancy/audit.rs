//! Reading the audit log: every operation of every replica (M5), filtered to
//! what the reader may see (M4), each with its outcome derived *now* from the
//! merged state — took effect, lost to which operation, superseded, or inert
//! because a grant it relied on was revoked. Nothing derived here is written
//! back (writing verdicts at merge time would not be idempotent). It never shows a reader an
//! entry about a device or organization they may not see, nor names an actor, organization or
//! person hidden from them (`HIDDEN_ACTOR` and "hidden" stand in).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::access::Access;
use super::ops::Caller;
use super::perms::Permission;
use super::state::{AuditEntry, Id, TenantState, Writes};

/// How an actor the reader may not see is shown.
pub const HIDDEN_ACTOR: &str = "an administrator of a parent organization";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Effective,
    /// Lost a concurrent conflict to this operation. (The fields are not
    /// named `op` or `by`: the entry's own `op` and `by` sit beside them
    /// in the same JSON object.)
    LostTo {
        to: Id,
    },
    /// Later overwritten by this operation.
    SupersededBy {
        by_op: Id,
    },
    /// Applied, but what it granted no longer holds.
    Inert {
        reason: String,
    },
    /// Applied, merged with a concurrent edit (role permissions intersected).
    Merged {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AuditView {
    #[serde(flatten)]
    pub entry: AuditEntry,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The log as `reader` may see it, oldest first.
pub fn read(state: &TenantState, log: &[AuditEntry], now: i64, reader: &Caller) -> Vec<AuditView> {
    let access = Access::new(state, now);
    let scope = Scope::of(&access, reader);
    let by_placement_op: HashMap<&str, &str> = log
        .iter()
        .filter_map(|e| Some((e.detail.get("placement_op")?.as_str()?, e.op.as_str())))
        .collect();
    log.iter()
        .filter(|e| scope.sees_entry(&access, e))
        .map(|e| AuditView {
            outcome: outcome(&access, &by_placement_op, e),
            entry: scope.scrub(&access, e),
        })
        .collect()
}

fn outcome(access: &Access<'_>, by_placement_op: &HashMap<&str, &str>, e: &AuditEntry) -> Outcome {
    let state = access.state;
    if e.kind == "add_device" {
        return Outcome::Effective;
    }
    if let Some(placement_op) = e.detail.get("placement_op").and_then(|v| v.as_str()) {
        let Some(device) = state.devices().get(&e.subject) else {
            return Outcome::Effective;
        };
        let audit_op = |p: &str| {
            by_placement_op
                .get(p)
                .map_or(p.to_owned(), |op| (*op).to_owned())
        };
        if device.placement.op == placement_op {
            return Outcome::Effective;
        }
        if device
            .losing_placements
            .iter()
            .any(|p| p.op == placement_op)
        {
            return Outcome::LostTo {
                to: audit_op(&device.placement.op),
            };
        }
        return Outcome::SupersededBy {
            by_op: audit_op(&device.placement.op),
        };
    }
    match e.kind.as_str() {
        "share" => match state.shares().get(&e.subject) {
            Some(s) if s.revoked => Outcome::Inert {
                reason: "the share was revoked".into(),
            },
            Some(s) if s.expires.is_some_and(|t| access.now >= t) => Outcome::Inert {
                reason: "the share expired (by this hub's clock)".into(),
            },
            Some(s)
                if !state
                    .memberships()
                    .get(&s.membership)
                    .is_some_and(|m| access.membership_live(m)) =>
            {
                Outcome::Inert {
                    reason: "the membership it relied on was removed".into(),
                }
            }
            _ => Outcome::Effective,
        },
        "invite" => match state.memberships().get(&e.subject) {
            Some(m) if m.removed => Outcome::Inert {
                reason: "the membership was removed".into(),
            },
            Some(m) if !access.org_live(&m.org) => Outcome::Inert {
                reason: "its organization was deleted".into(),
            },
            _ => Outcome::Effective,
        },
        "change_role" => match state.memberships().get(&e.subject) {
            Some(m) if m.removed => Outcome::Inert {
                reason: "the membership was removed".into(),
            },
            Some(m) => last_writer(&m.role_writes, &e.op),
            None => Outcome::Effective,
        },
        "rename_device" => state
            .devices()
            .get(&e.subject)
            .map_or(Outcome::Effective, |d| last_writer(&d.name_writes, &e.op)),
        "set_device_template" => state
            .devices()
            .get(&e.subject)
            .map_or(Outcome::Effective, |d| {
                last_writer(&d.template_writes, &e.op)
            }),
        "rename_org" => state
            .orgs()
            .get(&e.subject)
            .map_or(Outcome::Effective, |o| last_writer(&o.name_writes, &e.op)),
        "change_email" => state
            .users()
            .get(&e.subject)
            .map_or(Outcome::Effective, |u| last_writer(&u.email_writes, &e.op)),
        "edit_role" => match state.roles().get(&e.subject) {
            Some(r) if r.deleted => Outcome::Inert {
                reason: "the role was deleted".into(),
            },
            // An edit from before edits were tagged, or one still standing.
            Some(r) if r.perms_ops.is_empty() || r.perms_ops.contains(&e.op) => {
                if r.conflicted {
                    Outcome::Merged {
                        reason: format!(
                            "intersected with a concurrent edit; the role now holds: {}",
                            r.perms.to_text()
                        ),
                    }
                } else {
                    Outcome::Effective
                }
            }
            Some(r) => Outcome::SupersededBy {
                by_op: r.perms_ops.iter().min().cloned().unwrap_or_default(),
            },
            None => Outcome::Effective,
        },
        _ => Outcome::Effective,
    }
}

/// Operations whose subject is a device.
fn is_device_kind(kind: &str) -> bool {
    matches!(kind, "transfer" | "set_ble_mac") || kind.ends_with("_device")
}

/// Replaces every device id in `value` (a string, or within arrays and
/// objects) that `sees` refuses with "hidden"; hidden devices' entries in
/// a list are dropped.
fn hide_devices(value: &mut serde_json::Value, state: &TenantState, sees: &dyn Fn(&str) -> bool) {
    let looks_like_device = |s: &str| state.devices().contains_key(s);
    match value {
        serde_json::Value::Array(items) => {
            items.retain(|v| v.as_str().is_none_or(|s| !looks_like_device(s) || sees(s)));
            for item in items {
                hide_devices(item, state, sees);
            }
        }
        serde_json::Value::Object(map) => {
            if map
                .get("id")
                .and_then(|v| v.as_str())
                .is_some_and(|id| looks_like_device(id) && !sees(id))
            {
                *value = serde_json::Value::String("hidden".into());
                return;
            }
            for v in map.values_mut() {
                hide_devices(v, state, sees);
            }
        }
        serde_json::Value::String(s) if looks_like_device(s) && !sees(s) => {
            *value = serde_json::Value::String("hidden".into());
        }
        _ => {}
    }
}

/// The outcome of an operation that wrote a last-writer-wins field: it
/// stands, it lost a concurrent conflict to the one that stands, or a later
/// one overwrote it. A field written before operations were recorded says
/// nothing against it.
fn last_writer(writes: &Writes, op: &str) -> Outcome {
    match &writes.winner {
        None => Outcome::Effective,
        Some(winner) if winner == op => Outcome::Effective,
        Some(winner) if writes.losers.iter().any(|l| l == op) => {
            Outcome::LostTo { to: winner.clone() }
        }
        Some(winner) => Outcome::SupersededBy {
            by_op: winner.clone(),
        },
    }
}

/// What one reader may see of the log.
struct Scope<'a> {
    /// `None`: sees every organization (console, or a member of the root).
    orgs: Option<HashSet<&'a str>>,
    users: HashSet<&'a str>,
    /// The person reading (`None` for the console, which sees every device):
    /// entries about a device show only to who may see that device.
    reader: Option<&'a str>,
}

impl<'a> Scope<'a> {
    fn of(access: &Access<'a>, reader: &Caller) -> Self {
        let state = access.state;
        let root = state
            .orgs()
            .values()
            .find(|o| o.parent.is_none())
            .map(|o| o.id.as_str());
        let reader_id = match reader {
            Caller::Console => None,
            Caller::User(user) => state
                .users()
                .get_key_value(user.as_str())
                .map(|(k, _)| k.as_str()),
        };
        let orgs = match reader {
            Caller::Console => None,
            Caller::User(user) => {
                let visible = access.visible_orgs(user);
                if root.is_some_and(|r| visible.contains(r)) {
                    None
                } else {
                    Some(visible)
                }
            }
        };
        let users = match &orgs {
            None => state.users().keys().map(String::as_str).collect(),
            Some(orgs) => state
                .memberships()
                .values()
                .filter(|m| orgs.contains(m.org.as_str()))
                .map(|m| m.user.as_str())
                .collect(),
        };
        Scope {
            orgs,
            users,
            reader: reader_id.or(match reader {
                Caller::Console => None,
                // An unknown reader sees no device.
                Caller::User(_) => Some(""),
            }),
        }
    }

    /// May the reader see `device` (one deleted since: could they have seen
    /// its organization's devices)?
    fn sees_device(&self, access: &Access<'_>, device: &str) -> bool {
        let Some(reader) = self.reader else {
            return true;
        };
        let Some(d) = access.state.devices().get(device) else {
            return false;
        };
        if !d.deleted {
            return access.device_level(reader, d).is_some();
        }
        access.effective_org(d).is_some_and(|org| {
            let perms = access.perms_over(reader, org);
            perms.contains(Permission::ViewOrgDevices)
                || perms.contains(Permission::ControlOrgDevices)
                || perms.contains(Permission::ManageDevices)
        })
    }

    fn sees_org(&self, org: &str) -> bool {
        self.orgs.as_ref().is_none_or(|orgs| orgs.contains(org))
    }

    /// An entry is visible when what it is about is: a device operation
    /// (a share included) to who may see the device, any other to who sees
    /// its organization or person.
    fn sees_entry(&self, access: &Access<'_>, e: &AuditEntry) -> bool {
        let state = access.state;
        let device = match e.kind.as_str() {
            "share" | "unshare" => state.shares().get(&e.subject).map(|s| s.device.as_str()),
            kind if is_device_kind(kind) => Some(e.subject.as_str()),
            _ => None,
        };
        if let Some(device) = device
            && !self.sees_device(access, device)
        {
            return false;
        }
        if self.orgs.is_none() {
            return true;
        }
        let org: Option<String> = match e.kind.as_str() {
            "found" => Some(e.subject.clone()),
            "create_org" | "rename_org" | "delete_org" => Some(e.subject.clone()),
            "invite" | "change_role" | "remove_member" => {
                state.memberships().get(&e.subject).map(|m| m.org.clone())
            }
            "create_role" | "edit_role" | "delete_role" => {
                state.roles().get(&e.subject).map(|r| r.org.clone())
            }
            "share" | "unshare" => state
                .shares()
                .get(&e.subject)
                .and_then(|s| state.devices().get(&s.device))
                .and_then(|d| access.effective_org(d))
                .map(str::to_owned),
            "change_email" => return self.users.contains(e.subject.as_str()),
            // Device operations: the device's organization now.
            _ => state
                .devices()
                .get(&e.subject)
                .and_then(|d| access.effective_org(d))
                .map(str::to_owned),
        };
        org.is_some_and(|o| self.sees_org(&o))
    }

    /// Hides actors and ids the reader may not see.
    fn scrub(&self, access: &Access<'_>, e: &AuditEntry) -> AuditEntry {
        let state = access.state;
        let mut entry = e.clone();
        if self.reader.is_some()
            && let Some(map) = entry.detail.as_object_mut()
        {
            // Devices named in the details (those left ownerless by a
            // removal, say) only as far as the reader may see them.
            for value in map.values_mut() {
                hide_devices(value, state, &|d| self.sees_device(access, d));
            }
        }
        if self.orgs.is_none() {
            return entry;
        }
        if !self.users.contains(entry.by.as_str()) {
            entry.by = HIDDEN_ACTOR.into();
        }
        entry.replica = String::new();
        let hide = |v: &mut serde_json::Value| {
            if let Some(s) = v.as_str()
                && ((state.orgs().contains_key(s) && !self.sees_org(s))
                    || (state.users().contains_key(s) && !self.users.contains(s)))
            {
                *v = serde_json::Value::String("hidden".into());
            }
        };
        if let Some(map) = entry.detail.as_object_mut() {
            map.values_mut().for_each(hide);
        }
        entry
    }
}
