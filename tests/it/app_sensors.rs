//! The Bluetooth sensors page in a real browser (Debian's Chromium,
//! `tests/support/household_sensors.mjs`) against a real hub and a real
//! bridge (paho-mqtt publishing Theengs-style BTHome reports as the bridge
//! the page added, with the token it showed): sensors wait in the inbox with
//! their readings or why none; the encrypted one is adopted with its bind
//! key and a template, a plain one with a reading mapped to a datastream of
//! another name, and their next reports reach their device pages; a third
//! is dismissed; the bridge revoked. axe-core clean; screenshots under
//! `target/tmp/household_app/sensors/`.

use serde_json::{Value, json};

use crate::api::household;
use crate::app_browser::{converse, output_dir};
use crate::ble_bridges::{
    ENCRYPTED, ENCRYPTED_MAC, PLAIN, PLAIN_MAC, bridge_publishes, report, topic,
};

/// A third plain sensor, to dismiss.
const THIRD_MAC: &str = "A4:C1:38:00:00:02";

#[test]
fn a_bridge_is_added_and_its_sensors_adopted_or_dismissed_from_the_app() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Climate sensor", "definition": { "datastreams": [
            { "pin": 1, "name": "temperature", "type": "double", "min": -40, "max": 85 },
            { "pin": 2, "name": "Air humidity", "type": "double", "min": 0, "max": 100 },
        ] } }),
    );
    assert_eq!(template.status, 201, "{}", template.body);
    let port = h.hub.mqtt_port();
    let facts = converse(
        "household_sensors.mjs",
        &[
            format!("https://127.0.0.1:{}", h.hub.api_port()),
            output_dir().join("sensors").display().to_string(),
        ],
        |asked: &Value| {
            let token = asked["publish"]
                .as_str()
                .expect("only publishing is asked for");
            let encrypted = (
                topic("TheengsGateway", ENCRYPTED_MAC),
                report(ENCRYPTED_MAC, ENCRYPTED),
            );
            let plain = (topic("TheengsGateway", PLAIN_MAC), report(PLAIN_MAC, PLAIN));
            let third = (topic("TheengsGateway", THIRD_MAC), report(THIRD_MAC, PLAIN));
            match asked["sensors"].as_str() {
                Some("all") => bridge_publishes(port, token, &[encrypted, plain, third]),
                Some("adopted") => bridge_publishes(port, token, &[encrypted, plain]),
                other => panic!("sensors {other:?}"),
            }
        },
    );
    let text = |key: &str| facts[key].as_str().unwrap_or_default().to_owned();

    assert!(
        text("empty").starts_with("No unknown sensor heard"),
        "{facts}"
    );
    assert_eq!(facts["token_length"], 32, "{facts}");
    let command = text("command");
    assert!(
        // mDNS is off: the host the browser reached the hub by.
        command.starts_with("TheengsGateway -H 127.0.0.1 ")
            && command.contains(&format!("-P {port} -u bridge -p "))
            && command.contains("-pt home/TheengsGateway/BTtoMQTT"),
        "{command}"
    );
    assert_eq!(facts["bridges"], json!(["TheengsGateway"]));

    // What each sensor reports, or why it shows nothing.
    let waiting: Vec<String> = facts["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(waiting.len(), 3, "{waiting:?}");
    let plain = waiting.iter().find(|w| w.contains(PLAIN_MAC)).unwrap();
    assert!(
        plain.contains("battery 93, humidity 50.55, temperature 25"),
        "{plain}"
    );
    assert!(plain.contains("by TheengsGateway"), "{plain}");
    let encrypted = waiting.iter().find(|w| w.contains(ENCRYPTED_MAC)).unwrap();
    assert!(encrypted.contains("no bind key"), "{encrypted}");

    // Adopted (one with its key, one with a mapping); their next reports
    // on their pages.
    assert!(
        text("adopted").starts_with("Bedroom climate adopted"),
        "{facts}"
    );
    assert_eq!(facts["waiting_after_adopt"], 2);
    assert_eq!(
        facts["mapping_choices"],
        json!(["battery goes to", "humidity goes to", "temperature goes to"])
    );
    // The encrypted sensor's readings were unknown until its key opened
    // them: its datastreams were told theirs, and its temperature went to V2.
    assert_eq!(
        facts["locked_choices"],
        json!(["V1 temperature", "V2 Air humidity"])
    );
    assert_eq!(text("bedroom_v2"), "25");
    let devices = h.api.get("/devices", Some(&h.admin));
    let bedroom = devices
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Bedroom climate")
        .unwrap_or_else(|| panic!("{}", devices.body))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let values = h
        .api
        .get(&format!("/devices/{bedroom}/values"), Some(&h.admin));
    assert_eq!(
        values.body["values"]["V2"]["value"], "25",
        "{}",
        values.body
    );
    assert!(
        values.body["values"].get("V1").is_none(),
        "temperature went to V2 only: {}",
        values.body
    );
    assert_eq!(text("hall_humidity"), "50.55");

    assert!(text("dismissed").contains("dismissed"), "{facts}");
    assert_eq!(facts["waiting_after_dismiss"], 0);
    assert!(
        text("revoked").starts_with("TheengsGateway revoked"),
        "{facts}"
    );
    let bridges = h.api.get("/bridges", Some(&h.admin));
    assert_eq!(bridges.body[0]["revoked"], true, "{}", bridges.body);

    for (page, violations) in facts["axe"].as_object().unwrap() {
        assert_eq!(violations, &json!([]), "axe on {page}");
    }
    assert_eq!(facts["screenshots"].as_array().unwrap().len(), 4);
}
