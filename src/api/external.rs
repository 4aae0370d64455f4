//! Blynk's device HTTP API, for scripts and devices that use it instead of
//! a connection: `/external/api/get`, `/update`, `/batch/update` and
//! `/isHardwareConnected`, with the device's auth token in the query
//! (`?token=…&V1` or `&V1=42`). The token is the device's own credential,
//! so it reads and writes that device only; an update is a value the
//! device reports and, when it is connected, is also sent to it (Blynk's
//! behaviour). Answers are Blynk's: plain values, `true`/`false`, and
//! errors as `{"error":{"message":…}}` with 400.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use crate::blynk::requests::device_for_token;
use crate::devices::{DeviceError, Pin};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/get", get(get_values))
        .route("/update", get(update).put(update).post(update))
        .route("/batch/update", get(update).put(update).post(update))
        .route("/isHardwareConnected", get(connected))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message.into() } })),
    )
        .into_response()
}

type Params = Query<Vec<(String, String)>>;

/// The device of `?token=`, and the other parameters.
fn authenticate(
    s: &AppState,
    params: Vec<(String, String)>,
) -> Result<(String, Vec<(String, String)>), Response> {
    let (tokens, rest): (Vec<_>, Vec<_>) = params.into_iter().partition(|(k, _)| k == "token");
    let token = tokens
        .into_iter()
        .next()
        .map(|(_, t)| t)
        .unwrap_or_default();
    match device_for_token(&s.devices, &token) {
        Some(device) => Ok((device, rest)),
        None => Err(error(StatusCode::BAD_REQUEST, "Invalid token.")),
    }
}

fn pin(name: &str) -> Result<Pin, Response> {
    Pin::parse(name)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, format!("Wrong pin format: {name}")))
}

async fn get_values(State(s): State<AppState>, Query(params): Params) -> Response {
    let (device, rest) = match authenticate(&s, params) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let live = s.devices.values(&device);
    let mut answers = serde_json::Map::new();
    for (name, _) in &rest {
        let pin = match pin(name) {
            Ok(pin) => pin,
            Err(response) => return response,
        };
        match live.get(&pin.to_string()) {
            Some(v) => {
                let parts: Vec<&str> = v.value.split('\0').collect();
                let value = if parts.len() == 1 {
                    json!(parts[0])
                } else {
                    json!(parts)
                };
                answers.insert(name.clone(), value);
            }
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("No value stored for {pin}."),
                );
            }
        }
    }
    match answers.len() {
        0 => error(
            StatusCode::BAD_REQUEST,
            "Name a pin: /external/api/get?token=…&V1",
        ),
        // One pin: the bare value, as Blynk answers.
        1 => match answers.into_iter().next().map(|(_, v)| v) {
            Some(Value::String(text)) => text.into_response(),
            Some(other) => Json(other).into_response(),
            None => StatusCode::OK.into_response(),
        },
        _ => Json(Value::Object(answers)).into_response(),
    }
}

async fn update(State(s): State<AppState>, Query(params): Params) -> Response {
    let (device, rest) = match authenticate(&s, params) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if rest.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "Give a value: /external/api/update?token=…&V1=42",
        );
    }
    // `&V1=1&V1=2` writes two values to one pin; pins keep their order.
    let mut writes: Vec<(Pin, Vec<String>)> = Vec::new();
    for (name, value) in rest {
        let pin = match pin(&name) {
            Ok(pin) => pin,
            Err(response) => return response,
        };
        match writes.iter_mut().find(|(p, _)| *p == pin) {
            Some((_, values)) => values.push(value),
            None => writes.push((pin, vec![value])),
        }
    }
    for (pin, values) in writes {
        match s.devices.record(&device, pin, &values, true).await {
            Ok(_) => s.devices.send_if_online(&device, pin, values).await,
            Err(DeviceError::Invalid(e)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    StatusCode::OK.into_response()
}

async fn connected(State(s): State<AppState>, Query(params): Params) -> Response {
    match authenticate(&s, params) {
        Ok((device, _)) => s
            .devices
            .online(&device)
            .is_some()
            .to_string()
            .into_response(),
        Err(response) => response,
    }
}
