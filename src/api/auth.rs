//! The bearer-token check every route but health, setup and login passes:
//! an extractor, so a handler that takes [`Authed`] cannot run without it.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::console::Console;
use super::error::ApiError;
use crate::accounts::sessions::Session;
use crate::tenancy::Caller;

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
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
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
