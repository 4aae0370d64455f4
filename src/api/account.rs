//! Onboarding, login and the caller's own account:
//! `POST /setup`, `POST /login` and `POST /invites/accept` (the only routes
//! besides health that answer without a token), `POST /logout`, `GET /me`,
//! `GET /sessions`, `POST /me/password`, `DELETE /sessions/{id}`. It never checks a password or
//! code itself (the accounts layer does, throttled), and a caller never ends another's session.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Authed;
use super::body::JsonBody;
use super::browser;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::accounts::sessions::Session;
use crate::accounts::{Login, password};
use crate::tenancy::Access;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::public(
            "POST",
            "/setup",
            "Set up a new hub with its setup code",
            post(setup),
        )
        .body::<SetupRequest>()
        .answers::<LoginAnswer>(201),
        Endpoint::public(
            "POST",
            "/login",
            "Log in with email and password",
            post(login),
        )
        .body::<LoginRequest>()
        .answers::<LoginAnswer>(200),
        Endpoint::public(
            "POST",
            "/invites/accept",
            "Set a password with an invite or reset code, and log in",
            post(accept_invite),
        )
        .body::<AcceptRequest>()
        .answers::<LoginAnswer>(200),
        Endpoint::new("POST", "/logout", "End this session", post(logout)).answers_empty(204),
        Endpoint::new("GET", "/me", "The caller and their memberships", get(me)).answers::<Me>(200),
        Endpoint::new(
            "POST",
            "/me/password",
            "Change one's password",
            post(change_password),
        )
        .body::<PasswordChange>()
        .answers_empty(204),
        Endpoint::new(
            "GET",
            "/sessions",
            "One's live sessions, this one marked",
            get(sessions),
        )
        .answers::<Vec<ListedSession>>(200),
        Endpoint::new(
            "DELETE",
            "/sessions/{id}",
            "End one of one's sessions",
            axum::routing::delete(end_session),
        )
        .answers_empty(204),
    ]
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetupRequest {
    code: String,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    household: String,
    #[schemars(email)]
    email: String,
    #[schemars(length(min = password::MIN_LEN, max = password::MAX_LEN / 4))]
    password: String,
    #[serde(default)]
    label: Option<String>,
    /// A browser's login: the session goes into an `HttpOnly` cookie and
    /// the answer carries no token.
    #[serde(default)]
    cookie: bool,
}

async fn setup(
    State(state): State<AppState>,
    // None through the admin socket, which only root and the service reach.
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    JsonBody(req): JsonBody<SetupRequest>,
) -> Result<(StatusCode, LoggedIn), ApiError> {
    let label = req.label.as_deref().unwrap_or("setup");
    let login = state
        .accounts
        .setup(
            &req.code,
            &req.household,
            &req.email,
            &req.password,
            label,
            peer.map_or(std::net::Ipv6Addr::LOCALHOST.into(), |p| p.0.0.ip()),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        LoggedIn::new(&state, login, req.cookie),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    label: Option<String>,
    /// A browser's login: the session goes into an `HttpOnly` cookie and
    /// the answer carries no token.
    #[serde(default)]
    cookie: bool,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<LoggedIn, ApiError> {
    let label = req.label.as_deref().unwrap_or("login");
    let login = state
        .accounts
        .login(&req.email, &req.password, label, peer.ip())
        .await?;
    Ok(LoggedIn::new(&state, login, req.cookie))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AcceptRequest {
    code: String,
    #[schemars(length(min = password::MIN_LEN, max = password::MAX_LEN / 4))]
    password: String,
    #[serde(default)]
    label: Option<String>,
    /// A browser's login: the session goes into an `HttpOnly` cookie and
    /// the answer carries no token.
    #[serde(default)]
    cookie: bool,
}

async fn accept_invite(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(req): JsonBody<AcceptRequest>,
) -> Result<LoggedIn, ApiError> {
    let label = req.label.as_deref().unwrap_or("invite");
    let login = state
        .accounts
        .accept_invite(&req.code, &req.password, label, peer.ip())
        .await?;
    Ok(LoggedIn::new(&state, login, req.cookie))
}

/// The admin socket acts as the console, which is nobody's account.
fn console_has_no_account() -> ApiError {
    ApiError::invalid("the admin socket acts as the hub's console, which has no account of its own")
}

async fn logout(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1]), ApiError> {
    if authed.console {
        return Err(console_has_no_account());
    }
    let id = authed.session.id.clone();
    state
        .accounts
        .sessions()
        .revoke(|s| s.id == id)
        .await
        .map_err(crate::accounts::AccountError::from)?;
    // A browser forgets its cookie; a bearer client ignores the header.
    let cleared = browser::cleared_cookie(state.secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared)]))
}

/// What setup, login and invite acceptance answer: the session, and its
/// token either in the body (shown this once) or, for a browser, only in
/// the `HttpOnly` cookie.
#[derive(Serialize, schemars::JsonSchema)]
struct LoginAnswer {
    /// The bearer token; absent when the session went into the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    user: String,
    session: Session,
}

struct LoggedIn {
    answer: LoginAnswer,
    cookie: Option<HeaderValue>,
}

impl LoggedIn {
    fn new(state: &AppState, login: Login, cookie: bool) -> Self {
        let Login {
            token,
            user,
            session,
        } = login;
        let (token, cookie) = if cookie {
            let max_age = session.expires - state.clock.unix_now();
            let value = browser::session_cookie(&token, max_age, state.secure_cookies);
            (None, Some(value))
        } else {
            (Some(token), None)
        };
        LoggedIn {
            answer: LoginAnswer {
                token,
                user,
                session,
            },
            cookie,
        }
    }
}

impl IntoResponse for LoggedIn {
    fn into_response(self) -> Response {
        let mut response = Json(self.answer).into_response();
        if let Some(cookie) = self.cookie {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        response
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Me {
    id: String,
    email: String,
    memberships: Vec<MembershipView>,
    /// Whether they administer the household's hubs and sync (every
    /// permission in its root organization).
    hub_admin: bool,
    /// Nobody is left who may invite people and manage roles in the
    /// household's top organization (say two admins on two hubs cut off
    /// from each other each removed the other): the app shows how to
    /// recover it on the hub.
    household_without_admin: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct MembershipView {
    membership: String,
    org: String,
    org_name: String,
    role: String,
    role_name: String,
    /// What the role lets them do here (and in every organization below).
    permissions: Vec<&'static str>,
}

async fn me(State(state): State<AppState>, authed: Authed) -> Result<Json<Me>, ApiError> {
    if authed.console {
        return Err(console_has_no_account());
    }
    let user = authed.session.user;
    let me = state.replica.with_state(|s| {
        let access = Access::new(s, state.clock.now_ms());
        let canonical = s.canonical(&user).to_owned();
        let email = s
            .users()
            .get(&canonical)
            .map(|u| u.email.clone())
            .unwrap_or_default();
        let memberships = access
            .memberships_of(&user)
            .map(|m| MembershipView {
                membership: m.id.clone(),
                org: m.org.clone(),
                org_name: s
                    .orgs()
                    .get(&m.org)
                    .map(|o| o.name.clone())
                    .unwrap_or_default(),
                role: m.role.clone(),
                role_name: s
                    .roles()
                    .get(&m.role)
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                permissions: access
                    .membership_perms(m)
                    .iter()
                    .map(|p| p.name())
                    .collect(),
            })
            .collect();
        let household_without_admin = !s.memberships().values().any(|m| {
            let perms = access.membership_perms(m);
            access.membership_live(m)
                && s.orgs().get(&m.org).is_some_and(|o| o.parent.is_none())
                && perms.contains(crate::tenancy::Permission::ManageUsers)
                && perms.contains(crate::tenancy::Permission::ManageRoles)
        });
        Me {
            household_without_admin,
            hub_admin: super::sync::household_admin(s, &access, &user),
            id: canonical,
            email,
            memberships,
        }
    })?;
    Ok(Json(me))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current: String,
    #[schemars(length(min = password::MIN_LEN, max = password::MAX_LEN / 4))]
    new: String,
}

async fn change_password(
    State(state): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    if authed.console {
        return Err(console_has_no_account());
    }
    state
        .accounts
        .change_password(&authed.session, &req.current, &req.new)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one of the caller's own sessions (another device's login).
async fn end_session(
    State(state): State<AppState>,
    authed: Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = authed.session.user;
    let ended = state
        .accounts
        .sessions()
        .revoke(|s| s.id == id && s.user == user)
        .await
        .map_err(crate::accounts::AccountError::from)?;
    if ended == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("session {id} not found"),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One of the caller's sessions, marked when it is the one asking.
#[derive(Serialize, schemars::JsonSchema)]
struct ListedSession {
    #[serde(flatten)]
    session: Session,
    /// This is the session the request came with (this browser, this app).
    current: bool,
}

async fn sessions(State(state): State<AppState>, authed: Authed) -> Json<Vec<ListedSession>> {
    Json(
        state
            .accounts
            .sessions()
            .of_user(&authed.session.user, state.clock.unix_now())
            .into_iter()
            .map(|session| ListedSession {
                current: session.id == authed.session.id,
                session,
            })
            .collect(),
    )
}
