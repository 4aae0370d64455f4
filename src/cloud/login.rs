//! One login across the households whose credentials the cloud holds: a
//! person with an account in several households (the same email is
//! allowed in each) logs in once and sees all their devices, each labelled
//! with its household, without switching.
//!
//! The login is tried only in the households that have an account for the
//! email (so no household counts a failed login for someone it does not
//! know), each with its own throttling. The answer carries each household's
//! session and one combined token made of them (`multi.` + hex of the
//! pairs: it holds nothing the client was not given), which
//! `GET /cloud/v1/devices` takes.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::CloudState;
use super::registry;
use crate::api::error::ApiError;

const MULTI: &str = "multi.";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong email or password",
    )
}

pub async fn login(
    State(state): State<CloudState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    let Ok(email) = crate::tenancy::ops::normalize_email(&body.email) else {
        return Err(invalid());
    };
    let mut sessions = Vec::new();
    let mut throttled = None;
    for tenant in registry::tenants(&state.registry).await? {
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
            Ok(login) => {
                let household = node
                    .replica
                    .with_state(|s| {
                        s.orgs()
                            .values()
                            .find(|o| o.parent.is_none())
                            .map(|o| o.name.clone())
                    })
                    .ok()
                    .flatten();
                sessions.push((tenant, household, login.token));
            }
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
    let pairs: Vec<(&str, &str)> = sessions
        .iter()
        .map(|(t, _, token)| (t.as_str(), token.as_str()))
        .collect();
    let combined = format!(
        "{MULTI}{}",
        hex::encode(serde_json::to_vec(&pairs).unwrap_or_default())
    );
    let households: Vec<Value> = sessions
        .iter()
        .map(|(tenant, household, token)| {
            json!({
                "tenant": tenant,
                "household": household,
                "api": format!("/tenants/{tenant}/api/v1"),
                "token": token,
            })
        })
        .collect();
    Ok(Json(json!({ "token": combined, "households": households })))
}

/// The (tenant, token) pairs of a combined token.
fn pairs(headers: &HeaderMap) -> Option<Vec<(String, String)>> {
    let token = crate::api::auth::bearer(headers)?.strip_prefix(MULTI)?;
    serde_json::from_slice(&hex::decode(token).ok()?).ok()
}

/// Every device the person may see in every household of the login, each
/// with its household: each household answers as its own API would.
pub async fn devices(
    State(state): State<CloudState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let pairs = pairs(&headers).ok_or_else(ApiError::unauthorized)?;
    let mut all = Vec::new();
    for (tenant, token) in pairs {
        if !registry::valid_id(&tenant) || !registry::tenant_known(&state.registry, &tenant).await?
        {
            return Err(ApiError::unauthorized());
        }
        let node = state
            .tenants
            .node(&tenant)
            .await
            .map_err(|_| ApiError::unauthorized())?;
        let request = axum::http::Request::get("/api/v1/devices")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let response = match node.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(ApiError::unauthorized());
        }
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let listed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        for mut device in listed.as_array().cloned().unwrap_or_default() {
            device["tenant"] = json!(tenant);
            all.push(device);
        }
    }
    Ok(Json(Value::Array(all)))
}
