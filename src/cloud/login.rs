//! One login across the households whose credentials the cloud holds: a
//! person with an account in several households (the same email is
//! allowed in each) logs in once and sees all their devices, each labelled
//! with its household, without switching.
//!
//! The login is tried only in the households that have an account for the
//! email (so no household counts a failed login for someone it does not
//! know), each with its own throttling. The answer carries each household's
//! session and one combined token made of them ([`browser::encode`]), which
//! `GET /cloud/v1/me` and `GET /cloud/v1/devices` take; a browser asks for
//! the cloud's cookie instead and is given no token at all.
//!
//! Each household is described only by what the person may see there: the
//! organizations they are members of, as that household's own `/me` says
//! (a sub-organization's member never learns the household's root name).

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

use super::CloudState;
use super::browser::{self, Sessions};
use super::endpoints::{CloudDevice, CloudHousehold, Households, LoggedIn};
use super::registry;
use super::tenants::TenantNode;
use crate::api::error::ApiError;
use crate::tenancy::access::VisibleDevice;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
    /// A browser's login: the sessions go into the cloud's `HttpOnly`
    /// cookie and the answer carries no token.
    #[serde(default)]
    cookie: bool,
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong email or password",
    )
}

/// A browser's state change must come from the app's own origin.
fn cross_origin() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_origin",
        "a browser may change this only from the app's own page",
    )
}

pub async fn login(
    State(state): State<CloudState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    if body.cookie && !same_origin(&uri, &headers) {
        return Err(cross_origin());
    }
    let Ok(email) = crate::tenancy::ops::normalize_email(&body.email) else {
        return Err(invalid());
    };
    let mut sessions: Sessions = Vec::new();
    let mut throttled = None;
    for tenant in registry::tenants(&state.registry).await? {
        if sessions.len() == browser::MAX_HOUSEHOLDS {
            break;
        }
        let node = match state.tenants.node(&tenant).await {
            Ok(node) => node,
            Err(e) => {
                tracing::error!(%tenant, "cloud: a household cannot be opened for a login: {e}");
                continue;
            }
        };
        let known = node
            .replica
            .with_state(|s| s.user_by_email(&email).is_some())
            .unwrap_or(false);
        if !known {
            continue;
        }
        match node
            .accounts
            .login(&email, &body.password, "cloud login", peer.ip())
            .await
        {
            Ok(login) => sessions.push((tenant, login.token)),
            Err(
                e @ (crate::accounts::AccountError::Throttled(_)
                | crate::accounts::AccountError::Busy(_)),
            ) => throttled = Some(e),
            Err(_) => {}
        }
    }
    if sessions.is_empty() {
        if throttled.is_none() {
            crate::accounts::equal_time_refusal(&body.password).await;
        }
        return Err(match throttled {
            Some(refusal) => refusal.into(),
            None => invalid(),
        });
    }
    let households = described(&state, &sessions, !body.cookie).await.households;
    if body.cookie {
        // A new login replaces the cookie: the sessions the old one held
        // (and this login does not renew) end too.
        if let Some((old, true)) = browser::sessions(&headers, state.secure_cookies) {
            let replaced = old.into_iter().filter(|s| !sessions.contains(s)).collect();
            end_sessions(&state, replaced).await;
        }
        let mut answer = Json(LoggedIn {
            token: None,
            households,
        })
        .into_response();
        answer.headers_mut().insert(
            header::SET_COOKIE,
            browser::set_cookie(&sessions, state.secure_cookies),
        );
        return Ok(answer);
    }
    Ok(Json(LoggedIn {
        token: Some(browser::encode(&sessions)),
        households,
    })
    .into_response())
}

/// Asks `tenant`'s own API `method path` as the holder of `token`.
async fn ask(
    node: &TenantNode,
    method: Method,
    path: &str,
    token: &str,
) -> Option<(StatusCode, Value)> {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .ok()?;
    let response = match node.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .ok()?;
    Some((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// Why a household of a login cannot be asked now.
enum Unasked {
    /// The household is not (or no longer) served here: its session is over.
    Gone,
    /// It cannot be opened right now: its session may still hold.
    Unavailable,
}

async fn node_of(state: &CloudState, tenant: &str) -> Result<std::sync::Arc<TenantNode>, Unasked> {
    if !registry::valid_id(tenant) {
        return Err(Unasked::Gone);
    }
    match registry::tenant_known(&state.registry, tenant).await {
        Ok(true) => {}
        Ok(false) => return Err(Unasked::Gone),
        Err(_) => return Err(Unasked::Unavailable),
    }
    state.tenants.node(tenant).await.map_err(|e| {
        tracing::error!(%tenant, "cloud: a household cannot be opened: {e}");
        Unasked::Unavailable
    })
}

/// What the cloud reads of a household's `GET /api/v1/me`.
#[derive(Deserialize)]
struct SeenMe {
    email: String,
    memberships: Vec<SeenMembership>,
}

#[derive(Deserialize)]
struct SeenMembership {
    org_name: String,
}

/// What the households of a login said about it.
struct Described {
    /// Each household whose session holds, as the person sees it there.
    households: Vec<CloudHousehold>,
    /// The households that said the session is over (or are gone); any
    /// other failure (a household that cannot be opened or answer now)
    /// keeps its session for the next time.
    ended: Vec<String>,
}

/// Each household of `sessions`, as the person sees it there (with its
/// token when `tokens`).
async fn described(state: &CloudState, sessions: &Sessions, tokens: bool) -> Described {
    let mut households = Vec::new();
    let mut ended = Vec::new();
    for (tenant, token) in sessions {
        let node = match node_of(state, tenant).await {
            Ok(node) => node,
            Err(Unasked::Gone) => {
                ended.push(tenant.clone());
                continue;
            }
            Err(Unasked::Unavailable) => continue,
        };
        let me = match ask(&node, Method::GET, "/api/v1/me", token).await {
            Some((StatusCode::OK, me)) => me,
            Some((StatusCode::UNAUTHORIZED, _)) => {
                ended.push(tenant.clone());
                continue;
            }
            _ => continue,
        };
        let me: SeenMe = match serde_json::from_value(me) {
            Ok(me) => me,
            Err(e) => {
                tracing::error!(%tenant, "cloud: a household's /me is not as documented: {e}");
                continue;
            }
        };
        let mut names: Vec<String> = me.memberships.into_iter().map(|m| m.org_name).collect();
        names.sort_unstable();
        names.dedup();
        households.push(CloudHousehold {
            tenant: tenant.clone(),
            household: names.join(", "),
            email: me.email,
            api: format!("/tenants/{tenant}/api/v1"),
            app: format!("/tenants/{tenant}/"),
            token: tokens.then(|| token.clone()),
        });
    }
    Described { households, ended }
}

/// The households of the caller's login whose sessions still hold; a
/// browser's cookie is rewritten without the ones that have ended (a
/// household that cannot answer now keeps its session).
pub async fn me(State(state): State<CloudState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (sessions, in_cookie) =
        browser::sessions(&headers, state.secure_cookies).ok_or_else(ApiError::unauthorized)?;
    let Described { households, ended } = described(&state, &sessions, false).await;
    let holding: Sessions = sessions
        .into_iter()
        .filter(|(t, _)| !ended.contains(t))
        .collect();
    let mut answer = if households.is_empty() && holding.is_empty() {
        ApiError::unauthorized().into_response()
    } else if households.is_empty() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "none of your households can answer right now; try again in a moment",
        )
        .into_response()
    } else {
        Json(Households { households }).into_response()
    };
    if in_cookie && !ended.is_empty() {
        answer.headers_mut().insert(
            header::SET_COOKIE,
            browser::set_cookie(&holding, state.secure_cookies),
        );
    }
    Ok(answer)
}

/// Ends each of `sessions` in its household; the ones that could not be
/// ended now (their household cannot be opened or did not answer).
async fn end_sessions(state: &CloudState, sessions: Sessions) -> Sessions {
    let mut kept = Vec::new();
    for (tenant, token) in sessions {
        let ended = match node_of(state, &tenant).await {
            Ok(node) => matches!(
                ask(&node, Method::POST, "/api/v1/logout", &token).await,
                Some((StatusCode::NO_CONTENT | StatusCode::UNAUTHORIZED, _))
            ),
            Err(Unasked::Gone) => true,
            Err(Unasked::Unavailable) => false,
        };
        if !ended {
            kept.push((tenant, token));
        }
    }
    kept
}

/// Ends the caller's session in every household of the login. A household
/// that cannot end it now keeps it in the cookie, and the answer (409)
/// says so: logging out again later ends it.
pub async fn logout(
    State(state): State<CloudState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (sessions, in_cookie) =
        browser::sessions(&headers, state.secure_cookies).ok_or_else(ApiError::unauthorized)?;
    if in_cookie && !same_origin(&uri, &headers) {
        return Err(cross_origin());
    }
    let kept = end_sessions(&state, sessions).await;
    let mut answer = if kept.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        ApiError::new(
            StatusCode::CONFLICT,
            "logout_incomplete",
            format!(
                "logged out everywhere but {} household(s) that cannot answer right now; log out again later",
                kept.len()
            ),
        )
        .into_response()
    };
    if in_cookie {
        answer.headers_mut().insert(
            header::SET_COOKIE,
            browser::set_cookie(&kept, state.secure_cookies),
        );
    }
    Ok(answer)
}

/// A browser's state change comes from the cloud's own page (the Host
/// header, or over HTTP/2 the request's authority).
fn same_origin(uri: &Uri, headers: &HeaderMap) -> bool {
    crate::api::browser::same_origin_or_safe(
        &Method::POST,
        headers,
        uri.authority().map(|a| a.as_str()),
    )
}

/// Every device the person may see in every household of the login, each
/// with its household and whether it can be reached from here now: each
/// household answers as its own API would.
pub async fn devices(
    State(state): State<CloudState>,
    headers: HeaderMap,
) -> Result<Json<Vec<CloudDevice>>, ApiError> {
    let (sessions, _) =
        browser::sessions(&headers, state.secure_cookies).ok_or_else(ApiError::unauthorized)?;
    let mut all = Vec::new();
    let mut answered = false;
    for (tenant, token) in sessions {
        let Ok(node) = node_of(&state, &tenant).await else {
            continue;
        };
        let Some((status, listed)) = ask(&node, Method::GET, "/api/v1/devices", &token).await
        else {
            continue;
        };
        if status != StatusCode::OK {
            continue;
        }
        let listed: Vec<VisibleDevice> = match serde_json::from_value(listed) {
            Ok(listed) => listed,
            Err(e) => {
                tracing::error!(%tenant, "cloud: a household's device list is not as documented: {e}");
                continue;
            }
        };
        answered = true;
        for device in listed {
            // Reachable from here now: its hub is connected and has it.
            let online = node.devices.online(&device.id).is_some();
            all.push(CloudDevice {
                device,
                tenant: tenant.clone(),
                online,
            });
        }
    }
    if !answered {
        return Err(ApiError::unauthorized());
    }
    Ok(Json(all))
}
