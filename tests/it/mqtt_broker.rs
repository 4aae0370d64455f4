//! The household's own broker (issue 6): Debian's Mosquitto, Hearth as its
//! client, a paho-mqtt device publishing under `hearth/<device-id>/`.
//! Values reach the stream and history, API writes reach the device's
//! `downlink/ds/…` through the broker, and after the broker restarts Hearth
//! subscribes again and the device is heard again.

use crate::{api, blynk, common, mosquitto, mqtt};
use std::path::Path;
use std::process::Command;

use api::household_with;
use blynk::{command, history_values, is_value, provision, thermostat_template, wait_stream};
use mosquitto::Mosquitto;
use serde_json::json;

#[test]
fn devices_on_the_households_mosquitto_reach_the_hub_and_back_across_a_broker_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (broker, port) = Mosquitto::start_free(tmp.path(), "");
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
    let mut thermostat = mqtt::device(port, "anyone", "x", &prefix);
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

    let put = command(&h, &device, "V2", json!("via the broker"));
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
    let values = history_values(&h, &device, "V1");
    assert_eq!(values, ["42", "44"]);
}

#[test]
fn home_assistant_discovers_devices_and_reads_their_values_on_the_broker() {
    let tmp = tempfile::tempdir().unwrap();
    let (_broker, port) = Mosquitto::start_free(tmp.path(), "");
    let config = format!(
        "{}\n[mqtt.broker]\nhost = \"127.0.0.1\"\nport = {port}\nhome_assistant = true\n",
        common::TEST_CONFIG
    );
    let h = household_with(&tmp.path().join("state"), &config);
    h.hub.wait_log("mqtt broker: connected to", 1);
    // Home Assistant, as far as MQTT goes: it listens to discovery and state.
    let mut assistant = mqtt::device(port, "homeassistant", "x", "");
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

/// Mosquitto with the ACL the README shows: Hearth's own user reads and
/// writes `hearth/#`, every device only `hearth/<its id>/#` (its id as its
/// username), everyone with a password.
fn confined_mosquitto(dir: &Path, users: &[(&str, &str)]) -> (Mosquitto, u16) {
    let passwords = dir.join("passwords");
    std::fs::write(&passwords, "").unwrap();
    for (user, password) in users {
        let status = Command::new("mosquitto_passwd")
            .args(["-b", passwords.to_str().unwrap(), user, password])
            .status()
            .expect("mosquitto_passwd");
        assert!(status.success());
    }
    let acl = dir.join("acl");
    std::fs::write(&acl, "user hearth\ntopic readwrite hearth/#\ntopic read home/#\n\npattern readwrite hearth/%u/#\n").unwrap();
    let extra = format!(
        "allow_anonymous false\npassword_file {}\nacl_file {}\n",
        passwords.display(),
        acl.display()
    );
    Mosquitto::start_free(dir, &extra)
}

#[test]
fn on_a_confined_broker_a_device_cannot_touch_another_devices_topics() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // The household first (device ids are needed for the broker's users).
    let mut h = household_with(&state, common::TEST_CONFIG);
    let template = thermostat_template(&h);
    let (alice, _) = provision(&h, &h.root, "Alice's thermostat", &template);
    let (bob, _) = provision(&h, &h.root, "Bob's thermostat", &template);
    h.hub.terminate();
    let (_broker, port) = confined_mosquitto(
        tmp.path(),
        &[
            ("hearth", "hub-secret"),
            (&alice, "a-secret"),
            (&bob, "b-secret"),
        ],
    );
    std::fs::write(tmp.path().join("broker.password"), "hub-secret\n").unwrap();
    let config = format!(
        "{}\n[mqtt.broker]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"hearth\"\npassword_file = \"{}\"\n",
        common::TEST_CONFIG,
        tmp.path().join("broker.password").display()
    );
    h.hub = common::HubProcess::start(&state, &config);
    h.api = api::Api::new(h.hub.api_port(), &h.hub.fingerprint());
    h.hub.wait_log("mqtt broker: connected to", 1);
    let mut stream = h.api.stream(&h.admin);

    let mut a = mqtt::device(port, &alice, "a-secret", &format!("hearth/{alice}/"));
    a.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    let mut b = mqtt::device(port, &bob, "b-secret", &format!("hearth/{bob}/"));
    b.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    b.wait_for("its subscription", |l| l["event"] == "suback");
    // Alice tries Bob's topics: to publish his value, and to hear his commands.
    let mut raw = mqtt::device(port, &alice, "a-secret", "");
    raw.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    b.send("pub ds/Temperature 1 30");
    wait_stream(
        &h,
        &mut stream,
        "Bob's own value",
        is_value(&bob, "V1", "30"),
    );
    // In order on one connection: if the broker let the first through,
    // Hearth would have it before the second.
    raw.send(&format!("sub hearth/{bob}/downlink/#"));
    raw.send(&format!("pub hearth/{bob}/ds/Temperature 1 13"));
    raw.send(&format!("pub hearth/{alice}/ds/Temperature 1 21"));
    wait_stream(
        &h,
        &mut stream,
        "Alice's own value",
        is_value(&alice, "V1", "21"),
    );
    let values = h.api.get(&format!("/devices/{bob}/values"), Some(&h.admin));
    assert_eq!(
        values.body["values"]["V1"]["value"], "30",
        "Alice's writes to Bob's topics were dropped by the broker"
    );
    let history = h
        .api
        .get(&format!("/devices/{bob}/history?pin=V1"), Some(&h.admin));
    assert_eq!(
        history.body["points"].as_array().unwrap().len(),
        1,
        "{}",
        history.body
    );
    let put = command(&h, &bob, "V2", json!("for bob"));
    assert_eq!(put.status, 200, "{}", put.body);
    b.wait_for("his command", |l| l["payload"] == "for bob");
    a.send("quit");
    raw.send("quit");
    raw.wait_for("its end", |l| l["event"] == "disconnected");
    let heard: Vec<_> = a
        .seen
        .iter()
        .chain(&raw.seen)
        .filter(|l| l["event"] == "message")
        .collect();
    assert!(heard.is_empty(), "Alice heard nothing of Bob's: {heard:#?}");
}

/// The household's broker carries every device on one connection, so a
/// device over its allowance cannot be read slower without the others: its
/// messages past the allowance are left out, counted and said once, and a
/// calm device's value published right after the flood still arrives.
#[test]
fn a_device_over_its_allowance_on_the_broker_is_cut_short_and_the_others_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (_broker, port) = Mosquitto::start_free(tmp.path(), "");
    let config = format!(
        "{}\n[mqtt.broker]\nhost = \"127.0.0.1\"\nport = {port}\n",
        common::TEST_CONFIG.replace("[mqtt]\n", "[mqtt]\nmessages_per_second = 20\n")
    );
    let h = household_with(&tmp.path().join("state"), &config);
    h.hub.wait_log("mqtt broker: connected to", 1);
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Counter", "definition": { "datastreams": [
            { "pin": 1, "name": "Count", "type": "int", "min": 0, "max": 1_000_000 },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let (flood, _) = provision(&h, &h.root, "Flood", &template);
    let (calm, _) = provision(&h, &h.root, "Calm", &template);
    let mut flooding = mqtt::device(port, "anyone", "x", &format!("hearth/{flood}/"));
    let mut calming = mqtt::device(port, "anyone", "x", &format!("hearth/{calm}/"));
    flooding.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    calming.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);

    // 300 values as fast as paho and Mosquitto go (well under the 15 s a
    // 20/s allowance would take), then one from the calm device: the hub
    // reads the broker in order, so once the calm value is there every
    // flood message has been dealt with.
    flooding.send("count ds/Count 300 1");
    flooding.wait_for("the broker took all", |l| l["event"] == "done");
    calming.send("pubwait ds/Count 7");
    let values = |device: &str| {
        h.api
            .get(&format!("/devices/{device}/values"), Some(&h.admin))
            .body
    };
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    while values(&calm)["values"]["V1"]["value"] != "7" {
        assert!(std::time::Instant::now() < deadline, "{}", values(&calm));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let kept = history_values(&h, &flood, "V1").len() as u64;
    let flood_values = values(&flood);
    let dropped = flood_values["messages_dropped"].as_u64().unwrap();
    assert_eq!(kept + dropped, 300, "{flood_values}");
    assert!(kept >= 40, "the burst (twice the rate) passes: {kept} kept");
    assert!(dropped >= 100, "most of the flood is left out: {dropped}");
    assert_eq!(values(&calm)["messages_dropped"], 0);
    assert_eq!(history_values(&h, &calm, "V1"), ["7"]);
    let metrics = h.api.get_text("/metrics").1;
    assert!(
        metrics.contains(&format!(
            "hearth_messages_dropped_total{{device=\"{flood}\"}} {dropped}"
        )),
        "{metrics}"
    );
    let said = h.hub.stderr().matches("over 20 messages/s").count();
    assert_eq!(said, 1, "said once a minute at most:\n{}", h.hub.stderr());
}
