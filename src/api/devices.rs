//! `GET /devices`: every device the caller may see, across all their
//! organizations and shares, no switching, each with the organization path
//! they may see.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::auth::Authed;
use super::error::ApiError;
use crate::accounts::unix_now;
use crate::tenancy::{Access, VisibleDevice};

pub fn routes() -> Router<AppState> {
    Router::new().route("/devices", get(devices))
}

async fn devices(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<Vec<VisibleDevice>>, ApiError> {
    let user = authed.session.user;
    let list = state
        .replica
        .with_state(|s| Access::new(s, unix_now() * 1000).devices_of(&user))?;
    Ok(Json(list))
}
