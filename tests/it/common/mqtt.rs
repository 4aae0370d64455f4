//! An MQTT device on PyPI paho-mqtt (`tests/support/mqtt_device.py`),
//! driven over its stdin like the Blynk clients (`blynk::Client`).

use std::process::Command;

pub use crate::blynk::Client as Device;

/// A device on `127.0.0.1:port` logging in as `username`/`password`;
/// `prefix` goes before every topic it publishes or subscribes
/// (`hearth/<id>/` on a household broker).
pub fn device(port: u16, username: &str, password: &str, prefix: &str) -> Device {
    let mut command = Command::new("python3");
    command
        .arg("-u")
        .arg(crate::common::support("mqtt_device.py"))
        .args(["127.0.0.1", &port.to_string(), username, password, prefix]);
    Device::spawn(command)
}

/// Like [`device`], speaking MQTT 5.
pub fn device_v5(port: u16, username: &str, password: &str) -> Device {
    let mut command = Command::new("python3");
    command
        .arg("-u")
        .arg(crate::common::support("mqtt_device.py"))
        .args(["127.0.0.1", &port.to_string(), username, password, ""])
        .env("MQTT_PROTOCOL", "5");
    Device::spawn(command)
}
