//! Sync over HTTP: the `/sync` WebSocket for peers (read-only replication
//! grants; its token may ride in the query string, so this route's URL is
//! never logged), issuing grants, linking to the cloud, and the links'
//! state. Grants and links are for the household's admins (every
//! permission in the root organization) and the console.

use axum::Json;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::account::JsonBody;
use super::auth::{Authed, Reply, now_ms};
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::sync::links::LinkError;
use crate::tenancy::{Access, PermSet};

pub fn endpoints() -> Vec<Endpoint> {
    use Endpoint as E;
    vec![
        E::new(
            "GET",
            "/sync",
            "automerge-repo sync over WebSocket, for peers with a replication grant \
             (Authorization: Bearer, or ?token=)",
            get(socket),
        ),
        E::new(
            "POST",
            "/sync/grants",
            "Issue a read-only replication grant (admins): its token and peer id",
            post(grant),
        ),
        E::new(
            "GET",
            "/sync/status",
            "This hub's sync links and whether each is connected (admins)",
            get(status),
        ),
        E::new(
            "POST",
            "/cloud/link",
            "Link this household to the cloud with a one-time code (admins)",
            post(link),
        ),
    ]
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn socket(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned)
        .or(query.token)
        .ok_or_else(ApiError::unauthorized)?;
    let Some(peer) = state.sync.grant_peer(&token).await? else {
        if state.accounts.authenticate(&token).is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "syncing needs a replication grant (POST /api/v1/sync/grants), not a login",
            ));
        }
        return Err(ApiError::unauthorized());
    };
    let ws = ws.map_err(|e| ApiError::invalid(format!("not a WebSocket upgrade: {e}")))?;
    let replica = state.replica.clone();
    Ok(ws
        .on_upgrade(move |socket| async move {
            crate::sync::accept::accept(replica.repo(), socket, peer);
        })
        .into_response())
}

/// The console, or a member holding every permission in the root organization.
fn require_admin(state: &AppState, authed: &Authed) -> Result<(), ApiError> {
    if authed.console {
        return Ok(());
    }
    let admin = state
        .replica
        .with_state(|s| {
            let access = Access::new(s, now_ms());
            s.orgs().iter().any(|(id, org)| {
                org.parent.is_none()
                    && access.org_live(id)
                    && access.perms_over(&authed.session.user, id) == PermSet::ALL
            })
        })
        .map_err(ApiError::from)?;
    if admin {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the household's admins (every permission in the root organization) may do this",
        ))
    }
}

async fn grant(State(state): State<AppState>, authed: Authed) -> Reply {
    require_admin(&state, &authed)?;
    let (id, token) = state.sync.grant(&authed.session.user, now_ms()).await?;
    let doc = state.replica.doc_ids().map(|d| d.tenant.to_string());
    Ok(Json(json!({
        "id": id,
        "peer_id": format!("{}{id}", crate::tenancy::policy::REPLICA_PREFIX),
        "token": token,
        "document": doc.map(|d| format!("automerge:{d}")),
        "access": "read-only, the sharing document only",
        "note": "the token is shown this once",
    })))
}

async fn status(State(state): State<AppState>, authed: Authed) -> Reply {
    require_admin(&state, &authed)?;
    Ok(Json(json!({
        "peers": state.sync.status(),
        "outbox": state.sync.outbox().await?,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    url: String,
    code: String,
    fingerprint: Option<String>,
}

async fn link(
    State(state): State<AppState>,
    authed: Authed,
    JsonBody(body): JsonBody<LinkBody>,
) -> Reply {
    require_admin(&state, &authed)?;
    let api = state
        .sync
        .link_cloud(&body.url, &body.code, body.fingerprint.as_deref(), now_ms())
        .await
        .map_err(|e| match e {
            LinkError::Store(e) => e.into(),
            LinkError::Unreachable(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "cloud_unreachable", e.to_string())
            }
            LinkError::Refused(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "cloud_refused", e.to_string())
            }
            LinkError::AlreadyLinked(_) | LinkError::NoTenant => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            other => ApiError::invalid(other.to_string()),
        })?;
    Ok(Json(json!({ "linked": body.url, "api": api })))
}
