//! The sharing operations of DESIGN §3 over HTTP: devices (list, add, rename,
//! move, delete, transfer, share), organizations, members, roles, and the
//! audit log. Every handler authenticates, then runs the operation on the
//! replica, which checks it against the replicated permissions: 404 outside
//! the caller's view, 403 naming the permission, 409 saying what to do.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::account::JsonBody;
use super::auth::Authed;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::accounts::unix_now;
use crate::tenancy::ops::Transfer;
use crate::tenancy::state::Level;
use crate::tenancy::{Access, Caller, OpError, PermSet, Permission, audit};

pub fn endpoints() -> Vec<Endpoint> {
    use Endpoint as E;
    vec![
        E::new(
            "GET",
            "/devices",
            "Every device the caller may see, across organizations",
            get(devices),
        ),
        E::new("POST", "/devices", "Add a device", post(add_device)),
        E::new(
            "GET",
            "/devices/{id}",
            "One device as the caller sees it",
            get(device),
        ),
        E::new(
            "PATCH",
            "/devices/{id}",
            "Rename a device",
            patch(rename_device),
        ),
        E::new(
            "DELETE",
            "/devices/{id}",
            "Delete a device",
            delete(delete_device),
        ),
        E::new(
            "POST",
            "/devices/{id}/move",
            "Move a device to another organization",
            post(move_device),
        ),
        E::new(
            "POST",
            "/devices/{id}/transfer",
            "Transfer a device to a member",
            post(transfer),
        ),
        E::new(
            "POST",
            "/devices/{id}/shares",
            "Share a device with a member",
            post(share),
        ),
        E::new("DELETE", "/shares/{id}", "Revoke a share", delete(unshare)),
        E::new(
            "GET",
            "/orgs",
            "Organizations the caller may see",
            get(orgs),
        ),
        E::new(
            "POST",
            "/orgs",
            "Create a sub-organization",
            post(create_org),
        ),
        E::new(
            "PATCH",
            "/orgs/{id}",
            "Rename an organization",
            patch(rename_org),
        ),
        E::new(
            "DELETE",
            "/orgs/{id}",
            "Delete an empty organization",
            delete(delete_org),
        ),
        E::new(
            "GET",
            "/members",
            "Members of the organizations the caller may see",
            get(members),
        ),
        E::new(
            "POST",
            "/members",
            "Invite someone into an organization",
            post(invite),
        ),
        E::new(
            "PATCH",
            "/members/{id}",
            "Change a member's role",
            patch(change_role),
        ),
        E::new(
            "DELETE",
            "/members/{id}",
            "Remove a membership",
            delete(remove_member),
        ),
        E::new("GET", "/roles", "Roles the caller may see", get(roles)),
        E::new(
            "POST",
            "/roles",
            "Define a role in an organization",
            post(create_role),
        ),
        E::new(
            "PATCH",
            "/roles/{id}",
            "Replace a role's permissions",
            patch(edit_role),
        ),
        E::new(
            "DELETE",
            "/roles/{id}",
            "Delete a role nobody holds",
            delete(delete_role),
        ),
        E::new(
            "POST",
            "/users/{id}/email",
            "Change a person's email",
            post(change_email),
        ),
        E::new(
            "POST",
            "/users/{id}/password-reset",
            "Issue a password reset code",
            post(reset_password),
        ),
        E::new(
            "GET",
            "/audit",
            "The audit log as the caller may see it",
            get(audit_log),
        ),
    ]
}

/// Milliseconds: what the sharing state's clock readings are in.
fn now_ms() -> i64 {
    unix_now() * 1000
}

fn caller(authed: &Authed) -> Caller {
    authed.caller()
}

/// The organizations the caller may see: all live ones for the console.
fn visible<'a>(access: &Access<'a>, authed: &Authed) -> std::collections::HashSet<&'a str> {
    if authed.console {
        access
            .state
            .orgs()
            .keys()
            .map(String::as_str)
            .filter(|o| access.org_live(o))
            .collect()
    } else {
        access.visible_orgs(&authed.session.user)
    }
}

type Reply = Result<Json<Value>, ApiError>;

/// Every device the caller may see, across all their organizations and
/// shares, no switching, each with the organization path they may see.
///
/// Thousands of devices take milliseconds to list and encode: that runs on
/// a blocking thread, from a snapshot, so other requests and operations go on.
async fn devices(
    State(s): State<AppState>,
    authed: Authed,
) -> Result<axum::response::Response, ApiError> {
    let state = s.replica.snapshot()?;
    let body = tokio::task::spawn_blocking(move || {
        let access = Access::new(&state, now_ms());
        let list = if authed.console {
            access.all_devices()
        } else {
            access.devices_of(&authed.session.user)
        };
        serde_json::to_vec(&list)
    })
    .await
    .map_err(|e| OpError::Internal(e.to_string()))?
    .map_err(|e| OpError::Internal(e.to_string()))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    org: String,
    name: String,
    #[serde(default)]
    template: Option<String>,
}

async fn add_device(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewDevice>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = caller(&authed);
    let id = s
        .replica
        .apply(|t| t.add_device(&by, &req.org, &req.name, req.template.as_deref(), now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn device(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply {
    let found = s.replica.with_state(|state| {
        let access = Access::new(state, now_ms());
        if authed.console {
            return access.all_devices().into_iter().find(|d| d.id == id);
        }
        let device = state.devices().get(&id)?;
        access.device_for(&authed.session.user, device)
    })?;
    let device = found.ok_or_else(|| OpError::NotFound(format!("device {id}")))?;
    Ok(Json(json!(device)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Name {
    name: String,
}

async fn rename_device(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Name>,
) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.rename_device(&by, &id, &req.name, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

async fn delete_device(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.delete_device(&by, &id, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    org: String,
}

async fn move_device(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Move>,
) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.move_device(&by, &id, &req.org, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferRequest {
    /// A member's user id or email.
    to: String,
    #[serde(default)]
    org: Option<String>,
}

async fn transfer(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<TransferRequest>,
) -> Reply {
    let by = caller(&authed);
    let done = s
        .replica
        .apply(|t| t.transfer(&by, &id, &req.to, req.org.as_deref(), now_ms()))
        .await?;
    Ok(Json(match done {
        Transfer::Done { op, org } => json!({ "transferred": true, "op": op, "org": org }),
        Transfer::AlreadyOwner(message) => json!({ "transferred": false, "message": message }),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareRequest {
    with: String,
    level: Level,
    /// Unix milliseconds by the hub's clock.
    #[serde(default)]
    expires: Option<i64>,
}

async fn share(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ShareRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = caller(&authed);
    let share = s
        .replica
        .apply(|t| t.share(&by, &id, &req.with, req.level, req.expires, now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": share }))))
}

async fn unshare(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply {
    let by = caller(&authed);
    let op = s.replica.apply(|t| t.unshare(&by, &id, now_ms())).await?;
    Ok(Json(json!({ "op": op })))
}

async fn orgs(State(s): State<AppState>, authed: Authed) -> Reply {
    let list = s.replica.with_state(|state| {
        let access = Access::new(state, now_ms());
        let visible = visible(&access, &authed);
        let mut out: Vec<Value> = state
            .orgs()
            .values()
            .filter(|o| visible.contains(o.id.as_str()))
            .map(|o| {
                // A parent the caller may not see is not named (M4).
                let parent = o.parent.as_deref().filter(|p| visible.contains(p));
                json!({ "id": o.id, "name": o.name, "parent": parent })
            })
            .collect();
        out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        out
    })?;
    Ok(Json(json!(list)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrg {
    parent: String,
    name: String,
}

async fn create_org(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewOrg>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = caller(&authed);
    let id = s
        .replica
        .apply(|t| t.create_org(&by, &req.parent, &req.name, now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn rename_org(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Name>,
) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.rename_org(&by, &id, &req.name, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

async fn delete_org(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.delete_org(&by, &id, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

async fn members(State(s): State<AppState>, authed: Authed) -> Reply {
    let list = s.replica.with_state(|state| {
        let access = Access::new(state, now_ms());
        let visible = visible(&access, &authed);
        state
            .memberships()
            .values()
            .filter(|m| visible.contains(m.org.as_str()) && access.membership_live(m))
            .map(|m| {
                let person = state.canonical(&m.user);
                json!({
                    "membership": m.id,
                    "user": person,
                    "email": state.users().get(person).map(|u| u.email.as_str()),
                    "org": m.org,
                    "role": m.role,
                    "role_name": state.roles().get(&m.role).map(|r| r.name.as_str()),
                })
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Json(json!(list)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    email: String,
    org: String,
    role: String,
}

async fn invite(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<InviteRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = caller(&authed);
    let invited = s
        .replica
        .apply(|t| t.invite(&by, &req.email, &req.org, &req.role, now_ms()))
        .await?;
    // A person without a password yet gets a code to set one; someone who
    // already has an account in this household just logs in.
    let code = s.replica.issue_invite(&invited.user, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "membership": invited.membership,
            "user": invited.user,
            "existing_user": invited.existing_user,
            "warning": invited.warning,
            "invite_code": code,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: String,
}

async fn change_role(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RoleChange>,
) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.change_role(&by, &id, &req.role, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

async fn remove_member(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply {
    let by = caller(&authed);
    let removed = s
        .replica
        .apply(|t| t.remove_member(&by, &id, now_ms()))
        .await?;
    // Someone with no membership left is logged out everywhere on this hub.
    let gone: Option<Vec<String>> = s.replica.with_state(|state| {
        let user = state.memberships().get(&id)?.user.clone();
        let access = Access::new(state, now_ms());
        if access.memberships_of(&user).next().is_some() {
            return None;
        }
        Some(state.person_ids(&user))
    })?;
    if let Some(ids) = gone {
        s.accounts
            .sessions()
            .revoke(|session| ids.contains(&session.user))
            .await
            .map_err(crate::accounts::AccountError::from)?;
    }
    Ok(Json(json!({
        "op": removed.op,
        "ownerless_devices": removed.ownerless_devices,
    })))
}

async fn roles(State(s): State<AppState>, authed: Authed) -> Reply {
    let list = s.replica.with_state(|state| {
        let access = Access::new(state, now_ms());
        let visible = visible(&access, &authed);
        state
            .roles()
            .values()
            .filter(|r| !r.deleted && visible.contains(r.org.as_str()))
            .map(|r| {
                let perms: Vec<&str> = r.perms.iter().map(Permission::name).collect();
                json!({ "id": r.id, "name": r.name, "org": r.org, "permissions": perms })
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Json(json!(list)))
}

/// Permission names, each checked (an unknown name is an error here).
fn perm_set(names: &[String]) -> Result<PermSet, ApiError> {
    let perms = names
        .iter()
        .map(|n| {
            Permission::from_name(n).ok_or_else(|| {
                let known: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
                ApiError::invalid(format!(
                    "unknown permission {n:?}; known: {}",
                    known.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PermSet::of(&perms))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRole {
    org: String,
    name: String,
    permissions: Vec<String>,
}

async fn create_role(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewRole>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = caller(&authed);
    let perms = perm_set(&req.permissions)?;
    let id = s
        .replica
        .apply(|t| t.create_role(&by, &req.org, &req.name, perms, now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEdit {
    permissions: Vec<String>,
}

async fn edit_role(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RoleEdit>,
) -> Reply {
    let by = caller(&authed);
    let perms = perm_set(&req.permissions)?;
    let op = s
        .replica
        .apply(|t| t.edit_role(&by, &id, perms, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

async fn delete_role(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.delete_role(&by, &id, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailChange {
    email: String,
}

async fn change_email(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<EmailChange>,
) -> Reply {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.change_email(&by, &id, &req.email, now_ms()))
        .await?;
    Ok(Json(json!({ "op": op })))
}

/// A code the person sets a new password with (`POST /invites/accept`);
/// needs `manage_users` over every organization they belong to.
async fn reset_password(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let code = s
        .replica
        .reset_password(&caller(&authed), &id, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "reset_code": code }))))
}

async fn audit_log(State(s): State<AppState>, authed: Authed) -> Reply {
    let by = caller(&authed);
    let log = s.replica.audit_log()?;
    let state = s.replica.snapshot()?;
    let views = audit::read(&state, &log, now_ms(), &by);
    Ok(Json(json!(views)))
}
