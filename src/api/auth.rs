//! The bearer-token check every route but health, setup and login passes:
//! an extractor, so a handler that takes [`Authed`] cannot run without it.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::accounts::sessions::Session;

/// A request made with a live session.
pub struct Authed {
    pub session: Session,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
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
        Ok(Authed { session })
    }
}
