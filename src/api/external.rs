//! Blynk's device HTTP API, for scripts and devices that use it instead of
//! a connection: `/external/api/get`, `/update`, `/batch/update` and
//! `/isHardwareConnected`, with the device's auth token in the query
//! (`?token=…&V1` or `&V1=42`). The token is the device's own credential,
//! so it reads and writes that device only; an update is a value the
//! device reports and, when it is connected, is also sent to it (Blynk's
//! behaviour). Answers are Blynk's: plain values, `true`/`false`, and
//! errors as `{"error":{"message":…}}` with 400. Like every transport, it
//! takes wrong tokens per address into the devices core's throttle (429
//! once an address has tried too many) and holds each device to its
//! allowance (`blynk.messages_per_second`; a request costs one message per
//! value it writes or pin it reads, at least one; 429 with `Retry-After`
//! beyond it, nothing written; more than a burst's worth in one request is
//! a 400, as it could never be let through). It never takes a person's session and never
//! reaches a device other than the token's: nothing here acts as a person.

use axum::Json;
use axum::Router;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use crate::blynk::requests::device_for_token;
use crate::devices::{DeviceError, Pin, TokenRefusal};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/get", get(get_values))
        .route("/update", get(update).put(update).post(update))
        .route("/batch/update", get(update).put(update).post(update))
        .route("/isHardwareConnected", get(connected))
}

/// A refusal in Blynk's shape: `{"error":{"message":…}}` (with when to
/// come back, for 429).
struct Refusal(StatusCode, String, Option<std::time::Duration>);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": { "message": self.1 } }));
        match self.2 {
            Some(wait) => {
                let secs = wait.as_secs_f64().ceil().max(1.0).to_string();
                (self.0, [(axum::http::header::RETRY_AFTER, secs)], body).into_response()
            }
            None => (self.0, body).into_response(),
        }
    }
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into(), None)
}

fn too_many(message: &str, wait: std::time::Duration) -> Refusal {
    Refusal(
        StatusCode::TOO_MANY_REQUESTS,
        message.to_owned(),
        Some(wait),
    )
}

type Params = Query<Vec<(String, String)>>;
/// The peer (absent through the admin socket).
type Peer = Option<axum::Extension<ConnectInfo<SocketAddr>>>;

/// The device of `?token=` (wrong tokens are counted against the address),
/// once `cost` messages are taken from its allowance, and the other
/// parameters.
fn authenticate(
    s: &AppState,
    peer: &Peer,
    params: Vec<(String, String)>,
    cost: impl FnOnce(&[(String, String)]) -> u32,
) -> Result<(String, Vec<(String, String)>), Refusal> {
    let (tokens, rest): (Vec<_>, Vec<_>) = params.into_iter().partition(|(k, _)| k == "token");
    let token = tokens
        .into_iter()
        .next()
        .map(|(_, t)| t)
        .unwrap_or_default();
    let peer = peer
        .as_ref()
        .map_or_else(|| "the admin socket".to_owned(), |p| p.0.0.to_string());
    let device = s
        .devices
        .admit("http", &peer, "(http) invalid token", || {
            device_for_token(&s.devices, &token)
        })
        .map_err(|refusal| match refusal {
            TokenRefusal::Throttled(wait) => too_many(
                "Too many invalid tokens from this address; try later.",
                wait,
            ),
            TokenRefusal::Wrong => bad("Invalid token."),
        })?;
    let cost = cost(&rest).max(1);
    if f64::from(cost) > s.device_requests.burst() {
        return Err(bad(format!(
            "One request may carry at most {} values.",
            s.device_requests.burst()
        )));
    }
    s.device_requests
        .take(&device, cost)
        .map_err(|wait| too_many("Too many requests for this device; slow down.", wait))?;
    Ok((device, rest))
}

/// What a request costs: one message per value (or pin) it names.
fn per_value(rest: &[(String, String)]) -> u32 {
    u32::try_from(rest.len()).unwrap_or(u32::MAX)
}

fn pin(name: &str) -> Result<Pin, Refusal> {
    Pin::parse(name).ok_or_else(|| bad(format!("Wrong pin format: {name}")))
}

async fn get_values(
    State(s): State<AppState>,
    peer: Peer,
    Query(params): Params,
) -> Result<Response, Refusal> {
    let (device, rest) = authenticate(&s, &peer, params, per_value)?;
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

async fn update(
    State(s): State<AppState>,
    peer: Peer,
    Query(params): Params,
) -> Result<StatusCode, Refusal> {
    let (device, rest) = authenticate(&s, &peer, params, per_value)?;
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
                return Err(Refusal(said.status, said.message, None));
            }
        }
    }
    Ok(StatusCode::OK)
}

async fn connected(
    State(s): State<AppState>,
    peer: Peer,
    Query(params): Params,
) -> Result<String, Refusal> {
    let (device, _) = authenticate(&s, &peer, params, |_| 1)?;
    Ok(s.devices.online(&device).is_some().to_string())
}
