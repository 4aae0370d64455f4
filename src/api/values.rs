//! Device telemetry over HTTP: live values and online state, history with
//! aggregation, events, and commands (writing a datastream value). Reading
//! needs sight of the device (404 otherwise); a command needs control (403
//! naming the permission), a value the datastream takes (400) and a device
//! that is there to hear it (409 `device_offline`), unless the datastream
//! keeps it for the device's next connection (202 `queued`). It never reads telemetry before
//! the sight check, and never returns more than 10,000 points or events from one query.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::answers::{Commanded, History, Telemetry};
use super::auth::{Authed, Reply, WithStatus, caller};
use super::body::JsonBody;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::devices::{Aggregation, CommandOutcome, DeviceError, Devices, Pin, StoredEvent};
use crate::tenancy::{Access, OpError};

/// Most history points one query returns.
const MAX_POINTS: i64 = 10_000;

pub fn endpoints() -> Vec<Endpoint> {
    use Endpoint as E;
    vec![
        E::new(
            "GET",
            "/devices/{id}/values",
            "A device's live values, online state, properties and information",
            get(values),
        )
        .answers::<Telemetry>(200),
        E::new(
            "PUT",
            "/devices/{id}/values/{pin}",
            "Write a datastream value (a command to the device)",
            put(command),
        )
        .body::<Write>()
        .answers::<Commanded>(200)
        .answers::<Commanded>(202),
        E::new(
            "GET",
            "/devices/{id}/history",
            "History of one pin: raw, or minute/hour count, average, min, max",
            get(history),
        )
        .answers::<History>(200),
        E::new(
            "GET",
            "/devices/{id}/events",
            "A device's events, newest first",
            get(events),
        )
        .answers::<Vec<StoredEvent>>(200),
    ]
}

/// 404 unless the caller may see `device`.
fn visible(s: &AppState, authed: &Authed, device: &str) -> Result<(), ApiError> {
    let seen = s.replica.with_state(|state| {
        let Some(found) = state.devices().get(device).filter(|d| !d.deleted) else {
            return false;
        };
        authed.console
            || Access::new(state, s.clock.now_ms())
                .device_level(&authed.session.user, found)
                .is_some()
    })?;
    if seen {
        Ok(())
    } else {
        Err(OpError::NotFound(format!("device {device}")).into())
    }
}

/// What the API and the stream say about one device's telemetry.
pub fn telemetry(devices: &Devices, device: &str) -> Telemetry {
    Telemetry {
        online: devices.online(device),
        values: devices.values(device),
        properties: devices.properties(device),
        info: devices.info(device),
        history_dropped: devices.history_dropped(device),
        messages_dropped: devices.messages_dropped.of(device),
    }
}

async fn values(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<Telemetry> {
    visible(&s, &authed, &id)?;
    Ok(Json(telemetry(&s.devices, &id)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Write {
    /// One value (text or number), or several (`vw pin a b c`).
    value: Value,
}

fn pin(text: &str) -> Result<Pin, ApiError> {
    Pin::parse(text)
        .ok_or_else(|| ApiError::invalid(format!("{text:?} is not a pin such as V1, D13 or A0")))
}

async fn command(
    State(s): State<AppState>,
    authed: Authed,
    Path((id, pin_name)): Path<(String, String)>,
    JsonBody(req): JsonBody<Write>,
) -> WithStatus<Commanded> {
    let pin = pin(&pin_name)?;
    let as_text = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        _ => Err(ApiError::invalid("a value is text, a number or a boolean")),
    };
    let values = match &req.value {
        Value::Array(items) => items.iter().map(as_text).collect::<Result<Vec<_>, _>>()?,
        one => vec![as_text(one)?],
    };
    let outcome = s
        .devices
        .command(&caller(&authed), &id, pin, values)
        .await?;
    let status = match outcome {
        CommandOutcome::Queued => StatusCode::ACCEPTED,
        CommandOutcome::Sent | CommandOutcome::Pending => StatusCode::OK,
    };
    Ok((status, Json(Commanded { outcome })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    pin: String,
    /// Unix milliseconds; default: a day before `to`.
    from: Option<i64>,
    /// Unix milliseconds, exclusive; default: now.
    to: Option<i64>,
    #[serde(default)]
    aggregation: String,
    limit: Option<i64>,
}

async fn history(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply<History> {
    visible(&s, &authed, &id)?;
    let Query(q) = query.map_err(|e| {
        ApiError::invalid(format!(
            "history takes pin, from, to, aggregation, limit: {e}"
        ))
    })?;
    let pin = pin(&q.pin)?;
    let aggregation = Aggregation::parse(&q.aggregation)
        .ok_or_else(|| ApiError::invalid("aggregation is raw, minute or hour"))?;
    // Unix milliseconds from 1970 to year ~285,000: no arithmetic overflows.
    const RANGE: std::ops::RangeInclusive<i64> = 0..=(1 << 53);
    let to = q.to.unwrap_or_else(|| s.clock.now_ms() + 1);
    let from = q.from.unwrap_or((to - 86_400_000).max(0));
    if !RANGE.contains(&from) || !RANGE.contains(&to) {
        return Err(ApiError::invalid(
            "from and to are Unix milliseconds from 0 to 2^53",
        ));
    }
    let limit = q.limit.unwrap_or(1000).clamp(1, MAX_POINTS);
    let points = s
        .devices
        .history(&id, pin, from, to, aggregation, limit)
        .await
        .map_err(DeviceError::from)?;
    Ok(Json(History {
        pin: pin.to_string(),
        from,
        to,
        points,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    limit: Option<i64>,
}

async fn events(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Reply<Vec<StoredEvent>> {
    visible(&s, &authed, &id)?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_POINTS);
    let events = s
        .devices
        .events(&id, limit)
        .await
        .map_err(DeviceError::from)?;
    Ok(Json(events))
}
