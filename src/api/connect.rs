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
use axum::http::{HeaderMap, StatusCode, Uri, header};
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
    /// The hub's instance name (`hearth-…`, or as configured).
    pub instance: String,
    /// The hub's name on the LAN, `<instance>.local`, when mDNS announces
    /// it; without mDNS, devices are told the name the asking browser used.
    pub host: Option<String>,
    pub blynk_port: Option<u16>,
    pub blynk_tls_port: Option<u16>,
    /// Hearth's own MQTT listener.
    pub mqtt_port: Option<u16>,
    /// The household's broker (host, port, topic prefix), when there is one.
    pub broker: Option<(String, u16, String)>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Connect {
    /// The hub's instance name, as `hearth status` and mDNS know it.
    pub instance: String,
    /// Whether mDNS announces the hub on the LAN (as `<instance>.local`).
    pub mdns: bool,
    /// The name firmware and scripts reach the hub by: `<instance>.local`
    /// when mDNS announces it, else the name the asker used.
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

async fn connect(
    State(s): State<AppState>,
    _: Authed,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Connect>, ApiError> {
    let Some(listening) = s.device_listeners.get().cloned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the hub's device listeners are still starting; try again in a moment",
        ));
    };
    let host = listening
        .host
        .clone()
        .or_else(|| asked_host(&uri, &headers))
        // Never without a Host header or an authority; a placeholder a
        // person sees is to be replaced.
        .unwrap_or_else(|| "HUB_ADDRESS".to_owned());
    let mqtt = match (&listening.broker, listening.mqtt_port) {
        (Some((host, port, prefix)), _) => Some(MqttReach {
            host: host.clone(),
            port: *port,
            kind: "broker",
            username: "{device}",
            // As the broker client subscribes: the prefix verbatim.
            topic_prefix: format!("{prefix}/{{device}}/"),
        }),
        (None, Some(port)) => Some(MqttReach {
            host: host.clone(),
            port,
            kind: "own",
            username: "device",
            topic_prefix: String::new(),
        }),
        (None, None) => None,
    };
    let has_ca = s.tls.is_some() && listening.blynk_tls_port.is_some();
    Ok(Json(Connect {
        instance: listening.instance.clone(),
        mdns: listening.host.is_some(),
        host,
        blynk: BlynkReach {
            port: listening.blynk_port,
            tls_port: listening.blynk_tls_port,
            ca_url: has_ca.then_some(DEVICE_CA_URL),
        },
        mqtt,
        http_api: "/external/api",
    }))
}

/// The host the request named (HTTP/2's authority, else the `Host` header;
/// no port, an IPv6 address without its brackets): the name this hub is
/// reached by from the asker's network.
fn asked_host(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let host = match uri.authority() {
        Some(authority) => authority.as_str(),
        None => headers.get(header::HOST)?.to_str().ok()?,
    };
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h).trim();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    (!name.is_empty()).then(|| name.to_owned())
}

async fn device_ca(State(s): State<AppState>) -> Result<Response, ApiError> {
    let Some(tls) = &s.tls else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(uri: &str, host: Option<&str>) -> Option<String> {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(header::HOST, host.parse().unwrap());
        }
        asked_host(&uri.parse().unwrap(), &headers)
    }

    #[test]
    fn devices_are_told_the_host_the_asker_named_without_its_port() {
        assert_eq!(
            asked("/connect", Some("pi.lan:8443")).as_deref(),
            Some("pi.lan")
        );
        assert_eq!(
            asked("/connect", Some("192.168.1.9")).as_deref(),
            Some("192.168.1.9")
        );
        assert_eq!(
            asked("/connect", Some("[fe80::1]:8443")).as_deref(),
            Some("fe80::1")
        );
        assert_eq!(
            asked("https://hub.example:8443/connect", Some("other")).as_deref(),
            Some("hub.example"),
            "HTTP/2's authority wins"
        );
        assert_eq!(asked("/connect", None), None);
    }
}
