//! `GET /api/v1/health`: the one route that answers without a token, so a
//! monitor or an app that just found the hub by mDNS can check it is alive.
//! It tells nothing private: version, hub id, uptime, and how many times its
//! loops had to be started again (which ones only `/metrics` says; why, the
//! log). It never reads the household's state or
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
    /// `hub`; the cloud's `/api/v1/health` says `cloud` (its app at `/` is
    /// the cross-household home).
    pub role: &'static str,
    pub version: &'static str,
    pub hub_id: String,
    pub uptime_secs: u64,
    /// Times one of the hub's loops panicked or stopped and was started
    /// again since it started; `/metrics` says which
    /// (`hearth_part_restarts_total`). Above 0 the status is `degraded`.
    pub part_restarts: u64,
    /// A household lives on this hub (otherwise the app shows its setup
    /// wizard, and `POST /setup` with the setup code founds one).
    pub set_up: bool,
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
    let part_restarts = state.restarts.all().iter().map(|r| r.count).sum();
    Json(Health {
        status: if part_restarts == 0 { "ok" } else { "degraded" },
        role: "hub",
        part_restarts,
        version: env!("CARGO_PKG_VERSION"),
        hub_id: state.hub_id.to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
        set_up: state.replica.is_founded(),
    })
}
