//! How a device reaches this hub (`GET /connect`), for the app's setup
//! snippets: the hub's name on the LAN, the Blynk ports (plain and TLS, and
//! the certificate firmware trusts for TLS, `GET /connect/device-ca.pem`),
//! the MQTT settings (Hearth's own listener, or the household's broker with
//! its topic prefix) and the Blynk device HTTP API. The ports are the ones
//! the listeners bound, set once they have ([`DeviceListeners`]); nothing
//! here is a secret of the household: a port scan finds as much.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::auth::Authed;
use super::endpoints::Endpoint;
use super::error::ApiError;

/// What the hub's device listeners bound to, set when they have.
pub type Listening = Arc<OnceLock<DeviceListeners>>;

/// The device side of the hub as it is serving.
#[derive(Debug, Clone, Default)]
pub struct DeviceListeners {
    /// The hub's name on the LAN: `<instance>.local`.
    pub host: String,
    pub blynk_port: Option<u16>,
    pub blynk_tls_port: Option<u16>,
    /// Hearth's own MQTT listener.
    pub mqtt_port: Option<u16>,
    /// The household's broker (host, port, topic prefix), when there is one.
    pub broker: Option<(String, u16, String)>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Connect {
    /// The hub's name on the LAN, for firmware and scripts (`<instance>.local`).
    pub host: String,
    pub blynk: BlynkReach,
    /// Absent when neither Hearth's listener nor a broker is configured.
    pub mqtt: Option<MqttReach>,
    /// Blynk's device HTTP API, relative to the hub's address.
    pub http_api: &'static str,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BlynkReach {
    /// Plain TCP (`Blynk.begin(token, ssid, pass, host, port)`); absent when off.
    pub port: Option<u16>,
    /// TLS; absent when off.
    pub tls_port: Option<u16>,
    /// The certificate firmware is given as its CA for the TLS port.
    pub ca_url: Option<&'static str>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MqttReach {
    pub host: String,
    pub port: u16,
    /// `own`: Hearth's listener (username `device`, the token as password);
    /// `broker`: the household's broker, which authenticates devices itself.
    pub kind: &'static str,
    /// The username a device logs in with (`device` on Hearth's listener;
    /// on a broker, the device's id, as its ACL expects).
    pub username: &'static str,
    /// What every topic starts with: empty on Hearth's listener, else
    /// `<prefix>/<device id>/`, with `{device}` standing for the id.
    pub topic_prefix: String,
}

const DEVICE_CA_URL: &str = "/api/v1/connect/device-ca.pem";

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(
            "GET",
            "/connect",
            "How devices reach this hub: its name, the Blynk ports, MQTT, the HTTP API",
            get(connect),
        )
        .answers::<Connect>(200),
        Endpoint::public(
            "GET",
            "/connect/device-ca.pem",
            "The certificate Blynk firmware trusts (as its CA) on the TLS device port, PEM",
            get(device_ca),
        )
        .answers_empty(200),
    ]
}

async fn connect(State(s): State<AppState>, _: Authed) -> Json<Connect> {
    let listening = s.device_listeners.get().cloned().unwrap_or_default();
    let mqtt = match (&listening.broker, listening.mqtt_port) {
        (Some((host, port, prefix)), _) => Some(MqttReach {
            host: host.clone(),
            port: *port,
            kind: "broker",
            username: "{device}",
            topic_prefix: format!("{}/{{device}}/", prefix.trim_end_matches('/')),
        }),
        (None, Some(port)) => Some(MqttReach {
            host: listening.host.clone(),
            port,
            kind: "own",
            username: "device",
            topic_prefix: String::new(),
        }),
        (None, None) => None,
    };
    let has_ca = s.tls.is_some() && listening.blynk_tls_port.is_some();
    Json(Connect {
        host: listening.host,
        blynk: BlynkReach {
            port: listening.blynk_port,
            tls_port: listening.blynk_tls_port,
            ca_url: has_ca.then_some(DEVICE_CA_URL),
        },
        mqtt,
        http_api: "/external/api",
    })
}

async fn device_ca(State(s): State<AppState>) -> Result<Response, ApiError> {
    let Some(tls) = &s.tls else {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "this hub has no TLS device port (api.tls is off)",
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"hearth-device-ca.pem\"",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        tls.device_ca_pem.to_string(),
    )
        .into_response())
}
