//! A device's sharing panel over HTTP: who can see or control it and why
//! (`GET /devices/{id}/access`). Sharing itself (share, unshare, transfer,
//! move) is in `devices.rs`; the decision of who holds what is the
//! replica's ([`crate::tenancy::ops::device_holders`]), never this file's.

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;

use super::AppState;
use super::auth::{Authed, Reply, caller};
use super::endpoints::Endpoint;
use crate::tenancy::ops::{Holder, device_holders};

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            "GET",
            "/devices/{id}/access",
            "Who can see or control a device, and why (its owner and managers)",
            get(access),
        )
        .answers::<Vec<Holder>>(200),
    ]
}

async fn access(
    State(s): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Reply<Vec<Holder>> {
    let by = caller(&authed);
    let holders = s
        .replica
        .with_state(|state| device_holders(state, &by, &id, s.clock.now_ms()))??;
    Ok(Json(holders))
}
