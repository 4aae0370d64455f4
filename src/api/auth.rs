//! The session check every route but health, setup, login and invite
//! acceptance passes (a bearer token, or the browser's session cookie on a
//! same-origin request): an extractor, so a handler that takes [`Authed`]
//! cannot run without it. Also what handlers ask of the caller: who they
//! act as, which organizations they may see. It never decides a permission itself (the
//! tenancy's `Access` does), and a request is the console only when the admin socket marked it.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::browser;
use super::console::Console;
use super::error::ApiError;
use crate::accounts::sessions::Session;
use crate::tenancy::{Access, Caller};

/// A request made with a live session, or through the admin socket.
pub struct Authed {
    pub session: Session,
    /// Through the admin socket: acts as the console, with every permission.
    pub console: bool,
}

impl Authed {
    pub fn caller(&self) -> Caller {
        if self.console {
            Caller::Console
        } else {
            Caller::User(self.session.user.clone())
        }
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.extensions.get::<Console>().is_some() {
            let session = Session {
                id: "console".into(),
                user: "console".into(),
                label: "admin socket".into(),
                created: 0,
                expires: i64::MAX,
            };
            return Ok(Authed {
                session,
                console: true,
            });
        }
        let token = match bearer(&parts.headers) {
            Some(token) => token,
            None => {
                let token = browser::cookie_token(&parts.headers, state.secure_cookies)
                    .ok_or_else(ApiError::unauthorized)?;
                let authority = parts.uri.authority().map(|a| a.as_str());
                if !browser::same_origin_or_safe(&parts.method, &parts.headers, authority) {
                    return Err(ApiError::cross_origin());
                }
                token
            }
        };
        let session = state
            .accounts
            .authenticate(token)
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Authed {
            session,
            console: false,
        })
    }
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Who an operation is done as (the console through the admin socket).
pub fn caller(authed: &Authed) -> Caller {
    authed.caller()
}

/// The organizations the caller may see: all live ones for the console.
pub fn visible<'a>(access: &Access<'a>, authed: &Authed) -> std::collections::HashSet<&'a str> {
    if authed.console {
        access
            .state
            .orgs()
            .keys()
            .map(String::as_str)
            .filter(|o| access.org_live(o))
            .collect()
    } else {
        access.visible_orgs(&authed.session.user)
    }
}

/// A handler's answer: `T` as JSON, or the refusal.
pub type Reply<T> = Result<Json<T>, ApiError>;

/// A handler's answer with its status (201 Created, 202 Accepted).
pub type WithStatus<T> = Result<(axum::http::StatusCode, Json<T>), ApiError>;

/// A body that only names something (renames).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Name {
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    pub name: String,
}
