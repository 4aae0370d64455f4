//! The entities of the tenant's sharing document as plain Rust values
//! (DESIGN §3 "Entities"), as [`read`](super::read) reads them.

use serde::{Deserialize, Serialize};

use super::perms::PermSet;
use super::template::Template;

pub type Id = String;

/// Which operations wrote a last-writer-wins field (its `<field>_op` key,
/// written in the same change as the field): the one whose value stands,
/// and those that lost a concurrent conflict to it (M5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    /// `None` for a field last written before operations were recorded.
    pub winner: Option<Id>,
    pub losers: Vec<Id>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: Id,
    pub name: String,
    pub parent: Option<Id>,
    pub deleted: bool,
    pub name_writes: Writes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Id,
    pub email: String,
    pub email_writes: Writes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub id: Id,
    pub user: Id,
    pub org: Id,
    pub role: Id,
    pub removed: bool,
    pub role_writes: Writes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub id: Id,
    pub name: String,
    pub org: Id,
    pub perms: PermSet,
    /// Concurrent edits were intersected and not yet superseded.
    pub conflicted: bool,
    /// The edits whose permission sets stand now (intersected when more
    /// than one): each edit's value carries its op (`perms.rs`).
    pub perms_ops: Vec<Id>,
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
    /// The BLE MAC address a bridge reports it by (upper-case, colons). Its
    /// BTHome bind key stays on the hubs, outside the replicated document.
    pub ble_mac: Option<String>,
    pub deleted: bool,
    pub name_writes: Writes,
    pub template_writes: Writes,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// One entity as read from the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    Org(Org),
    User(User),
    Membership(Membership),
    Role(Role),
    Device(Device),
    Share(Share),
    Template(Template),
}

/// The kinds of entity, one per top-level map of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Org,
    User,
    Membership,
    Role,
    Device,
    Share,
    Template,
}
