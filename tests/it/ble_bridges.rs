//! BLE bridges on Hearth's MQTT listener (issue 6): a bridge (paho-mqtt,
//! logged in as `bridge` with its token) publishes Theengs-style reports
//! carrying BTHome service data (the protocols.md vectors, made with PyPI
//! `bthome-ble`, plain and encrypted); unknown MACs wait in the adoption
//! inbox with what they report; adopting one (with its bind key) turns its
//! adverts into history; dismissing one hides it; a bridge cannot publish
//! under another bridge's name.

use crate::{api, blynk, common};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use api::household;
use blynk::{is_value, wait_stream};
use serde_json::{Value, json};

pub(crate) const ENCRYPTED_MAC: &str = "54:48:E6:8F:80:A5";
pub(crate) const ENCRYPTED: &str = "410465b2fcd1a56fe4010000006a9a1ba9";
pub(crate) const BIND_KEY: &str = "231d39c1d7cc1ab1aee224cd096db932";
pub(crate) const PLAIN_MAC: &str = "A4:C1:38:00:00:01";
pub(crate) const PLAIN: &str = "40015d02c40903bf13";

pub(crate) fn report(mac: &str, servicedata: &str) -> String {
    json!({ "id": mac, "name": "ATC_sensor", "rssi": -61, "servicedatauuid": "0xfcd2", "servicedata": servicedata })
        .to_string()
}

pub(crate) fn topic(gateway: &str, mac: &str) -> String {
    format!("home/{gateway}/BTtoMQTT/{}", mac.replace(':', ""))
}

/// Runs a paho-mqtt bridge that publishes `messages` (topic, payload) at
/// QoS 1 and waits for every PUBACK.
pub(crate) fn bridge_publishes(port: u16, token: &str, messages: &[(String, String)]) {
    let mut child = Command::new("python3")
        .arg("-u")
        .arg(common::support("mqtt_device.py"))
        .args(["127.0.0.1", &port.to_string(), "bridge", token])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with paho-mqtt");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    assert_eq!(next()["rc"], 0, "the bridge logs in");
    for (topic, payload) in messages {
        writeln!(stdin, "pubwait {topic} {payload}").unwrap();
        stdin.flush().unwrap();
        loop {
            let line = next();
            if line["event"] == "done" {
                break;
            }
        }
    }
    writeln!(stdin, "quit").unwrap();
    let _ = child.wait();
}

fn inbox_macs(h: &api::Household) -> Vec<String> {
    let inbox = h.api.get("/ble/inbox", Some(&h.admin));
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    inbox
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["mac"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bthome_sensors_wait_in_the_inbox_until_adopted_then_reach_history() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let bridge = h.api.post(
        "/bridges",
        Some(&h.admin),
        json!({ "org": h.root, "name": "TheengsGateway" }),
    );
    assert_eq!(bridge.status, 201, "{}", bridge.body);
    let token = bridge.body["token"].as_str().unwrap().to_owned();
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Climate sensor", "definition": { "datastreams": [
            { "pin": 1, "name": "temperature", "type": "double", "min": -40, "max": 85 },
            { "pin": 2, "name": "humidity", "type": "double", "min": 0, "max": 100 },
            { "pin": 3, "name": "battery", "type": "int", "min": 0, "max": 100 },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let port = h.hub.mqtt_port();

    bridge_publishes(
        port,
        &token,
        &[
            (
                topic("TheengsGateway", ENCRYPTED_MAC),
                report(ENCRYPTED_MAC, ENCRYPTED),
            ),
            (topic("TheengsGateway", PLAIN_MAC), report(PLAIN_MAC, PLAIN)),
            // Under another bridge's name: ignored.
            (
                topic("OtherGateway", "11:22:33:44:55:66"),
                report("11:22:33:44:55:66", PLAIN),
            ),
        ],
    );
    let inbox = h.api.get("/ble/inbox", Some(&h.admin));
    let waiting = inbox.body.as_array().unwrap();
    assert_eq!(waiting.len(), 2, "{}", inbox.body);
    let plain = waiting
        .iter()
        .find(|w| w["mac"] == PLAIN_MAC)
        .expect("the plain sensor waits");
    assert_eq!(
        plain["report"]["readings"],
        json!({ "battery": 93.0, "humidity": 50.55, "temperature": 25.0 })
    );
    assert_eq!(plain["bridge"], "TheengsGateway");
    let encrypted = waiting
        .iter()
        .find(|w| w["mac"] == ENCRYPTED_MAC)
        .expect("the encrypted one waits");
    assert!(
        encrypted["report"]["error"]
            .as_str()
            .unwrap()
            .contains("no bind key"),
        "it says why it shows no readings: {encrypted}"
    );

    // Adopted with its bind key, the encrypted sensor's adverts become values.
    let adopted = h.api.post(
        &format!("/ble/inbox/{ENCRYPTED_MAC}/adopt"),
        Some(&h.admin),
        json!({ "org": h.root, "name": "Bedroom climate", "template": template, "bind_key": BIND_KEY }),
    );
    assert_eq!(adopted.status, 201, "{}", adopted.body);
    let device = adopted.body["id"].as_str().unwrap().to_owned();
    assert_eq!(inbox_macs(&h), [PLAIN_MAC], "adopted: out of the inbox");
    let mut stream = h.api.stream(&h.admin);
    bridge_publishes(
        port,
        &token,
        &[(
            topic("TheengsGateway", ENCRYPTED_MAC),
            report(ENCRYPTED_MAC, ENCRYPTED),
        )],
    );
    wait_stream(
        &h,
        &mut stream,
        "humidity 50.55",
        is_value(&device, "V2", "50.55"),
    );
    let history = h
        .api
        .get(&format!("/devices/{device}/history?pin=V1"), Some(&h.admin));
    assert_eq!(history.body["points"][0]["value"], "25", "{}", history.body);
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(values.body["values"]["V3"]["value"], "93");

    // Dismissed: no longer listed, even when heard again.
    let dismissed = h.api.call(
        "DELETE",
        &format!("/ble/inbox/{PLAIN_MAC}"),
        Some(&h.admin),
        None,
    );
    assert_eq!(dismissed.status, 204, "{}", dismissed.body);
    bridge_publishes(
        port,
        &token,
        &[(topic("TheengsGateway", PLAIN_MAC), report(PLAIN_MAC, PLAIN))],
    );
    assert!(inbox_macs(&h).is_empty());
    let again = h.api.call(
        "DELETE",
        &format!("/ble/inbox/{PLAIN_MAC}"),
        Some(&h.admin),
        None,
    );
    assert_eq!(again.status, 404, "{}", again.body);

    // Revoking the bridge ends its open session; logging in again is refused.
    let mut child = Command::new("python3")
        .arg("-u")
        .arg(common::support("mqtt_device.py"))
        .args(["127.0.0.1", &port.to_string(), "bridge", &token])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str(&line).unwrap_or_default());
        }
    });
    let next = || {
        rx.recv_timeout(blynk::WAIT)
            .expect("the bridge client reports within 20 s")
    };
    assert_eq!(next()["rc"], 0, "the bridge logs in");
    let id = bridge.body["id"].as_str().unwrap();
    let revoked = h
        .api
        .call("DELETE", &format!("/bridges/{id}"), Some(&h.admin), None);
    assert!(revoked.status < 300, "{}", revoked.body);
    let mut events = Vec::new();
    loop {
        let event = next();
        events.push(event.clone());
        if event["event"] == "connected" {
            assert_ne!(event["rc"], 0, "a revoked bridge is refused: {events:?}");
            break;
        }
    }
    assert!(
        events.iter().any(|e| e["event"] == "disconnected"),
        "its session ended: {events:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
