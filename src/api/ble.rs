//! The BLE adoption inbox over HTTP: sensors a bridge hears that no device
//! claims, listed with what they report, for those who manage devices in
//! the bridge's organization; adopting one makes a device (with its bind
//! key and reading mapping kept on this hub), dismissing one hides it. It never checks access
//! itself or answers with a bind key: `Ble` decides with the caller, and the inbox lists no keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::answers::Created;
use super::auth::{Authed, Reply, WithStatus, caller};
use super::body::JsonBody;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::ble::{Adoption, Waiting};

pub fn endpoints() -> Vec<Endpoint> {
    use Endpoint as E;
    vec![
        E::new(
            "GET",
            "/ble/inbox",
            "BLE sensors heard by bridges that no device claims yet",
            get(inbox),
        )
        .answers::<Vec<Waiting>>(200),
        E::new(
            "POST",
            "/ble/inbox/{mac}/adopt",
            "Adopt a sensor from the inbox as a device",
            post(adopt),
        )
        .body::<Adopt>()
        .answers::<Created>(201),
        E::new(
            "DELETE",
            "/ble/inbox/{mac}",
            "Dismiss a sensor from the inbox",
            delete(dismiss),
        )
        .answers_empty(204),
    ]
}

async fn inbox(State(s): State<AppState>, authed: Authed) -> Reply<Vec<Waiting>> {
    let list = s.ble.inbox(&caller(&authed)).await?;
    Ok(Json(list))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Adopt {
    org: String,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    name: String,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    bind_key: Option<String>,
    /// Reading name → pin, e.g. `{"temperature": "V1"}`.
    #[serde(default)]
    mapping: Option<Value>,
}

async fn adopt(
    State(s): State<AppState>,
    authed: Authed,
    Path(mac): Path<String>,
    JsonBody(req): JsonBody<Adopt>,
) -> WithStatus<Created> {
    let mapping = req.mapping.unwrap_or_else(|| json!({}));
    if !mapping.is_object() {
        return Err(ApiError::invalid(
            "mapping is an object of reading name to pin, e.g. {\"temperature\": \"V1\"}",
        ));
    }
    let adoption = Adoption {
        org: req.org,
        name: req.name,
        template: req.template,
        bind_key: req.bind_key,
        mapping,
    };
    let device = s.ble.adopt(&caller(&authed), &mac, adoption).await?;
    Ok((StatusCode::CREATED, Json(Created { id: device })))
}

async fn dismiss(
    State(s): State<AppState>,
    authed: Authed,
    Path(mac): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.ble.dismiss(&caller(&authed), &mac).await?;
    Ok(StatusCode::NO_CONTENT)
}
