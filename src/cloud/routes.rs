//! The cloud's routes: `/cloud/v1` for hubs (link, sync) and the cloud's
//! operator (link codes, through the admin socket only), each tenant's
//! own `/api/v1` under `/tenants/<tenant id>`, and the household app: its
//! cross-household home at `/`, each household's at `/tenants/<tenant id>/`.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::CloudState;
use super::registry::{self, LinkRequest, LinkedHub, RegistryError};
use crate::api::auth::bearer;
use crate::api::console::Console;
use crate::api::error::ApiError;
use crate::tenancy::policy::{CLOUD_PEER, DocIds, hub_peer};

/// The largest delivery taken in one request, in rows and in bytes.
const TELEMETRY_ROWS: usize = 10_000;
const TELEMETRY_BODY: usize = 16 << 20;

pub fn router(state: CloudState) -> Router {
    Router::new()
        .route("/cloud/v1/health", get(health))
        .route("/cloud/v1/link", post(link))
        .route("/cloud/v1/sync", get(sync))
        .route(
            "/cloud/v1/telemetry",
            post(telemetry).layer(axum::extract::DefaultBodyLimit::max(TELEMETRY_BODY)),
        )
        .route("/cloud/v1/relay", post(relay))
        .merge(super::endpoints::router())
        .route("/api/v1/health", get(health))
        .route("/cloud/v1/codes", post(issue_code))
        .route("/cloud/v1/hubs", get(hubs))
        .route("/cloud/v1/hubs/{id}", axum::routing::delete(revoke_hub))
        .fallback(tenant_or_app)
        .layer(axum::middleware::from_fn(crate::api::error::json_refusals))
        .layer(axum::middleware::from_fn(
            crate::api::browser::security_headers,
        ))
        .with_state(state)
}

/// The cloud's health; at `/api/v1/health` too, where the app served at
/// `/` learns it is on the cloud (a hub's says `"role": "hub"`).
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "role": "cloud", "version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    code: String,
    hub_id: String,
    tenant_id: String,
    tenant_doc: String,
    credentials_doc: String,
}

/// A hub redeems a link code: the cloud takes on its tenant (opening the
/// tenant's node, so the hub's first connection is adopted) and answers
/// with the hub's credential, shown this once.
async fn link(
    State(state): State<CloudState>,
    body: Result<Json<LinkBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    let tenant = body.tenant_id.clone();
    let request = LinkRequest {
        code: body.code,
        hub_id: body.hub_id,
        tenant_id: body.tenant_id,
        tenant_doc: body.tenant_doc,
        credentials_doc: body.credentials_doc,
    };
    let token = registry::redeem(&state.registry, request, state.clock.now_ms())
        .await
        .map_err(|e| match e {
            RegistryError::BadCode => {
                ApiError::new(StatusCode::FORBIDDEN, "bad_link_code", e.to_string())
            }
            RegistryError::Mismatch(_) | RegistryError::HubTaken(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            RegistryError::Invalid(..) => ApiError::invalid(e.to_string()),
            RegistryError::Store(e) => e.into(),
        })?;
    state.tenants.node(&tenant).await.map_err(unavailable)?;
    tracing::info!(%tenant, "cloud: a hub linked");
    Ok(Json(json!({
        "token": token,
        "peer": CLOUD_PEER,
        "api": format!("/tenants/{tenant}/api/v1"),
    })))
}

/// The linked hub whose credential the request carries, unless the cloud's
/// operator revoked it or the household's admins did (in the household's
/// credentials, which the cloud holds too).
async fn linked_hub(state: &CloudState, headers: &HeaderMap) -> Result<LinkedHub, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown or revoked hub credential: link the hub again",
        )
    };
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
    let hub = registry::hub_for_token(&state.registry, token)
        .await?
        .ok_or_else(refused)?;
    let node = state
        .tenants
        .node(&hub.tenant_id)
        .await
        .map_err(unavailable)?;
    let revoked = node
        .replica
        .with_credentials(|c| c.hubs().get(&hub.hub_id).is_some_and(|h| h.revoked))
        .unwrap_or(false);
    if revoked {
        return Err(refused());
    }
    Ok(hub)
}

/// A hub's sync connection, bound to its hub id, into its tenant's repo.
async fn sync(
    State(state): State<CloudState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let hub = linked_hub(&state, &headers).await?;
    let ws = ws.map_err(|e| ApiError::invalid(format!("not a WebSocket upgrade: {e}")))?;
    let node = state
        .tenants
        .node(&hub.tenant_id)
        .await
        .map_err(unavailable)?;
    let ids = match (hub.tenant_doc.parse(), hub.credentials_doc.parse()) {
        (Ok(tenant), Ok(credentials)) => DocIds {
            tenant,
            credentials,
        },
        _ => {
            return Err(ApiError::invalid(
                "the hub's recorded documents are not valid ids",
            ));
        }
    };
    Ok(ws
        .on_upgrade(move |socket| async move {
            let id = hub.hub_id.clone();
            let ended = crate::sync::accept::accept(
                &node.replica,
                socket,
                hub_peer(&hub.hub_id),
                move |replica| {
                    !replica
                        .with_credentials(|c| c.hubs().get(&id).is_some_and(|h| h.revoked))
                        .unwrap_or(false)
                },
            );
            if let Some(ended) = ended {
                node.relay.connected(&hub.hub_id);
                node.adopt(ids, hub_peer(&hub.hub_id)).await;
                ended.await;
                // Commands for its devices fail at once once it is gone.
                node.relay.disconnected(&hub.hub_id);
            }
        })
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Delivery {
    rows: Vec<crate::devices::outbox::Row>,
}

/// A hub's outbox, delivered: stored once, durably, then acknowledged.
async fn telemetry(
    State(state): State<CloudState>,
    headers: HeaderMap,
    body: Result<Json<Delivery>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let hub = linked_hub(&state, &headers).await?;
    let Json(delivery) = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    if delivery.rows.len() > TELEMETRY_ROWS {
        return Err(ApiError::invalid(format!(
            "at most {TELEMETRY_ROWS} rows per delivery"
        )));
    }
    if delivery
        .rows
        .windows(2)
        .any(|w| (w[0].epoch, w[0].seq) >= (w[1].epoch, w[1].seq))
    {
        return Err(ApiError::invalid("rows must come in outbox order"));
    }
    let node = state
        .tenants
        .node(&hub.tenant_id)
        .await
        .map_err(unavailable)?;
    let ingested = node.devices.ingest(&hub.hub_id, delivery.rows).await?;
    Ok(Json(json!(ingested)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Poll {
    /// The devices connected to the hub now.
    online: Vec<String>,
    /// How long the hub lets the poll wait for a command (it gives up on an
    /// answer some time after); at most [`POLL_WAIT`].
    #[serde(default)]
    wait_ms: Option<u64>,
}

/// The longest a hub's poll waits for a command.
const POLL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A hub's long poll: tells which devices are on it, takes their commands.
async fn relay(
    State(state): State<CloudState>,
    headers: HeaderMap,
    body: Result<Json<Poll>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let hub = linked_hub(&state, &headers).await?;
    let Json(poll) = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    if poll.online.len() > super::relay::MAX_DEVICES {
        return Err(ApiError::invalid(format!(
            "at most {} devices per hub",
            super::relay::MAX_DEVICES
        )));
    }
    let node = state
        .tenants
        .node(&hub.tenant_id)
        .await
        .map_err(unavailable)?;
    let wait = poll
        .wait_ms
        .map_or(POLL_WAIT, std::time::Duration::from_millis)
        .min(POLL_WAIT);
    let commands = node
        .relay
        .poll(&node.devices, &hub.hub_id, poll.online, wait)
        .await;
    Ok(Json(json!({ "commands": commands })))
}

fn console_only(console: Option<axum::Extension<Console>>) -> Result<(), ApiError> {
    console.map(|_| ()).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the cloud's operator, through its admin socket (hearth cloud code)",
        )
    })
}

async fn issue_code(
    State(state): State<CloudState>,
    console: Option<axum::Extension<Console>>,
) -> Result<Json<Value>, ApiError> {
    console_only(console)?;
    let code = registry::issue_code(&state.registry, state.clock.now_ms()).await?;
    Ok(Json(json!({ "code": code, "valid_hours": 24 })))
}

async fn hubs(
    State(state): State<CloudState>,
    console: Option<axum::Extension<Console>>,
) -> Result<Json<Value>, ApiError> {
    console_only(console)?;
    let hubs: Vec<Value> = registry::hubs(&state.registry)
        .await?
        .into_iter()
        .map(|(hub, revoked)| {
            json!({ "hub_id": hub.hub_id, "tenant_id": hub.tenant_id, "revoked": revoked })
        })
        .collect();
    Ok(Json(json!({ "hubs": hubs })))
}

/// The cloud's operator revokes a hub's credential (admin socket only).
async fn revoke_hub(
    State(state): State<CloudState>,
    console: Option<axum::Extension<Console>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    console_only(console)?;
    if !registry::revoke(&state.registry, &id, state.clock.now_ms()).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no linked hub {id}"),
        ));
    }
    Ok(Json(json!({ "revoked": id })))
}

/// `/tenants/<id>/<rest>`: the tenant's own API, answering as on its hubs.
/// A tenant's API, or else the household app's files: any path outside
/// the cloud's and the tenants' APIs is the app's (its shell for the app's
/// own routes, a household's under `/tenants/<tenant id>/`).
async fn tenant_or_app(State(state): State<CloudState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let api = |path: &str| {
        ["/api", "/cloud", "/external", "/metrics"]
            .iter()
            .any(|prefix| {
                path.strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
    };
    match path.strip_prefix("/tenants/") {
        Some(within) => {
            let (tenant, rest) = within.split_once('/').unwrap_or((within, ""));
            if !registry::valid_id(tenant) {
                return not_found();
            }
            if rest == "api" || rest.starts_with("api/") {
                let tenant = tenant.to_owned();
                let rest = rest.to_owned();
                tenant_api(state, request, &tenant, &rest).await
            } else if api(&format!("/{rest}")) {
                not_found()
            } else {
                crate::api::serve_app(request.method(), &format!("/{rest}"), request.headers())
            }
        }
        None if api(&path) => not_found(),
        None => crate::api::serve_app(request.method(), &path, request.headers()),
    }
}

async fn tenant_api(state: CloudState, mut request: Request, tenant: &str, rest: &str) -> Response {
    // A household's API, for its people; what is a hub's own business
    // (its sync socket, pairing, its links, its metrics) is not served
    // here: hubs talk to the cloud on /cloud/v1, where the registry says
    // which it accepts.
    let hub_only = ["api/v1/sync", "api/v1/hubs", "api/v1/cloud/"];
    if !rest.starts_with("api/v1/") || hub_only.iter().any(|p| rest.starts_with(p)) {
        return not_found();
    }
    match registry::tenant_known(&state.registry, tenant).await {
        Ok(true) => {}
        Ok(false) => return not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let node = match state.tenants.node(tenant).await {
        Ok(node) => node,
        Err(e) => return unavailable(e).into_response(),
    };
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    // Over HTTP/2 the host is the request's authority, not a header: the
    // household's same-origin checks are given it as its Host.
    if !request.headers().contains_key(header::HOST)
        && let Some(authority) = request.uri().authority()
        && let Ok(host) = HeaderValue::try_from(authority.as_str())
    {
        request.headers_mut().insert(header::HOST, host);
    }
    match format!("/{rest}{query}").parse::<Uri>() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return not_found(),
    }
    // The cloud operator's admin socket is not a household's console.
    request.extensions_mut().remove::<Console>();
    // The household hears only its own session, as its own cookie.
    let before = request.headers().clone();
    super::browser::into_household(request.headers_mut(), tenant, state.secure_cookies);
    let request: Request<Body> = request;
    let mut response = match node.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    super::browser::from_household(
        response.headers_mut(),
        &before,
        tenant,
        state.secure_cookies,
    );
    response
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "code": "not_found",
            "message": "no such route: the cloud serves /cloud/v1, /tenants/<tenant id>/api/v1 and the household app",
        })),
    )
        .into_response()
}

fn unavailable(e: super::tenants::TenantError) -> ApiError {
    tracing::error!("cloud: a tenant cannot be opened: {e}");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "this tenant cannot be served right now; the cloud's log says why",
    )
}
