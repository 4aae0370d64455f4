//! The household's own broker (issue 6): Debian's Mosquitto, Hearth as its
//! client, a paho-mqtt device publishing under `hearth/<device-id>/`.
//! Values reach the stream and history, API writes reach the device's
//! `downlink/ds/…` through the broker, and after the broker restarts Hearth
//! subscribes again and the device is heard again.

#[path = "common/api.rs"]
mod api;
#[path = "common/blynk.rs"]
mod blynk;
mod common;
#[path = "common/mosquitto.rs"]
mod mosquitto;
#[path = "common/mqtt.rs"]
mod mqtt;

use api::household_with;
use blynk::{is_value, provision, thermostat_template, wait_stream};
use mosquitto::{Mosquitto, free_port};
use mqtt::Device;
use serde_json::json;

#[test]
fn devices_on_the_households_mosquitto_reach_the_hub_and_back_across_a_broker_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let broker = Mosquitto::start(tmp.path(), port);
    let config = format!(
        "{}\n[mqtt.broker]\nhost = \"127.0.0.1\"\nport = {port}\n",
        common::TEST_CONFIG
    );
    let h = household_with(&tmp.path().join("state"), &config);
    h.hub.wait_log("mqtt broker: connected to", 1);
    let template = thermostat_template(&h);
    let (device, _) = provision(&h, &h.root, "Broker thermostat", &template);
    let mut stream = h.api.stream(&h.admin);

    let prefix = format!("hearth/{device}/");
    let mut thermostat = Device::start(port, "anyone", "x", &prefix);
    thermostat.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    thermostat.wait_for("its subscription", |l| l["event"] == "suback");
    thermostat.send("pub ds/Temperature 1 42");
    wait_stream(&h, &mut stream, "V1 = 42", is_value(&device, "V1", "42"));
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(
        values.body["online"]["transport"], "mqtt-broker",
        "{}",
        values.body
    );

    let put = h.api.call(
        "PUT",
        &format!("/devices/{device}/values/V2"),
        Some(&h.admin),
        Some(json!({ "value": "via the broker" })),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    thermostat.wait_for("the command", |l| {
        l["topic"] == format!("{prefix}downlink/ds/Label").as_str()
            && l["payload"] == "via the broker"
    });

    // The broker restarts: Hearth reconnects and subscribes again.
    drop(broker);
    let _broker = Mosquitto::start(tmp.path(), port);
    h.hub.wait_log("mqtt broker: connected to", 2);
    thermostat.wait_for("connected again", |l| {
        l["event"] == "connected" && l["rc"] == 0
    });
    thermostat.wait_for("subscribed again", |l| l["event"] == "suback");
    thermostat.send("pub ds/Temperature 1 44");
    wait_stream(&h, &mut stream, "V1 = 44", is_value(&device, "V1", "44"));
    let history = h
        .api
        .get(&format!("/devices/{device}/history?pin=V1"), Some(&h.admin));
    let values: Vec<&str> = history.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["42", "44"]);
}

#[test]
fn home_assistant_discovers_devices_and_reads_their_values_on_the_broker() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let _broker = Mosquitto::start(tmp.path(), port);
    let config = format!(
        "{}\n[mqtt.broker]\nhost = \"127.0.0.1\"\nport = {port}\nhome_assistant = true\n",
        common::TEST_CONFIG
    );
    let h = household_with(&tmp.path().join("state"), &config);
    h.hub.wait_log("mqtt broker: connected to", 1);
    // Home Assistant, as far as MQTT goes: it listens to discovery and state.
    let mut assistant = Device::start(port, "homeassistant", "x", "");
    assistant.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    assistant.send("sub homeassistant/#");
    assistant.send("sub hearth/+/state/#");
    for _ in 0..3 {
        // downlink/# (the script's own), homeassistant/#, hearth/+/state/#
        assistant.wait_for("subscribed", |l| l["event"] == "suback");
    }
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Hall thermostat", &template);
    let config_topic = format!("homeassistant/sensor/hearth_{device}_v1/config");
    let announced = assistant.wait_for("the discovery config", |l| {
        l["topic"] == config_topic.as_str()
    });
    let config: serde_json::Value =
        serde_json::from_str(announced["payload"].as_str().unwrap()).unwrap();
    assert_eq!(config["name"], "Temperature");
    assert_eq!(config["dev"]["name"], "Hall thermostat");
    assert_eq!(
        config["stat_t"],
        format!("hearth/{device}/state/Temperature")
    );

    // A value from any transport (here Blynk) becomes its state.
    let mut blynk_device = blynk::RawDevice::login(h.hub.blynk_port(), &token, 10);
    blynk_device.send(20, b"vw\x001\x0042");
    let state_topic = format!("hearth/{device}/state/Temperature");
    assistant.wait_for("the state", |l| {
        l["topic"] == state_topic.as_str() && l["payload"] == "42"
    });

    // A deleted device's sensors are removed (an empty retained config).
    let deleted = h.api.call(
        "DELETE",
        &format!("/devices/{device}"),
        Some(&h.admin),
        None,
    );
    assert!(deleted.status < 300, "{}", deleted.body);
    assistant.wait_for("the removal", |l| {
        l["topic"] == config_topic.as_str() && l["payload"] == ""
    });
}
