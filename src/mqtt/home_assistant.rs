//! Home Assistant MQTT discovery (`[mqtt.broker] home_assistant = true`):
//! every device with a template appears in a Home Assistant that uses the
//! household's broker, one sensor per datastream. Hearth publishes the
//! retained discovery configs (`<discovery>/sensor/hearth_<device>_v<pin>/config`)
//! when it connects, when `homeassistant/status` says `online`, and when
//! the household's devices change (an empty retained config removes a
//! sensor that went), and each value as retained state at
//! `<prefix>/<device-id>/state/<datastream name>`. Sensors are read-only
//! in Home Assistant: commands stay with Hearth's permissions. It only builds topics and
//! payloads (the broker link publishes them) and never offers a command topic. It filters by no
//! organization: whoever reads the broker sees every templated device's name.

use std::collections::BTreeMap;

use serde_json::json;

use crate::devices::Update;
use crate::tenancy::TenantState;

/// Discovery configs for `state`: topic → retained payload.
pub fn configs(state: &TenantState, discovery: &str, prefix: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for device in state.devices().values().filter(|d| !d.deleted) {
        let Some(template) = device
            .template
            .as_ref()
            .and_then(|t| state.templates().get(t))
            .filter(|t| !t.deleted)
        else {
            continue;
        };
        for ds in &template.definition.datastreams {
            let id = format!("hearth_{}_v{}", device.id, ds.pin);
            let mut config = json!({
                "name": ds.name,
                "uniq_id": id,
                "obj_id": id,
                "stat_t": format!("{prefix}/{}/state/{}", device.id, ds.name),
                "dev": {
                    "ids": [format!("hearth_{}", device.id)],
                    "name": device.name,
                    "mf": "Hearth",
                    "mdl": template.name,
                },
            });
            if let Some(unit) = &ds.unit {
                config["unit_of_meas"] = json!(unit);
            }
            out.insert(
                format!("{discovery}/sensor/{id}/config"),
                config.to_string(),
            );
        }
    }
    out
}

/// The retained state message of a value update, if it is one.
pub fn state(
    update: &Update,
    prefix: &str,
    name: impl Fn(&str, &str) -> String,
) -> Option<(String, String)> {
    match update {
        Update::Value {
            device,
            pin,
            value,
            pending: false,
            ..
        } => Some((
            format!("{prefix}/{device}/state/{}", name(device, pin)),
            value.replace('\0', ","),
        )),
        _ => None,
    }
}
