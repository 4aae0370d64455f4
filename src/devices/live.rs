//! What the core keeps in memory per device: live values (with a command
//! waiting for the device's confirmation), properties and the device's own
//! information, and the online state shown for a connected link. Plain in-memory data: it is
//! never written to disk from here, and it carries no access rule; whoever shows it checks sight.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LiveValue {
    pub value: String,
    /// Unix milliseconds of the value.
    pub at: i64,
    /// A commanded value the device has not confirmed yet ("wait for
    /// confirmation" datastreams).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DeviceLive {
    pub values: BTreeMap<String, LiveValue>,
    /// Per pin: `label`, `color`, `min`, … as the device set them.
    pub properties: BTreeMap<String, BTreeMap<String, String>>,
    /// What the device announced: `ver`, `h-beat`, `buff-in`, `dev`, `fw`, …
    pub info: BTreeMap<String, String>,
}

/// A connected device's link.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Online {
    pub transport: &'static str,
    /// Unix milliseconds of the login.
    pub since: i64,
    /// The heartbeat the device announced; it is offline after about 1.5x
    /// of it without a frame.
    pub heartbeat_secs: u64,
}
