//! Sync over HTTP: the `/sync` WebSocket for peers (read-only replication
//! grants; its token may ride in the query string, so this route's URL is
//! never logged), issuing grants, linking to the cloud, and the links'
//! state. Grants and links are for the household's admins (every
//! permission in the root organization) and the console.

use axum::Json;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AppState;
use super::answers::{
    CloudLinked, Grant, HubRevoked, HubView, Joined, Pairing, PairingCode, SyncStatus,
};
use super::auth::{Authed, Reply};
use super::body::JsonBody;
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
        )
        .answers_empty(101),
        E::new(
            "POST",
            "/sync/grants",
            "Issue a read-only replication grant (admins): its token and peer id",
            post(grant),
        )
        .answers::<Grant>(200),
        E::new(
            "GET",
            "/sync/status",
            "This hub's sync links and whether each is connected (admins)",
            get(status),
        )
        .answers::<SyncStatus>(200),
        E::new(
            "POST",
            "/hubs/pairing",
            "A one-time code with which another hub joins this household (admins)",
            post(pairing_code),
        )
        .answers::<PairingCode>(200),
        E::public(
            "POST",
            "/hubs/join",
            "A hub joining with a pairing code gets its credential and the documents",
            post(redeem_pairing),
        )
        .body::<JoinRequest>()
        .answers::<Pairing>(200),
        E::new(
            "GET",
            "/hubs",
            "The household's hubs and whether each is revoked (admins)",
            get(hubs),
        )
        .answers::<Vec<HubView>>(200),
        E::new(
            "DELETE",
            "/hubs/{id}",
            "Revoke a hub: no peer accepts it again (admins)",
            axum::routing::delete(revoke_hub),
        )
        .answers::<HubRevoked>(200),
        E::new(
            "POST",
            "/sync/join",
            "Join the household of the hub at url with a pairing code (the console of a \
             hub not set up yet)",
            post(join),
        )
        .body::<JoinBody>()
        .answers::<Joined>(200),
        E::new(
            "POST",
            "/cloud/link",
            "Link this household to the cloud with a one-time code (admins)",
            post(link),
        )
        .body::<LinkBody>()
        .answers::<CloudLinked>(200),
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
    let token = super::auth::bearer(&headers)
        .map(str::to_owned)
        .or(query.token)
        .ok_or_else(ApiError::unauthorized)?;
    let hub = state
        .replica
        .with_credentials(|c| c.hub_for_token(&token).map(|h| h.id.clone()))
        .ok()
        .flatten();
    let (grant, hub_token) = match hub {
        Some(hub) => (Some(crate::tenancy::policy::hub_peer(&hub)), true),
        None => (state.sync.grant_peer(&token).await?, false),
    };
    let Some(peer) = grant else {
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
    let sync = state.sync.clone();
    Ok(ws
        .on_upgrade(move |socket| async move {
            // A hub stays only while its token does; a grant is checked at
            // the upgrade (revoking one ends nothing already open).
            let allowed = move |replica: &crate::tenancy::Replica| {
                !hub_token
                    || replica
                        .with_credentials(|c| c.hub_for_token(&token).is_some())
                        .unwrap_or(false)
            };
            let connected = sync.connected(&peer);
            if let Some(ended) = crate::sync::accept::accept(&replica, socket, peer, allowed) {
                ended.await;
            }
            drop(connected);
        })
        .into_response())
}

/// The console, or a member holding every permission in the root organization.
/// Whether `user` holds every permission in the household's root
/// organization: who administers its hubs and sync.
pub(super) fn household_admin(
    s: &crate::tenancy::TenantState,
    access: &Access<'_>,
    user: &str,
) -> bool {
    s.orgs().iter().any(|(id, org)| {
        org.parent.is_none() && access.org_live(id) && access.perms_over(user, id) == PermSet::ALL
    })
}

pub(super) fn require_admin(state: &AppState, authed: &Authed) -> Result<(), ApiError> {
    if authed.console {
        return Ok(());
    }
    let admin = state
        .replica
        .with_state(|s| {
            household_admin(
                s,
                &Access::new(s, state.clock.now_ms()),
                &authed.session.user,
            )
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

async fn grant(State(state): State<AppState>, authed: Authed) -> Reply<Grant> {
    require_admin(&state, &authed)?;
    let (id, token) = state
        .sync
        .grant(&authed.session.user, state.clock.now_ms())
        .await?;
    let doc = state.replica.doc_ids().map(|d| d.tenant.to_string());
    Ok(Json(Grant {
        peer_id: format!("{}{id}", crate::tenancy::policy::REPLICA_PREFIX),
        id,
        token,
        document: doc.map(|d| format!("automerge:{d}")),
        access: "read-only, the sharing document only",
        note: "the token is shown this once",
    }))
}

async fn pairing_code(State(state): State<AppState>, authed: Authed) -> Reply<PairingCode> {
    require_admin(&state, &authed)?;
    let code = state
        .sync
        .pairing_code(state.clock.now_ms())
        .await
        .map_err(link_error)?;
    Ok(Json(PairingCode {
        code,
        valid_minutes: 60,
        hub_id: state.hub_id.to_string(),
    }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct JoinRequest {
    code: String,
    hub_id: String,
    fingerprint: Option<String>,
}

async fn redeem_pairing(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<JoinRequest>,
) -> Reply<Pairing> {
    let pairing = state
        .sync
        .redeem_pairing(
            &body.code,
            &body.hub_id,
            body.fingerprint.as_deref(),
            state.clock.now_ms(),
        )
        .await
        .map_err(|e| match e {
            LinkError::Refused(message) => {
                ApiError::new(StatusCode::FORBIDDEN, "bad_pairing_code", message)
            }
            other => link_error(other),
        })?;
    Ok(Json(Pairing {
        token: pairing.token,
        tenant_doc: pairing.ids.tenant.to_string(),
        credentials_doc: pairing.ids.credentials.to_string(),
        peer: pairing.peer,
    }))
}

async fn hubs(State(state): State<AppState>, authed: Authed) -> Reply<Vec<HubView>> {
    require_admin(&state, &authed)?;
    let hubs = state.replica.with_credentials(|c| {
        c.hubs()
            .values()
            .map(|h| HubView {
                id: h.id.clone(),
                fingerprint: h.fingerprint.clone(),
                revoked: h.revoked,
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Json(hubs))
}

async fn revoke_hub(
    State(state): State<AppState>,
    authed: Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Reply<HubRevoked> {
    require_admin(&state, &authed)?;
    state.replica.revoke_hub(&id).await?;
    Ok(Json(HubRevoked { revoked: id }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    url: String,
    code: String,
    fingerprint: Option<String>,
}

/// Only the console of a hub without a household: nobody else could
/// have logged in to it yet.
async fn join(
    State(state): State<AppState>,
    authed: Authed,
    JsonBody(body): JsonBody<JoinBody>,
) -> Reply<Joined> {
    if !authed.console {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "joining a household is done on the new hub's console: hearth --console hub join URL CODE",
        ));
    }
    state
        .sync
        .join(
            &body.url,
            &body.code,
            body.fingerprint.as_deref(),
            state.clock.now_ms(),
        )
        .await
        .map_err(link_error)?;
    Ok(Json(Joined { joined: body.url }))
}

fn link_error(e: LinkError) -> ApiError {
    match e {
        LinkError::Store(e) => e.into(),
        LinkError::Unreachable(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "peer_unreachable", e.to_string())
        }
        LinkError::Refused(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "peer_refused", e.to_string())
        }
        LinkError::AlreadyLinked(_) | LinkError::NoTenant => {
            ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        other => ApiError::invalid(other.to_string()),
    }
}

async fn status(State(state): State<AppState>, authed: Authed) -> Reply<SyncStatus> {
    require_admin(&state, &authed)?;
    Ok(Json(SyncStatus {
        peers: state.sync.status(),
        incoming: state.sync.incoming(),
        // An outbox that cannot be read is said in each cloud link's
        // telemetry error; the rest of the status still answers.
        outbox: state.sync.outbox().await.unwrap_or_else(|e| {
            tracing::warn!("sync: the outbox's state cannot be read: {e}");
            None
        }),
        conflicts_lost: recent_conflicts(&state, &authed)?,
    }))
}

/// How many lost conflicts the status shows, newest first.
const RECENT_CONFLICTS: usize = 20;

/// Operations that lost a concurrent conflict (or were merged with one),
/// newest first, as the audit log shows them to the caller.
fn recent_conflicts(
    state: &AppState,
    authed: &Authed,
) -> Result<Vec<crate::tenancy::audit::AuditView>, ApiError> {
    use crate::tenancy::audit::Outcome;
    if !state.replica.is_founded() {
        return Ok(Vec::new());
    }
    let log = state.replica.audit_log()?;
    let snapshot = state.replica.snapshot()?;
    let mut lost: Vec<_> =
        crate::tenancy::audit::read(&snapshot, &log, state.clock.now_ms(), &authed.caller())
            .into_iter()
            .filter(|v| matches!(v.outcome, Outcome::LostTo { .. } | Outcome::Merged { .. }))
            .collect();
    lost.sort_by_key(|v| std::cmp::Reverse(v.entry.at));
    lost.truncate(RECENT_CONFLICTS);
    Ok(lost)
}

#[derive(Deserialize, schemars::JsonSchema)]
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
) -> Reply<CloudLinked> {
    require_admin(&state, &authed)?;
    let api = state
        .sync
        .link_cloud(
            &body.url,
            &body.code,
            body.fingerprint.as_deref(),
            state.clock.now_ms(),
        )
        .await
        .map_err(link_error)?;
    Ok(Json(CloudLinked {
        linked: body.url,
        api,
    }))
}
