//! The sharing operations of DESIGN §3. Each is validated against this
//! replica's state and then applied as **one** Automerge change that also
//! appends its audit entry, so an operation is never half-applied and every
//! accepted operation reaches every replica's log (M5).
//!
//! Errors say what to do instead. [`OpError::NotFound`] covers both "does not
//! exist" and "outside your view", so a probe learns nothing (M4).

mod devices;
mod holders;
mod members;
mod orgs;
mod roles;
mod templates;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, ObjType, ReadDoc};

use super::access::Access;
use super::materialized::Materialized;
use super::perms::Permission;
use super::schema::{self, SCHEMA_VERSION};
use super::state::{AuditEntry, Device, Id, Membership, TenantState};

pub use devices::Transfer;
pub use holders::{Holder, Reason, device_holders};
pub use members::{Invited, Removed};
pub use templates::normalize_mac;

/// Who performs an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A signed-in user (their id).
    User(Id),
    /// The hub's console (admin socket): root or the service user on the
    /// hub itself; may do anything, e.g. recover a tenant with no admin left.
    Console,
}

impl Caller {
    pub fn user(id: &str) -> Self {
        Caller::User(id.to_owned())
    }

    fn audit_name(&self) -> &str {
        match self {
            Caller::User(id) => id,
            Caller::Console => "console",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// Does not exist, or the caller may not see it: the API's 404.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller sees the target but lacks a permission: the API's 403.
    #[error("you need the {permission} permission in {scope} for this")]
    Denied {
        permission: Permission,
        scope: String,
    },
    /// A well-formed request that cannot be done; the message says what to do.
    #[error("{0}")]
    Refused(String),
    /// Malformed input.
    #[error("{0}")]
    Invalid(String),
    #[error(
        "this household's data has schema version {0}, newer than this hub understands \
         ({SCHEMA_VERSION}); it keeps syncing, but update hearth to make changes here"
    )]
    SchemaTooNew(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<automerge::AutomergeError> for OpError {
    fn from(e: automerge::AutomergeError) -> Self {
        OpError::Internal(e.to_string())
    }
}

impl From<super::read::ReadError> for OpError {
    fn from(e: super::read::ReadError) -> Self {
        OpError::Internal(e.to_string())
    }
}

/// One replica of a tenant's sharing document, and the operations on it.
pub struct Tenant {
    doc: Automerge,
    /// This replica's name in audit entries (the hub id); the Automerge
    /// actor id stays random per process.
    replica: String,
    /// The state, kept up to date with `doc` incrementally.
    view: Materialized,
}

/// Writes one operation's change into the document; see [`Writer::commit`].
struct Writer<'t> {
    doc: &'t mut Automerge,
    replica: &'t str,
}

/// The ids a new tenant starts with.
#[derive(Debug, Clone)]
pub struct Founded {
    pub root_org: Id,
    pub admin: Id,
    pub admin_membership: Id,
}

impl Tenant {
    /// Creates a new tenant with its root organization and first admin.
    ///
    /// # Errors
    /// [`OpError::Invalid`] for a bad email or empty name.
    pub fn found(
        replica: &str,
        root_name: &str,
        admin_email: &str,
        now: i64,
    ) -> Result<(Self, Founded), OpError> {
        let email = normalize_email(admin_email)?;
        let root_name = non_empty("organization name", root_name)?;
        let mut tenant = Tenant::from_doc(Automerge::new(), replica);
        let founded = Founded {
            root_org: new_id(),
            admin: new_id(),
            admin_membership: new_id(),
        };
        let tenant_id = new_id();
        let f = founded.clone();
        tenant.writer().commit(
            &Caller::Console,
            "found",
            &f.root_org.clone(),
            serde_json::json!({ "name": root_name, "admin": f.admin }),
            now,
            |tx| {
                schema::create(tx, &tenant_id, &f.root_org, &root_name)?;
                members::put_user(tx, &f.admin, &email)?;
                members::put_membership(
                    tx,
                    &f.admin_membership,
                    &f.admin,
                    &f.root_org,
                    schema::ROLE_ADMIN,
                )
            },
        )?;
        Ok((tenant, founded))
    }

    /// Wraps an existing document (loaded from storage or received by sync).
    pub fn from_doc(doc: Automerge, replica: &str) -> Self {
        Tenant {
            doc,
            replica: replica.to_owned(),
            view: Materialized::default(),
        }
    }

    /// Runs `f` on a tenant view of `doc`, a document owned elsewhere (such
    /// as inside a samod `DocHandle::with_document`), with `view` the state
    /// materialized from it last time. `f` must not panic: samod aborts the
    /// process on a panic inside `with_document`.
    pub fn with_doc<R>(
        doc: &mut Automerge,
        view: &mut Materialized,
        replica: &str,
        f: impl FnOnce(&mut Tenant) -> R,
    ) -> R {
        let mut tenant = Tenant {
            doc: std::mem::take(doc),
            replica: replica.to_owned(),
            view: std::mem::take(view),
        };
        let result = f(&mut tenant);
        *doc = tenant.doc;
        *view = tenant.view;
        result
    }

    pub fn into_doc(self) -> Automerge {
        self.doc
    }

    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    pub fn doc_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    /// The merged state, conflicts resolved, as of the document's heads.
    ///
    /// # Errors
    /// When the document is not a tenant document.
    pub fn state(&mut self) -> Result<&TenantState, OpError> {
        Ok(self.view.refresh(&self.doc)?)
    }

    /// The incrementally maintained view (for its statistics).
    pub fn materialized(&self) -> &Materialized {
        &self.view
    }

    /// The audit log in the document's order.
    ///
    /// # Errors
    /// When the document is not a tenant document.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, OpError> {
        Ok(super::read::audit_entries(&self.doc)?)
    }

    /// The state to validate a write against, and the writer to make it;
    /// refuses a document from a newer schema.
    fn writable(&mut self) -> Result<(&TenantState, Writer<'_>), OpError> {
        let state = self.view.refresh(&self.doc)?;
        if !state.writable() {
            return Err(OpError::SchemaTooNew(state.schema));
        }
        let writer = Writer {
            doc: &mut self.doc,
            replica: &self.replica,
        };
        Ok((state, writer))
    }

    fn writer(&mut self) -> Writer<'_> {
        Writer {
            doc: &mut self.doc,
            replica: &self.replica,
        }
    }
}

impl Writer<'_> {
    /// Applies `change` and its audit entry as one Automerge change.
    fn commit<F>(
        self,
        caller: &Caller,
        kind: &str,
        subject: &str,
        detail: serde_json::Value,
        now: i64,
        change: F,
    ) -> Result<Id, OpError>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<(), automerge::AutomergeError>,
    {
        self.commit_as(caller, kind, subject, detail, now, |tx, _| change(tx))
    }

    /// [`Writer::commit`], `change` told the operation's id: a last-writer-
    /// wins field is written with it (`<field>_op`), so reading the log can
    /// tell which operation's value stands and which lost (M5).
    fn commit_as<F>(
        self,
        caller: &Caller,
        kind: &str,
        subject: &str,
        detail: serde_json::Value,
        now: i64,
        change: F,
    ) -> Result<Id, OpError>
    where
        F: FnOnce(&mut Transaction<'_>, &str) -> Result<(), automerge::AutomergeError>,
    {
        let op = new_id();
        let replica = self.replica;
        self.doc
            .transact_with::<_, _, automerge::AutomergeError, _>(
                |_| {
                    CommitOptions::default()
                        .with_message(format!("{kind} {subject}"))
                        .with_time(now / 1000)
                },
                |tx| {
                    change(tx, &op)?;
                    let audit = schema::object(tx, schema::AUDIT)?;
                    let at = tx.length(&audit);
                    // One scalar per entry: an entry is never edited, and
                    // one op instead of eight keeps the document small.
                    let entry = AuditEntry {
                        op: op.clone(),
                        kind: kind.to_owned(),
                        by: caller.audit_name().to_owned(),
                        replica: replica.to_owned(),
                        at: now,
                        subject: subject.to_owned(),
                        detail,
                    };
                    let text = serde_json::to_string(&entry).unwrap_or_default();
                    tx.insert(&audit, at, text)?;
                    Ok(())
                },
            )
            .map_err(|failure| OpError::Internal(failure.error.to_string()))?;
        Ok(op)
    }
}

/// Checks `permission` over `org` for `caller`; the console may do anything.
fn require(
    access: &Access<'_>,
    caller: &Caller,
    permission: Permission,
    org: &str,
) -> Result<(), OpError> {
    match caller {
        Caller::Console => Ok(()),
        Caller::User(user) if access.can_manage(user, permission, org) => Ok(()),
        Caller::User(user) => Err(OpError::Denied {
            permission,
            scope: org_label(access, user, org),
        }),
    }
}

/// The caller must see `org` (else "not found") and hold `permission` there.
fn require_in_org(
    access: &Access<'_>,
    caller: &Caller,
    permission: Permission,
    org: &str,
) -> Result<(), OpError> {
    if !sees_org(access, caller, org) {
        return Err(OpError::NotFound(format!("organization {org}")));
    }
    require(access, caller, permission, org)
}

/// Emails of live members whose membership matches `which`, for messages
/// that name who still holds something.
fn member_emails<'a>(access: &Access<'a>, which: impl Fn(&Membership) -> bool) -> Vec<&'a str> {
    let state = access.state;
    state
        .memberships()
        .values()
        .filter(|m| which(m) && access.membership_live(m))
        .filter_map(|m| {
            state
                .users()
                .get(state.canonical(&m.user))
                .map(|u| u.email.as_str())
        })
        .collect()
}

/// How a refusal names the devices that stand in the way: by name where
/// the caller may see them (managing organizations or templates does not
/// mean seeing every device), the rest counted, so it still says why
/// (DESIGN §3).
fn device_names<'a>(
    access: &Access<'a>,
    caller: &Caller,
    devices: impl Iterator<Item = &'a Device>,
) -> Vec<String> {
    let (seen, unseen): (Vec<&Device>, Vec<&Device>) = devices.partition(|d| match caller {
        Caller::Console => true,
        Caller::User(user) => access.device_level(user, d).is_some(),
    });
    let mut names: Vec<String> = seen.iter().map(|d| d.name.clone()).collect();
    if !unseen.is_empty() {
        names.push(format!("{} you may not see", unseen.len()));
    }
    names
}

/// Can the caller see organization `org` at all (else it is "not found")?
fn sees_org(access: &Access<'_>, caller: &Caller, org: &str) -> bool {
    match caller {
        Caller::Console => access.org_live(org),
        Caller::User(user) => access.visible_orgs(user).contains(org),
    }
}

/// How a refusal names `org` to `user`: by name where they may see it; an
/// organization above theirs (a device shared with them from there) goes
/// unnamed (DESIGN §3).
fn org_label(access: &Access<'_>, user: &str, org: &str) -> String {
    match access.state.orgs().get(org) {
        Some(o) if access.visible_orgs(user).contains(org) => {
            format!("organization \"{}\"", o.name)
        }
        _ => "the organization that holds it, which you are not a member of".into(),
    }
}

/// A new random id: 64 bits, hex.
pub fn new_id() -> Id {
    crate::random_hex(8)
}

/// Trimmed, lower-cased, Unicode NFC; no provider-specific folding.
///
/// # Errors
/// [`OpError::Invalid`] for something that is not an email address.
pub fn normalize_email(email: &str) -> Result<String, OpError> {
    use unicode_normalization::UnicodeNormalization;
    let email: String = email.trim().nfc().collect::<String>().to_lowercase();
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace) =>
        {
            Ok(email)
        }
        _ => Err(OpError::Invalid(format!(
            "{email:?} is not an email address"
        ))),
    }
}

fn non_empty(what: &str, value: &str) -> Result<String, OpError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 200 {
        return Err(OpError::Invalid(format!(
            "{what} must be 1 to 200 characters"
        )));
    }
    Ok(value.to_owned())
}

fn put_map<T: Transactable>(
    tx: &mut T,
    map: &str,
    id: &str,
    fields: &[(&str, automerge::ScalarValue)],
) -> Result<automerge::ObjId, automerge::AutomergeError> {
    let parent = schema::object(tx, map)?;
    let obj = tx.put_object(&parent, id, ObjType::Map)?;
    for (key, value) in fields {
        tx.put(&obj, *key, value.clone())?;
    }
    Ok(obj)
}

/// Writes a last-writer-wins `key` and, in the same change, the operation
/// that wrote it (`<key>_op`). Both keys of one change win or lose together:
/// Automerge orders concurrent puts by (counter, actor), and within a change
/// the counters rise together.
///
/// Both must really be written. Automerge stores no new value for a put of
/// the value a key already shows (it only deletes the conflicting ones), so
/// renaming something to its current name would write `_op` alone, and a
/// concurrent rename would then win the value while this op won `_op`: the
/// log would call the lost write effective. Deleting first makes the put a
/// value of its own.
fn set_written<T: Transactable>(
    tx: &mut T,
    map: &str,
    id: &str,
    key: &str,
    value: impl Into<automerge::ScalarValue>,
    op: &str,
) -> Result<(), automerge::AutomergeError> {
    let value = value.into();
    let parent = schema::object(tx, map)?;
    let Some((automerge::Value::Object(_), obj)) = tx.get(&parent, id)? else {
        return Err(automerge::AutomergeError::InvalidObjId(format!(
            "{map}/{id}"
        )));
    };
    if let Some((automerge::Value::Scalar(current), _)) = tx.get(&obj, key)?
        && *current == value
    {
        tx.delete(&obj, key)?;
    }
    tx.put(&obj, key, value)?;
    tx.put(&obj, format!("{key}_op"), op)
}

/// Sets one field of an existing entity.
fn set_field<T: Transactable>(
    tx: &mut T,
    map: &str,
    id: &str,
    key: &str,
    value: impl Into<automerge::ScalarValue>,
) -> Result<(), automerge::AutomergeError> {
    let parent = schema::object(tx, map)?;
    match tx.get(&parent, id)? {
        Some((automerge::Value::Object(_), obj)) => tx.put(&obj, key, value),
        _ => Err(automerge::AutomergeError::InvalidObjId(format!(
            "{map}/{id}"
        ))),
    }
}

#[cfg(test)]
mod tests;
