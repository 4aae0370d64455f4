//! The `[blynk]`, `[mqtt]` and `[devices]` sections: device listeners,
//! serial ports and how long telemetry is kept. Owns their shape, defaults and validation
//! only: it never binds or opens anything (the broker's `password_file` is read only by
//! `password()`), and an unknown key is refused, never ignored.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlynkConfig {
    /// Plain TCP listener; `"off"` disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub listen: Option<SocketAddr>,
    /// TLS listener with the API's certificate; `"off"` disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub tls_listen: Option<SocketAddr>,
    /// Longest frame body accepted from a device, in bytes.
    pub max_body: usize,
    /// Messages one device may send per second (twice that in a burst);
    /// beyond it, messages are answered with status 1 (quota limit).
    pub messages_per_second: u32,
    /// Connections one address may hold on each listener; more are closed.
    pub max_connections_per_address: usize,
    pub serial: Vec<SerialConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Hearth's own MQTT listener for devices; `"off"` disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub listen: Option<SocketAddr>,
    /// Largest packet accepted from a client, in bytes.
    pub max_packet: usize,
    /// Messages one device may send per second (twice that in a burst).
    pub messages_per_second: u32,
    /// Messages one bridge may send per second, over all its connections.
    pub bridge_messages_per_second: u32,
    /// Connections one address may hold on the listener; more are closed.
    pub max_connections_per_address: usize,
    /// The household's own broker, when there is one.
    pub broker: Option<BrokerConfig>,
}

/// `[mqtt.broker]`: an existing broker Hearth connects to as a client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    pub host: String,
    #[serde(default = "default_mqtt_port")]
    pub port: u16,
    #[serde(default)]
    pub username: Option<String>,
    /// A file holding the password (e.g. from systemd's `LoadCredential=`).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Devices there publish under `<prefix>/<device-id>/`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Publish Home Assistant MQTT discovery for devices with a template.
    #[serde(default)]
    pub home_assistant: bool,
    #[serde(default = "default_discovery")]
    pub discovery_prefix: String,
}

fn default_discovery() -> String {
    "homeassistant".into()
}

fn default_mqtt_port() -> u16 {
    1883
}

fn default_prefix() -> String {
    "hearth".into()
}

impl BrokerConfig {
    /// The password from `password_file`, without its trailing newline.
    pub fn password(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.password_file.as_ref()?).ok()?;
        Some(text.trim_end_matches(['\r', '\n']).to_owned())
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([0u16; 8], 1883))),
            max_packet: 65_536,
            messages_per_second: 100,
            bridge_messages_per_second: 1000,
            max_connections_per_address: 128,
            broker: None,
        }
    }
}

impl MqttConfig {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(128..=16 << 20).contains(&self.max_packet) {
            return Err((
                "mqtt.max_packet",
                "must be between 128 and 16777216 bytes".into(),
            ));
        }
        if self.max_connections_per_address == 0 {
            return Err((
                "mqtt.max_connections_per_address",
                "must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialConfig {
    /// A port, or a pattern whose last part has `*` or `?`.
    pub path: PathBuf,
    #[serde(default = "default_baud")]
    pub baud: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesConfig {
    /// Raw history of datastreams that do not set `retention_days`.
    pub retention_days: u32,
    /// Minute averages/min/max.
    pub minute_rollup_days: u32,
    /// Hour averages/min/max.
    pub hour_rollup_days: u32,
    /// History rows one device may add per day; past it its values stay
    /// live but are not kept in history until the day is over.
    pub history_rows_per_day: u64,
}

fn default_baud() -> u32 {
    115_200
}

pub const BAUD_RATES: [u32; 11] = [
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600,
];

fn address_or_off<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text == "off" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not an address such as \"[::]:8080\" or \"0.0.0.0:8080\", nor \"off\""
        ))
    })
}

/// The Blynk body limit when `[blynk] max_body` is not set: bodies longer
/// are refused (the Python clients drop at 1024, Arduino boards send at
/// most 128).
pub const DEFAULT_BLYNK_MAX_BODY: usize = 1024;

impl Default for BlynkConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([0u16; 8], 8080))),
            tls_listen: Some(SocketAddr::from(([0u16; 8], 8441))),
            max_body: DEFAULT_BLYNK_MAX_BODY,
            messages_per_second: 100,
            max_connections_per_address: 128,
            serial: Vec::new(),
        }
    }
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self {
            retention_days: 30,
            minute_rollup_days: 90,
            hour_rollup_days: 3650,
            history_rows_per_day: 1_000_000,
        }
    }
}

impl BlynkConfig {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        if let (Some(a), Some(b)) = (self.listen, self.tls_listen)
            && a == b
            && a.port() != 0
        {
            return Err((
                "blynk.tls_listen",
                format!("{b} is also blynk.listen; use another port"),
            ));
        }
        if !(32..=65_535).contains(&self.max_body) {
            return Err((
                "blynk.max_body",
                "must be between 32 and 65535 bytes".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.messages_per_second) {
            return Err((
                "blynk.messages_per_second",
                "must be between 1 and 1000000".into(),
            ));
        }
        if self.max_connections_per_address == 0 {
            return Err((
                "blynk.max_connections_per_address",
                "must be at least 1".into(),
            ));
        }
        for port in &self.serial {
            if !port.path.is_absolute() {
                return Err((
                    "blynk.serial.path",
                    format!("{} is not an absolute path", port.path.display()),
                ));
            }
            if !BAUD_RATES.contains(&port.baud) {
                return Err((
                    "blynk.serial.baud",
                    format!("{} is not one of {BAUD_RATES:?}", port.baud),
                ));
            }
        }
        Ok(())
    }
}

impl DevicesConfig {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        for (key, days) in [
            ("devices.retention_days", self.retention_days),
            ("devices.minute_rollup_days", self.minute_rollup_days),
            ("devices.hour_rollup_days", self.hour_rollup_days),
        ] {
            if !(1..=36_500).contains(&days) {
                return Err((key, "must be between 1 and 36500 days".into()));
            }
        }
        if self.history_rows_per_day == 0 {
            return Err(("devices.history_rows_per_day", "must be at least 1".into()));
        }
        Ok(())
    }
}
