//! Blynk's device HTTP API, for scripts and devices that use it instead of
//! a connection: `/external/api/get`, `/update`, `/batch/update` and
//! `/isHardwareConnected`, with the device's auth token in the query
//! (`?token=…&V1` or `&V1=42`). The token is the device's own credential,
//! so it reads and writes that device only; an update is a value the
//! device reports and, when it is connected, is also sent to it (Blynk's
//! behaviour). Answers are Blynk's: plain values, `true`/`false`, and
//! errors as `{"error":{"message":…}}` with 400. It never takes a person's session and never
//! reaches a device other than the token's: nothing here acts as a person.

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

/// A refusal in Blynk's shape: `{"error":{"message":…}}`.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": { "message": self.1 } }))).into_response()
    }
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into())
}

type Params = Query<Vec<(String, String)>>;

/// The device of `?token=`, and the other parameters.
fn authenticate(
    s: &AppState,
    params: Vec<(String, String)>,
) -> Result<(String, Vec<(String, String)>), Refusal> {
    let (tokens, rest): (Vec<_>, Vec<_>) = params.into_iter().partition(|(k, _)| k == "token");
    let token = tokens
        .into_iter()
        .next()
        .map(|(_, t)| t)
        .unwrap_or_default();
    let device = device_for_token(&s.devices, &token).ok_or_else(|| bad("Invalid token."))?;
    Ok((device, rest))
}

fn pin(name: &str) -> Result<Pin, Refusal> {
    Pin::parse(name).ok_or_else(|| bad(format!("Wrong pin format: {name}")))
}

async fn get_values(State(s): State<AppState>, Query(params): Params) -> Result<Response, Refusal> {
    let (device, rest) = authenticate(&s, params)?;
    let live = s.devices.values(&device);
    let mut answers = serde_json::Map::new();
    for (name, _) in &rest {
        let pin = pin(name)?;
        let stored = live
            .get(&pin.to_string())
            .ok_or_else(|| bad(format!("No value stored for {pin}.")))?;
        let parts: Vec<&str> = stored.value.split('\0').collect();
        let value = if parts.len() == 1 {
            json!(parts[0])
        } else {
            json!(parts)
        };
        answers.insert(name.clone(), value);
    }
    Ok(match answers.len() {
        0 => return Err(bad("Name a pin: /external/api/get?token=…&V1")),
        // One pin: the bare value, as Blynk answers.
        1 => match answers.into_iter().next().map(|(_, v)| v) {
            Some(Value::String(text)) => text.into_response(),
            Some(other) => Json(other).into_response(),
            None => StatusCode::OK.into_response(),
        },
        _ => Json(Value::Object(answers)).into_response(),
    })
}

async fn update(State(s): State<AppState>, Query(params): Params) -> Result<StatusCode, Refusal> {
    let (device, rest) = authenticate(&s, params)?;
    if rest.is_empty() {
        return Err(bad("Give a value: /external/api/update?token=…&V1=42"));
    }
    // `&V1=1&V1=2` writes two values to one pin; pins keep their order.
    let mut writes: Vec<(Pin, Vec<String>)> = Vec::new();
    for (name, value) in rest {
        let pin = pin(&name)?;
        match writes.iter_mut().find(|(p, _)| *p == pin) {
            Some((_, values)) => values.push(value),
            None => writes.push((pin, vec![value])),
        }
    }
    for (pin, values) in writes {
        match s.devices.record(&device, pin, &values, true).await {
            Ok(_) => s.devices.send_if_online(&device, pin, values).await,
            Err(DeviceError::Invalid(e)) => return Err(bad(e.to_string())),
            Err(e @ (DeviceError::NotFound(_) | DeviceError::Refused(_))) => {
                return Err(bad(e.to_string()));
            }
            Err(e) => {
                let said = super::error::ApiError::from(e);
                return Err(Refusal(said.status, said.message));
            }
        }
    }
    Ok(StatusCode::OK)
}

async fn connected(State(s): State<AppState>, Query(params): Params) -> Result<String, Refusal> {
    let (device, _) = authenticate(&s, params)?;
    Ok(s.devices.online(&device).is_some().to_string())
}
