//! Trusting the hub, once: `GET /api/v1/trust` says how its HTTPS
//! certificate is issued and what to compare, and `/trust/ca.crt` (DER, what
//! phones and desktops open) and `/trust/ca.pem` (PEM, for Linux stores and
//! firmware) hand out the hub authority's certificate. They answer without a
//! token: a person needs them before they can log in safely, and they hold
//! nothing a TLS handshake or the mDNS record does not already show.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::endpoints::Endpoint;
use super::error::ApiError;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Trust {
    /// `hub_authority`: issued by the hub's own certificate authority, to be
    /// trusted once; `configured`: the admin's own certificate; `none`: the
    /// hub serves plain HTTP (`api.tls = false`).
    pub issuer: &'static str,
    /// Lower-case hex SHA-256 of what apps pin and a person compares: the
    /// authority's certificate (or the configured one). The same as `fp` in
    /// the mDNS record and the fingerprint `hearth status` prints.
    pub fingerprint: Option<String>,
    /// The authority's name as a trust store lists it.
    pub authority_name: Option<String>,
    /// The names and addresses the serving certificate is for now.
    pub names: Vec<String>,
    /// When the serving certificate ends (Unix ms); it is issued again a
    /// month before, and whenever the hub's addresses change.
    pub not_after_ms: Option<i64>,
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::public(
            "GET",
            "/trust",
            "How this hub's HTTPS certificate is issued, and the fingerprint to compare",
            get(trust),
        )
        .answers::<Trust>(200),
        Endpoint::public(
            "GET",
            "/trust/ca.crt",
            "The hub authority's certificate, DER (application/x-x509-ca-cert)",
            get(ca_der),
        )
        .answers_empty(200),
        Endpoint::public(
            "GET",
            "/trust/ca.pem",
            "The hub authority's certificate, PEM",
            get(ca_pem),
        )
        .answers_empty(200),
    ]
}

async fn trust(State(state): State<AppState>) -> Json<Trust> {
    let Some(tls) = &state.tls else {
        return Json(Trust {
            issuer: "none",
            fingerprint: None,
            authority_name: None,
            names: Vec::new(),
            not_after_ms: None,
        });
    };
    let Some(serving) = &tls.serving else {
        return Json(Trust {
            issuer: "configured",
            fingerprint: Some(tls.fingerprint.clone()),
            authority_name: None,
            names: Vec::new(),
            not_after_ms: None,
        });
    };
    let (names, not_after_ms) = serving.serving();
    Json(Trust {
        issuer: "hub_authority",
        fingerprint: Some(tls.fingerprint.clone()),
        authority_name: Some(serving.authority().name()),
        names: names.listed(),
        not_after_ms: Some(not_after_ms),
    })
}

/// The authority's certificate as `(bytes, type, extension)`, or 404 when
/// the hub has none (plain HTTP, or a configured certificate).
fn authority_file(state: &AppState, pem: bool) -> Result<Response, ApiError> {
    let serving = state
        .tls
        .as_ref()
        .and_then(|t| t.serving.as_ref())
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "this hub has no certificate authority of its own",
            )
        })?;
    let authority = serving.authority();
    let short = &authority.fingerprint()[..8];
    let (body, kind, ext) = if pem {
        (
            authority.pem().as_bytes().to_vec(),
            "application/x-pem-file",
            "pem",
        )
    } else {
        (
            authority.der().to_vec(),
            "application/x-x509-ca-cert",
            "crt",
        )
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"hearth-hub-ca-{short}.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        body,
    )
        .into_response())
}

async fn ca_der(State(state): State<AppState>) -> Result<Response, ApiError> {
    authority_file(&state, false)
}

async fn ca_pem(State(state): State<AppState>) -> Result<Response, ApiError> {
    authority_file(&state, true)
}
