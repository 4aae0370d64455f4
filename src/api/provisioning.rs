//! Provisioning over HTTP: templates (a kind of device's datastreams and
//! events), a device's auth token (shown once, stored hashed in the
//! household's credentials document), a device's BLE MAC, and BLE bridges
//! with their tokens. Devices use these with the devices and MQTT issues. A token is answered
//! only when it is made: no route ever reads it back, and a token's hash is never answered.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post, put};
use serde::Deserialize;

use super::AppState;
use super::answers::{BridgeView, Created, Done, TemplateView, Token, WithToken};
use super::auth::{Authed, Reply, WithStatus, caller, visible};
use super::body::JsonBody;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::tenancy::Access;
use crate::tenancy::template::Definition;

pub fn endpoints() -> Vec<Endpoint> {
    use Endpoint as E;
    vec![
        E::new(
            "GET",
            "/templates",
            "Templates the caller may see",
            get(templates),
        )
        .answers::<Vec<TemplateView>>(200),
        E::new(
            "POST",
            "/templates",
            "Define a template in an organization",
            post(create_template),
        )
        .body::<NewTemplate>()
        .answers::<Created>(201),
        E::new(
            "PATCH",
            "/templates/{id}",
            "Replace a template's definition",
            patch(edit_template),
        )
        .body::<TemplateEdit>()
        .answers::<Done>(200),
        E::new(
            "DELETE",
            "/templates/{id}",
            "Delete an unused template",
            delete(delete_template),
        )
        .answers::<Done>(200),
        E::new(
            "POST",
            "/devices/{id}/token",
            "Issue the device's auth token (shown once; the old one stops)",
            post(issue_token),
        )
        .answers::<Token>(201),
        E::new(
            "PUT",
            "/devices/{id}/ble",
            "Set or clear the device's BLE MAC",
            put(set_ble),
        )
        .body::<Ble>()
        .answers::<Done>(200),
        E::new(
            "GET",
            "/bridges",
            "BLE bridges of the organizations the caller may see",
            get(bridges),
        )
        .answers::<Vec<BridgeView>>(200),
        E::new(
            "POST",
            "/bridges",
            "Add a BLE bridge (its token is shown once)",
            post(add_bridge),
        )
        .body::<NewBridge>()
        .answers::<WithToken>(201),
        E::new(
            "DELETE",
            "/bridges/{id}",
            "Revoke a bridge for good",
            delete(revoke_bridge),
        )
        .answers_empty(204),
    ]
}

async fn templates(State(s): State<AppState>, authed: Authed) -> Reply<Vec<TemplateView>> {
    let list = s.replica.with_state(|state| {
        let access = Access::new(state, s.clock.now_ms());
        let visible = visible(&access, &authed);
        state
            .templates()
            .values()
            .filter(|t| !t.deleted && visible.contains(t.org.as_str()))
            .map(|t| TemplateView {
                id: t.id.clone(),
                name: t.name.clone(),
                org: t.org.clone(),
                definition: t.definition.clone(),
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Json(list))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewTemplate {
    org: String,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
    definition: Definition,
}

async fn create_template(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewTemplate>,
) -> WithStatus<Created> {
    let by = caller(&authed);
    let id = s
        .replica
        .apply(|t| t.create_template(&by, &req.org, &req.name, &req.definition, s.clock.now_ms()))
        .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TemplateEdit {
    definition: Definition,
}

async fn edit_template(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<TemplateEdit>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.edit_template(&by, &id, &req.definition, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn delete_template(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.delete_template(&by, &id, s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn issue_token(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> WithStatus<Token> {
    let token = s
        .replica
        .issue_device_token(&caller(&authed), &id, s.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(Token { token })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Ble {
    /// Six hex bytes, e.g. `A4:C1:38:12:34:56`; `null` clears it.
    #[schemars(pattern(r"^[0-9A-Fa-f]{2}([:.-]?[0-9A-Fa-f]{2}){5}$"))]
    mac: Option<String>,
}

async fn set_ble(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Ble>,
) -> Reply<Done> {
    let by = caller(&authed);
    let op = s
        .replica
        .apply(|t| t.set_ble_mac(&by, &id, req.mac.as_deref(), s.clock.now_ms()))
        .await?;
    Ok(Json(Done { op }))
}

async fn bridges(State(s): State<AppState>, authed: Authed) -> Reply<Vec<BridgeView>> {
    let state = s.replica.snapshot()?;
    let access = Access::new(&state, s.clock.now_ms());
    let visible = visible(&access, &authed);
    let list = s.replica.with_credentials(|c| {
        c.bridges()
            .values()
            .filter(|b| visible.contains(b.org.as_str()))
            .map(|b| BridgeView {
                id: b.id.clone(),
                name: b.name.clone(),
                org: b.org.clone(),
                revoked: b.revoked,
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Json(list))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewBridge {
    org: String,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
}

async fn add_bridge(
    State(s): State<AppState>,
    authed: Authed,
    JsonBody(req): JsonBody<NewBridge>,
) -> WithStatus<WithToken> {
    let (id, token) = s
        .replica
        .add_bridge(&caller(&authed), &req.org, &req.name, s.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(WithToken { id, token })))
}

async fn revoke_bridge(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.replica
        .revoke_bridge(&caller(&authed), &id, s.clock.now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
