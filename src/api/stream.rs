//! `GET /api/v1/stream` (WebSocket): what the caller may see, live.
//!
//! On connect the client gets `{"type": "devices", "devices": [...]}`, the
//! same list as `GET /devices`; after every change to the sharing state it
//! gets the list again if it changed for them. A slow client is never
//! buffered for: changes coalesce (a watch, not a queue) and each message is
//! the full current list, so a client that falls behind simply gets the
//! newest state; one that does not take a message within
//! [`SEND_TIMEOUT`] is dropped. A revoked token, or a member with no
//! membership left, is closed at once (close code 4401 / 4403). Device
//! values join the stream with the devices issue.
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

use super::AppState;
use super::auth::Authed;
use super::endpoints::Endpoint;
use super::error::ApiError;
use crate::accounts::sessions::Session;
use crate::accounts::unix_now;
use crate::tenancy::{Access, VisibleDevice};

/// A client that has not taken a message by then is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Close codes (application range): the token is no longer valid; the
/// user is no longer a member of the household.
pub const CLOSE_REVOKED: u16 = 4401;
pub const CLOSE_NOT_MEMBER: u16 = 4403;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(
        "GET",
        "/stream",
        "Live updates of what the caller may see (WebSocket)",
        get(stream),
    )]
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

/// The bearer header, or else the `access_token` query parameter.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Session, ApiError> {
    if let Ok(authed) = Authed::from_request_parts(parts, state).await {
        return Ok(authed.session);
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
    let access = Access::new(&snapshot, unix_now() * 1000);
    if access.memberships_of(user).next().is_none() {
        return Verdict::NotMember;
    }
    Verdict::Devices(access.devices_of(user))
}

async fn serve(mut socket: WebSocket, state: AppState, session: Session) {
    let mut changes = state.replica.subscribe();
    let mut revocations = state.accounts.sessions().subscribe_revocations();
    let mut last: Option<Vec<VisibleDevice>> = None;
    loop {
        match look(&state, &session.user) {
            Verdict::NotMember => {
                return close(socket, CLOSE_NOT_MEMBER, "no longer a member").await;
            }
            Verdict::Devices(devices) if last.as_ref() != Some(&devices) => {
                let text = serde_json::json!({ "type": "devices", "devices": devices }).to_string();
                match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::text(text))).await {
                    Ok(Ok(())) => last = Some(devices),
                    _ => return, // gone, or too slow to keep up: dropped
                }
            }
            Verdict::Devices(_) => {}
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                return close(socket, 1001, "the hub is shutting down").await;
            }
            changed = changes.changed() => if changed.is_err() { return },
            revoked = revocations.changed() => {
                if revoked.is_err() || !state.accounts.sessions().is_live(&session.id, unix_now()) {
                    return close(socket, CLOSE_REVOKED, "the session was revoked").await;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {} // pings are answered by the library; the rest is ignored
            },
        }
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}
