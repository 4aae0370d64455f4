//! `GET /api/v1/stream` (WebSocket): what the caller may see, live.
//!
//! On connect the client gets `{"type": "devices", "devices": [...]}`, the
//! same list as `GET /devices`; after every change to the sharing state it
//! gets the list again if it changed for them. A slow client is never
//! buffered for: changes coalesce (a watch, not a queue) and each message is
//! the full current list, so a client that falls behind simply gets the
//! newest state; one that does not take a message within
//! [`SEND_TIMEOUT`] is dropped. A revoked token, or a member with no
//! membership left, is closed at once (close code 4401 / 4403).
//!
//! Device telemetry of the devices in view follows as it happens
//! (`{"type":"value"|"online"|"event", "device":…}`), after a
//! `{"type":"values"}` snapshot of each device as it comes into view. The
//! hub keeps a bounded buffer of updates; a client that falls behind it
//! gets a fresh `values` snapshot (with how many updates it `skipped`)
//! instead of the backlog.
//!
//! Browsers cannot set headers on a WebSocket, so the token may also come
//! as `?access_token=`; nowhere else is a token accepted in a URL.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashSet;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::auth::Authed;
use super::endpoints::Endpoint;
use super::error::ApiError;
use super::values::telemetry;
use crate::accounts::sessions::Session;
use crate::tenancy::{Access, VisibleDevice};

/// How often a stream looks again at what its user may see (time-limited
/// shares, the session's own expiry).
pub const RECHECK: Duration = Duration::from_secs(30);
/// A client that has not taken a message by then is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Close codes (application range): the token is no longer valid; the
/// user is no longer a member of the household.
pub const CLOSE_REVOKED: u16 = 4401;
pub const CLOSE_NOT_MEMBER: u16 = 4403;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            "GET",
            "/stream",
            "Live updates of what the caller may see (WebSocket)",
            get(stream),
        )
        .answers_empty(101),
    ]
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

/// The bearer header or the app's cookie (from its own origin only), or
/// else the `access_token` query parameter.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Session, ApiError> {
    match Authed::from_request_parts(parts, state).await {
        Ok(authed) => return Ok(authed.session),
        // Another site's page opening a socket with the cookie.
        Err(refusal) if refusal.code == "cross_origin" => return Err(refusal),
        Err(_) => {}
    }
    let Query(query) = Query::<TokenQuery>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::unauthorized())?;
    query
        .access_token
        .and_then(|t| state.accounts.authenticate(&t))
        .ok_or_else(ApiError::unauthorized)
}

async fn stream(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let session = match authenticate(&mut parts, &state).await {
        Ok(session) => session,
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade.on_upgrade(move |socket| serve(socket, state, session)),
        Err(rejection) => axum::response::IntoResponse::into_response(rejection),
    }
}

enum Verdict {
    Devices(Vec<VisibleDevice>),
    NotMember,
}

fn look(state: &AppState, user: &str) -> Verdict {
    let Ok(snapshot) = state.replica.snapshot() else {
        return Verdict::NotMember;
    };
    let access = Access::new(&snapshot, state.clock.now_ms());
    if access.memberships_of(user).next().is_none() {
        return Verdict::NotMember;
    }
    Verdict::Devices(access.devices_of(user))
}

async fn serve(mut socket: WebSocket, state: AppState, session: Session) {
    let mut changes = state.replica.subscribe();
    let mut revocations = state.accounts.sessions().subscribe_revocations();
    let mut updates = state.devices.subscribe();
    let mut last: Option<Vec<VisibleDevice>> = None;
    let mut seen: HashSet<String> = HashSet::new();
    let mut dirty = true;
    // Shares expire and sessions end by the clock, not by a change: look
    // again now and then.
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    loop {
        if std::mem::take(&mut dirty) {
            match look(&state, &session.user) {
                Verdict::NotMember => {
                    return close(socket, CLOSE_NOT_MEMBER, "no longer a member").await;
                }
                Verdict::Devices(devices) if last.as_ref() != Some(&devices) => {
                    let fresh: HashSet<String> = devices.iter().map(|d| d.id.clone()).collect();
                    let newly: Vec<String> = fresh.difference(&seen).cloned().collect();
                    let text = json!({ "type": "devices", "devices": devices }).to_string();
                    if !send(&mut socket, text).await {
                        return; // gone, or too slow to keep up: dropped
                    }
                    last = Some(devices);
                    seen = fresh;
                    // Devices that came into view arrive with their values.
                    if !newly.is_empty()
                        && !send(&mut socket, values_message(&state, newly.iter(), 0)).await
                    {
                        return;
                    }
                }
                Verdict::Devices(_) => {}
            }
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                return close(socket, 1001, "the hub is shutting down").await;
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                dirty = true;
            }
            _ = recheck.tick() => {
                if state.clock.unix_now() >= session.expires {
                    return close(socket, CLOSE_REVOKED, "the session expired").await;
                }
                dirty = true;
            }
            revoked = revocations.changed() => {
                if revoked.is_err() || !state.accounts.sessions().is_live(&session.id, state.clock.unix_now()) {
                    return close(socket, CLOSE_REVOKED, "the session was revoked").await;
                }
            }
            update = updates.recv() => match update {
                Ok(update) if seen.contains(update.device()) => {
                    let text = serde_json::to_string(&update).unwrap_or_default();
                    if !send(&mut socket, text).await {
                        return;
                    }
                }
                Ok(_) => {}
                // Fell behind the hub's bounded buffer: the current values
                // of everything in view replace what was skipped.
                Err(RecvError::Lagged(skipped)) => {
                    if !send(&mut socket, values_message(&state, seen.iter(), skipped)).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {} // pings are answered by the library; the rest is ignored
            },
        }
    }
}

/// `{"type":"values","skipped":N,"devices":{id:{online,values,…}}}`.
fn values_message<'a>(
    state: &AppState,
    devices: impl Iterator<Item = &'a String>,
    skipped: u64,
) -> String {
    let all: std::collections::BTreeMap<String, super::answers::Telemetry> = devices
        .map(|id| (id.clone(), telemetry(&state.devices, id)))
        .collect();
    json!({ "type": "values", "skipped": skipped, "devices": all }).to_string()
}

/// Sends `text` unless the client takes longer than [`SEND_TIMEOUT`].
async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}
