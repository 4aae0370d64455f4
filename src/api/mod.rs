//! The local API: HTTPS (or, by config, plain HTTP) with axum under `/api/v1`.
//!
//! Owns the listener, the accept loop and the router. Each connection is a
//! task in the hub's tracker; on shutdown the loop stops accepting and open
//! connections get a bounded drain. Only `health`, `setup` and `login`
//! answer without a token; every other route takes the [`auth::Authed`]
//! extractor (a bearer token, or a browser's cookie on a same-origin
//! request). Every path outside `/api`, `/external` and `/metrics` is the
//! household app's ([`app_files`]). It never opens or queries the database itself: handlers go through the accounts,
//! replica, devices, BLE and sync handles in `AppState`, which the node opened.

mod account;
mod answers;
mod app_files;
pub use app_files::serve as serve_app;
pub mod auth;
mod ble;
mod body;
pub mod browser;
pub mod connect;
mod connections;
pub mod console;
mod devices;
pub mod endpoints;
pub mod error;
mod external;
mod health;
mod metrics;
mod people;
mod provisioning;
mod sharing;
mod stream;
mod sync;
pub mod tls;
mod trust;
mod values;

pub use connections::{Limits, serve};

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::tenancy::Replica;

/// What every handler may read.
#[derive(Clone)]
pub struct AppState {
    pub hub_id: Arc<str>,
    pub started: Instant,
    pub accounts: Arc<Accounts>,
    pub replica: Arc<Replica>,
    pub devices: Arc<crate::devices::Devices>,
    pub ble: Arc<crate::ble::Ble>,
    /// This hub's sync links and replication grants.
    pub sync: Arc<crate::sync::links::SyncLinks>,
    /// The node's wall clock: every handler reads the time from it.
    pub clock: crate::clock::Clock,
    /// Each device's allowance on the HTTP device API (`/external/api`).
    pub device_requests: Arc<crate::devices::allowance::RequestAllowances>,
    /// Failures of the loops that restart (shown by `/metrics`, `/health`).
    pub restarts: Arc<crate::tasks::Restarts>,
    /// The browser's session cookie is `Secure` (served over TLS).
    pub secure_cookies: bool,
    /// The API's TLS identity (`None` over plain HTTP), for the trust page.
    pub tls: Option<Arc<tls::TlsIdentity>>,
    /// The hub's shutdown: live streams close when it fires.
    pub shutdown: CancellationToken,
    /// How devices reach the hub, once its device listeners are bound.
    pub device_listeners: connect::Listening,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", endpoints::router())
        .nest("/external/api", external::router())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .fallback(app_or_not_found)
        .layer(axum::middleware::from_fn(error::json_refusals))
        .layer(axum::middleware::from_fn(browser::security_headers))
        .with_state(state)
}

/// Every path outside the API is the household app's (its files, or its
/// shell for the app's own routes); an unknown API path is a JSON 404.
async fn app_or_not_found(request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let api = ["/api", "/external", "/metrics"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    if api {
        not_found().await.into_response()
    } else {
        app_files::serve(request.method(), path, request.headers())
    }
}

async fn not_found() -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "code": "not_found",
            "message": "no such route; the API lives under /api/v1",
        })),
    )
}
