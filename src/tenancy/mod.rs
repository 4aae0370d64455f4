//! Tenancy: the household's replicated sharing state (DESIGN §3).
//!
//! Owns the tenant's Automerge document: its layout ([`schema`]), reading it
//! with the merge rules applied ([`state`]), who may do what ([`access`]),
//! the operations ([`ops`]), the audit log's verdicts ([`audit`]), and this
//! hub's durable, syncing replica of it ([`replica`]). It never
//! holds telemetry, and never writes a merge verdict into the document:
//! verdicts are derived when read, so merging stays idempotent (M6).

pub mod access;
pub mod audit;
pub mod credentials;
mod durable;
pub mod entities;
pub mod materialized;
pub mod ops;
pub mod perms;
pub mod policy;
pub mod read;
pub mod replica;
pub mod schema;
pub mod state;
mod storage;
pub mod template;

pub use access::{Access, Action, Target, VisibleDevice};
pub use materialized::Materialized;
pub use ops::{Caller, OpError, Tenant};
pub use perms::{PermSet, Permission};
pub use read::{ReadError, audit_entries};
pub use replica::{Replica, ReplicaError};
pub use state::{Level, TenantState};
