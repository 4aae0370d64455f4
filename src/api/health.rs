//! `GET /api/v1/health`: the one route that answers without a token, so a
//! monitor or an app that just found the hub by mDNS can check it is alive.
//! It tells nothing private: version, hub id, uptime. It never reads the household's state or
//! the store, so it answers even while they are busy.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::endpoints::Endpoint;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub hub_id: String,
    pub uptime_secs: u64,
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::public(
            "GET",
            "/health",
            "Liveness, version, hub id, uptime",
            get(health),
        )
        .answers::<Health>(200),
    ]
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        hub_id: state.hub_id.to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
    })
}
