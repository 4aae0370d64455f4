//! Devices over HTTP: list (across all the caller's organizations and
//! shares), add, get, rename, change template, delete, move, transfer, share, unshare. Every
//! handler runs the operation on the replica, which checks it against the
//! replicated permissions: 404 outside the caller's view, 403 naming the
//! permission, 409 saying what to do instead. It never decides access itself, and never lists
//! the devices on the runtime: the list is built from a snapshot on a blocking thread.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::answers::{Created, Done, Transferred, WithToken};
use super::auth::{Authed, Name, Reply, WithStatus, caller};
use super::body::JsonBody;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::tenancy::ops::Transfer;
use crate::tenancy::state::Level;
use crate::tenancy::{Access, OpError, VisibleDevice};

pub fn endpoints() -> Vec<Endpoint> {
    use Endpoint as E;
    vec![
        E::new(
            "GET",
            "/devices",
            "Every device the caller may see, across organizations",
            get(devices),
        )
        .answers::<Vec<VisibleDevice>>(200),
        E::new("POST", "/devices", "Add a device", post(add_device))
            .body::<NewDevice>()
            .answers::<WithToken>(201),
        E::new(
            "GET",
            "/devices/{id}",
            "One device as the caller sees it",
            get(device),
        )
        .answers::<DeviceDetail>(200),
        E::new(
            "PATCH",
            "/devices/{id}",
            "Rename a device",
            patch(rename_device),
        )
        .body::<Name>()
        .answers::<Done>(200),
        E::new(
            "PUT",
            "/devices/{id}/template",
            "Make a device another kind: a template usable in its organization, or none",
            put(set_template),
        )
        .body::<TemplateChoice>()
        .answers::<Done>(200),
        E::new(
            "DELETE",
            "/devices/{id}",
            "Delete a device",
            delete(delete_device),
        )
        .answers::<Done>(200),
        E::new(
            "POST",
            "/devices/{id}/move",
            "Move a device to another organization",
            post(move_device),
        )
        .body::<Move>()
        .answers::<Done>(200),
        E::new(
            "POST",
            "/devices/{id}/transfer",
            "Transfer a device to a member",
            post(transfer),
        )
        .body::<TransferRequest>()
        .answers::<Transferred>(200),
        E::new(
            "POST",
            "/devices/{id}/shares",
            "Share a device with a member",
            post(share),
        )
        .body::<ShareRequest>()
        .answers::<Created>(201),
        E::new("DELETE", "/shares/{id}", "Revoke a share", delete(unshare)).answers::<Done>(200),
    ]
}

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
        let access = Access::new(&state, s.clock.now_ms());
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    org: String,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
    #[serde(default)]
    template: Option<String>,
}

async fn add_device(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewDevice>,
) -> WithStatus<WithToken> {
    let by = caller(&authed);
    let id = s
        .replica
        .apply(|t| {
            t.add_device(
                &by,
                &req.org,
                &req.name,
                req.template.as_deref(),
                s.clock.now_ms(),
            )
        })
        .await?;
    // Its auth token, shown this once (stored hashed; reissued through
    // POST /devices/{id}/token, which ends the old token's sessions).
    let token = s
        .replica
        .issue_device_token(&by, &id, s.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(WithToken { id, token })))
}

async fn device(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<DeviceDetail> {
    let found = s.replica.with_state(|state| {
        let access_now = s.clock.now_ms();
        let access = Access::new(state, access_now);
        let seen = if authed.console {
            access.all_devices().into_iter().find(|d| d.id == id)
        } else {
            let device = state.devices().get(&id)?;
            access.device_for(&authed.session.user, device)
        }?;
        // What the device's controls are: its template's definition.
        let definition = seen
            .template
            .as_ref()
            .and_then(|t| state.templates().get(&t.id))
            .map(|t| t.definition.clone())
            .unwrap_or_default();
        // Why the person may not control it, in the words a refused
        // command would get (never on the console, which may do anything).
        let view_only = match (&authed.console, state.devices().get(&id)) {
            (false, Some(device)) if seen.level == Level::View => {
                let caller = crate::tenancy::Caller::User(authed.session.user.clone());
                match crate::devices::control::may_control(state, &caller, device, access_now) {
                    Err(crate::devices::control::DeviceError::Denied {
                        permission,
                        message,
                    }) => Some(ViewOnly {
                        message,
                        permission: permission.map(|p| p.name()),
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        Some(DeviceDetail {
            device: seen,
            definition,
            view_only,
        })
    })?;
    let device = found.ok_or_else(|| OpError::NotFound(format!("device {id}")))?;
    Ok(Json(device))
}

/// One device as the caller sees it, with its datastreams and events.
#[derive(Serialize, schemars::JsonSchema)]
struct DeviceDetail {
    #[serde(flatten)]
    device: VisibleDevice,
    definition: crate::tenancy::template::Definition,
    /// Set when the person may see the device but not control it: why, as a
    /// refused command would say it, and the permission that would allow it
    /// (none when the device is only shared with them to view).
    view_only: Option<ViewOnly>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct ViewOnly {
    message: String,
    permission: Option<&'static str>,
}

async fn rename_device(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Name>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.rename_device(&by, &id, &req.name, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TemplateChoice {
    /// The template's id; `null` for none (the device then has no
    /// datastreams of its own).
    template: Option<String>,
}

async fn set_template(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<TemplateChoice>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.set_device_template(&by, &id, req.template.as_deref(), s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn delete_device(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.delete_device(&by, &id, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Move {
    org: String,
}

async fn move_device(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Move>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.move_device(&by, &id, &req.org, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

#[derive(Deserialize, schemars::JsonSchema)]
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
) -> Reply<Transferred> {
    let by = caller(&authed);
    let done = s
        .replica
        .apply(|t| t.transfer(&by, &id, &req.to, req.org.as_deref(), s.clock.now_ms()))
        .await?;
    Ok(Json(match done {
        Transfer::Done { op, org } => Transferred::Done {
            transferred: true,
            op,
            org,
        },
        Transfer::AlreadyOwner(message) => Transferred::Unchanged {
            transferred: false,
            message,
        },
    }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ShareRequest {
    with: String,
    level: Level,
    /// Unix milliseconds by the hub's clock.
    #[serde(default)]
    expires: Option<i64>,
    /// Or: ends this many seconds from now by the hub's clock (what an app
    /// whose clock may differ from the hub's sends for "for 48 hours").
    #[serde(default)]
    #[schemars(range(min = 1))]
    for_secs: Option<u64>,
}

async fn share(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ShareRequest>,
) -> WithStatus<Created> {
    let by = caller(&authed);
    let now = s.clock.now_ms();
    let expires = match (req.expires, req.for_secs) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give either expires or for_secs, not both",
            ));
        }
        (_, Some(0)) => return Err(ApiError::invalid("for_secs must be at least 1")),
        (_, Some(secs)) => {
            Some(now.saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)))
        }
        (expires, None) => expires,
    };
    let share = s
        .replica
        .apply(|t| t.share(&by, &id, &req.with, req.level, expires, now))
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id: share })))
}

async fn unshare(State(s): State<AppState>, authed: Authed, Path(id): Path<String>) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.unshare(&by, &id, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}
