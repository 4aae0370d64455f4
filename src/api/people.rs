//! Organizations, members, roles, people's accounts and the audit log over
//! HTTP, each filtered by what the caller may see (the console sees all). It never lists
//! anything of an organization the caller may not see, nor names a hidden parent (M4); every
//! change is one replica operation, whose permission check is the replica's, never this file's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use serde::Deserialize;

use super::AppState;
use super::answers::{
    Created, Done, Invited, MemberView, Named, OrgView, Removed, ResetCode, RoleView,
};
use super::auth::{Authed, Name, Reply, WithStatus, caller, visible};
use super::body::JsonBody;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::tenancy::audit::{self, AuditView};
use crate::tenancy::{Access, PermSet, Permission};

pub fn endpoints() -> Vec<Endpoint> {
    use Endpoint as E;
    vec![
        E::new(
            "GET",
            "/orgs",
            "Organizations the caller may see",
            get(orgs),
        )
        .answers::<Vec<OrgView>>(200),
        E::new(
            "POST",
            "/orgs",
            "Create a sub-organization",
            post(create_org),
        )
        .body::<NewOrg>()
        .answers::<Created>(201),
        E::new(
            "GET",
            "/orgs/{id}",
            "One organization the caller may see",
            get(org),
        )
        .answers::<OrgView>(200),
        E::new(
            "PATCH",
            "/orgs/{id}",
            "Rename an organization",
            patch(rename_org),
        )
        .body::<Name>()
        .answers::<Done>(200),
        E::new(
            "DELETE",
            "/orgs/{id}",
            "Delete an empty organization",
            delete(delete_org),
        )
        .answers::<Done>(200),
        E::new(
            "GET",
            "/members",
            "Members of the organizations the caller may see",
            get(members),
        )
        .answers::<Vec<MemberView>>(200),
        E::new(
            "POST",
            "/members",
            "Invite someone into an organization",
            post(invite),
        )
        .body::<InviteRequest>()
        .answers::<Invited>(201),
        E::new(
            "PATCH",
            "/members/{id}",
            "Change a member's role",
            patch(change_role),
        )
        .body::<RoleChange>()
        .answers::<Done>(200),
        E::new(
            "DELETE",
            "/members/{id}",
            "Remove a membership",
            delete(remove_member),
        )
        .answers::<Removed>(200),
        E::new("GET", "/roles", "Roles the caller may see", get(roles))
            .answers::<Vec<RoleView>>(200),
        E::new(
            "POST",
            "/roles",
            "Define a role in an organization",
            post(create_role),
        )
        .body::<NewRole>()
        .answers::<Created>(201),
        E::new(
            "PATCH",
            "/roles/{id}",
            "Replace a role's permissions",
            patch(edit_role),
        )
        .body::<RoleEdit>()
        .answers::<Done>(200),
        E::new(
            "DELETE",
            "/roles/{id}",
            "Delete a role nobody holds",
            delete(delete_role),
        )
        .answers::<Done>(200),
        E::new(
            "POST",
            "/users/{id}/email",
            "Change a person's email",
            post(change_email),
        )
        .body::<EmailChange>()
        .answers::<Done>(200),
        E::new(
            "POST",
            "/users/{id}/password-reset",
            "Issue a password reset code",
            post(reset_password),
        )
        .answers::<ResetCode>(201),
        E::new(
            "GET",
            "/audit",
            "The audit log as the caller may see it",
            get(audit_log),
        )
        .answers::<Vec<AuditView>>(200),
    ]
}

async fn orgs(State(s): State<AppState>, authed: Authed) -> Reply<Vec<OrgView>> {
    let list = s.replica.with_state(|state| {
        let access = Access::new(state, s.clock.now_ms());
        let visible = visible(&access, &authed);
        let mut out: Vec<OrgView> = state
            .orgs()
            .values()
            .filter(|o| visible.contains(o.id.as_str()))
            .map(|o| org_view(o, &visible))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    })?;
    Ok(Json(list))
}

async fn org(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply<OrgView> {
    let found = s.replica.with_state(|state| {
        let access = Access::new(state, s.clock.now_ms());
        let visible = visible(&access, &authed);
        state
            .orgs()
            .get(&id)
            .filter(|o| visible.contains(o.id.as_str()))
            .map(|o| org_view(o, &visible))
    })?;
    found
        .map(Json)
        .ok_or_else(|| crate::tenancy::OpError::NotFound(format!("organization {id}")).into())
}

/// An organization as a reader sees it: a parent they may not see is not
/// named (M4).
fn org_view(o: &crate::tenancy::state::Org, visible: &std::collections::HashSet<&str>) -> OrgView {
    OrgView {
        id: o.id.clone(),
        name: o.name.clone(),
        parent: o.parent.clone().filter(|p| visible.contains(p.as_str())),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewOrg {
    parent: String,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
}

async fn create_org(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewOrg>,
) -> WithStatus<Created> {
    let by = caller(&authed);
    let id = s
        .replica
        .apply(|t| t.create_org(&by, &req.parent, &req.name, s.clock.now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

async fn rename_org(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Name>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.rename_org(&by, &id, &req.name, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn delete_org(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.delete_org(&by, &id, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn members(State(s): State<AppState>, authed: Authed) -> Reply<Vec<MemberView>> {
    // Who has not set a password yet: their invite is still pending.
    let users: Vec<String> = s
        .replica
        .with_state(|state| state.users().keys().cloned().collect())?;
    let without_password: std::collections::HashSet<String> = s.replica.with_credentials(|c| {
        users
            .into_iter()
            .filter(|u| c.password_hash(u).is_none())
            .collect()
    })?;
    let list = s.replica.with_state(|state| {
        let access = Access::new(state, s.clock.now_ms());
        let visible = visible(&access, &authed);
        state
            .memberships()
            .values()
            .filter(|m| visible.contains(m.org.as_str()) && access.membership_live(m))
            .map(|m| {
                let person = state.canonical(&m.user);
                MemberView {
                    membership: m.id.clone(),
                    user: person.to_owned(),
                    email: state.users().get(person).map(|u| u.email.clone()),
                    org: m.org.clone(),
                    role: m.role.clone(),
                    role_name: state.roles().get(&m.role).map(|r| r.name.clone()),
                    pending: state
                        .person_ids(person)
                        .iter()
                        .all(|id| without_password.contains(id)),
                    owns: access
                        .devices_owned_through(&m.id)
                        .into_iter()
                        .filter_map(|d| state.devices().get(&d))
                        .map(|d| Named {
                            id: d.id.clone(),
                            name: d.name.clone(),
                        })
                        .collect(),
                }
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Json(list))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    #[schemars(email)]
    email: String,
    org: String,
    role: String,
}

async fn invite(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<InviteRequest>,
) -> WithStatus<Invited> {
    let by = caller(&authed);
    let invited = s
        .replica
        .apply(|t| t.invite(&by, &req.email, &req.org, &req.role, s.clock.now_ms()))
        .await?;
    // A person without a password yet gets a code to set one; someone who
    // already has an account in this household just logs in.
    let code = s
        .replica
        .issue_invite(&invited.user, s.clock.now_ms())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            membership: invited.membership,
            user: invited.user,
            existing_user: invited.existing_user,
            warning: invited.warning,
            invite_code: code,
        }),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: String,
}

async fn change_role(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RoleChange>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.change_role(&by, &id, &req.role, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn remove_member(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<Removed> {
    let by = caller(&authed);
    let removed = s
        .replica
        .apply(|t| t.remove_member(&by, &id, s.clock.now_ms()))
        .await?;
    // Someone with no membership left is logged out everywhere on this hub.
    let gone: Option<Vec<String>> = s.replica.with_state(|state| {
        let user = state.memberships().get(&id)?.user.clone();
        let access = Access::new(state, s.clock.now_ms());
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
    Ok(Json(Removed {
        op: removed.op,
        ownerless_devices: removed.ownerless_devices,
    }))
}

async fn roles(State(s): State<AppState>, authed: Authed) -> Reply<Vec<RoleView>> {
    let list = s.replica.with_state(|state| {
        let access = Access::new(state, s.clock.now_ms());
        let visible = visible(&access, &authed);
        state
            .roles()
            .values()
            .filter(|r| !r.deleted && visible.contains(r.org.as_str()))
            .map(|r| RoleView {
                id: r.id.clone(),
                name: r.name.clone(),
                org: r.org.clone(),
                permissions: r.perms.iter().map(Permission::name).collect(),
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Json(list))
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewRole {
    org: String,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
    permissions: Vec<String>,
}

async fn create_role(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewRole>,
) -> WithStatus<Created> {
    let by = caller(&authed);
    let perms = perm_set(&req.permissions)?;
    let id = s
        .replica
        .apply(|t| t.create_role(&by, &req.org, &req.name, perms, s.clock.now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RoleEdit {
    permissions: Vec<String>,
}

async fn edit_role(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RoleEdit>,
) -> Reply<Done> {
    let by = caller(&authed);
    let perms = perm_set(&req.permissions)?;
    let op = s
        .replica
        .apply(|t| t.edit_role(&by, &id, perms, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn delete_role(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.delete_role(&by, &id, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct EmailChange {
    #[schemars(email)]
    email: String,
}

async fn change_email(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<EmailChange>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.change_email(&by, &id, &req.email, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

/// A code the person sets a new password with (`POST /invites/accept`);
/// needs `manage_users` over every organization they belong to.
async fn reset_password(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> WithStatus<ResetCode> {
    let code = s
        .replica
        .reset_password(&caller(&authed), &id, s.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(ResetCode { reset_code: code })))
}

async fn audit_log(State(s): State<AppState>, authed: Authed) -> Reply<Vec<AuditView>> {
    let by = caller(&authed);
    let log = s.replica.audit_log()?;
    let state = s.replica.snapshot()?;
    let views = audit::read(&state, &log, s.clock.now_ms(), &by);
    Ok(Json(views))
}
