//! What the API answers, as types: each handler returns one of these (or a
//! domain type that derives the same traits), and its endpoint documents
//! that same type with [`super::endpoints::Endpoint::answers`], so the
//! OpenAPI document's response schemas come from the code that writes the
//! responses. `tests/api_openapi.rs` runs schemathesis against the real hub
//! to check every answer against them. Owns the shapes only: it never reads state or decides
//! what goes in an answer; each handler fills it with what the caller may see.

use schemars::JsonSchema;
use serde::Serialize;

use crate::devices::{LiveValue, Online};
use crate::tenancy::audit::AuditView;
use crate::tenancy::template::Definition;

/// An operation done: the id of its audit entry.
#[derive(Serialize, JsonSchema)]
pub struct Done {
    pub op: String,
}

/// Something created, by its id.
#[derive(Serialize, JsonSchema)]
pub struct Created {
    pub id: String,
}

/// Something created with its secret token, shown this once (stored
/// hashed).
#[derive(Serialize, JsonSchema)]
pub struct WithToken {
    pub id: String,
    pub token: String,
}

/// A device's new auth token, shown this once.
#[derive(Serialize, JsonSchema)]
pub struct Token {
    pub token: String,
}

/// The outcome of a transfer.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Transferred {
    Done {
        /// Always `true`.
        transferred: bool,
        op: String,
        /// The organization the device is in now.
        org: String,
    },
    /// Nothing changed, and why.
    Unchanged {
        /// Always `false`.
        transferred: bool,
        message: String,
    },
}

/// An organization as its reader sees it.
#[derive(Serialize, JsonSchema)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    /// `null` at the top, and where the parent is outside the reader's view.
    pub parent: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct MemberView {
    pub membership: String,
    pub user: String,
    pub email: Option<String>,
    pub org: String,
    pub role: String,
    pub role_name: Option<String>,
    /// Invited but has not set a password yet (a new link:
    /// `POST /users/{user}/password-reset`; cancel: remove the membership).
    pub pending: bool,
    /// Devices they own through this membership, which removing it would
    /// leave without an owner.
    pub owns: Vec<Named>,
}

/// Something by id and name.
#[derive(Serialize, JsonSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Invited {
    pub membership: String,
    pub user: String,
    /// The person already had an account in this household.
    pub existing_user: bool,
    /// Said when the role given lets them see nothing.
    pub warning: Option<String>,
    /// For a person without a password yet: the code that sets one.
    pub invite_code: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Removed {
    pub op: String,
    /// Devices the removed person owned, now without an owner.
    pub ownerless_devices: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub org: String,
    pub permissions: Vec<&'static str>,
}

#[derive(Serialize, JsonSchema)]
pub struct ResetCode {
    pub reset_code: String,
}

#[derive(Serialize, JsonSchema)]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    pub org: String,
    pub definition: Definition,
}

#[derive(Serialize, JsonSchema)]
pub struct BridgeView {
    pub id: String,
    pub name: String,
    pub org: String,
    pub revoked: bool,
}

/// One device's telemetry, as the API and the stream show it.
#[derive(Serialize, JsonSchema)]
pub struct Telemetry {
    pub online: Option<Online>,
    /// Pin → its newest value.
    pub values: std::collections::BTreeMap<String, LiveValue>,
    /// Pin → property → value (`label`, `color`, …).
    pub properties: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// What the device announced about itself.
    pub info: std::collections::BTreeMap<String, String>,
    /// Values left out of history since start: over the device's budget.
    pub history_dropped: u64,
    /// Messages left out since start, over the device's allowance where it
    /// cannot be slowed (the household's broker).
    pub messages_dropped: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct Commanded {
    pub outcome: crate::devices::CommandOutcome,
}

#[derive(Serialize, JsonSchema)]
pub struct History {
    pub pin: String,
    pub from: i64,
    pub to: i64,
    pub points: Vec<crate::devices::Point>,
}

/// A read-only sync grant for a JS or other Automerge client.
#[derive(Serialize, JsonSchema)]
pub struct Grant {
    pub id: String,
    pub peer_id: String,
    pub token: String,
    pub document: Option<String>,
    pub access: &'static str,
    pub note: &'static str,
}

#[derive(Serialize, JsonSchema)]
pub struct PairingCode {
    pub code: String,
    pub valid_minutes: u32,
    pub hub_id: String,
}

/// What a joining hub gets for a good pairing code.
#[derive(Serialize, JsonSchema)]
pub struct Pairing {
    pub token: String,
    pub tenant_doc: String,
    pub credentials_doc: String,
    pub peer: String,
}

#[derive(Serialize, JsonSchema)]
pub struct HubView {
    pub id: String,
    /// SHA-256 of its API certificate, where it announced one.
    pub fingerprint: Option<String>,
    pub revoked: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct HubRevoked {
    pub revoked: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Joined {
    pub joined: String,
}

#[derive(Serialize, JsonSchema)]
pub struct CloudLinked {
    pub linked: String,
    /// The cloud's API for this household, as it answered.
    pub api: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SyncStatus {
    /// The links this hub dials (the cloud, the household's other hubs).
    pub peers: Vec<crate::sync::links::LinkStatus>,
    /// The peers that dialed this hub and are connected now.
    pub incoming: Vec<crate::sync::accept::IncomingLink>,
    pub outbox: Option<crate::devices::outbox::OutboxStats>,
    /// Operations that lost (or merged in) a concurrent conflict, newest
    /// first, as the audit log shows them to the caller.
    pub conflicts_lost: Vec<AuditView>,
}
