//! A real BLE bridge (issue 6): PyPI `TheengsGateway==1.8.0` with no radio
//! (`-b 0`) on the household's Mosquitto republishes the adverts published
//! to `home/+/BTtoMQTT/undecoded` under `home/TheengsGateway/BTtoMQTT/<MAC>`;
//! Hearth, a client of the same broker with a bridge named TheengsGateway
//! registered, decodes their BTHome service data (the protocols.md
//! vectors, made with PyPI `bthome-ble`): the unknown MAC appears in the
//! inbox, and once adopted with its bind key its adverts reach history.

use crate::{api, blynk, common, mosquitto, mqtt};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use api::household_with;
use blynk::{is_value, wait_stream};
use mosquitto::Mosquitto;
use serde_json::json;

const MAC: &str = "54:48:E6:8F:80:A5";
const ENCRYPTED: &str = "410465b2fcd1a56fe4010000006a9a1ba9";
const BIND_KEY: &str = "231d39c1d7cc1ab1aee224cd096db932";

struct Gateway(std::process::Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Theengs Gateway on `port` (with `extra` options), once it has
/// subscribed to `subscribed`. It keeps its options in `$HOME/theengsgw.conf`
/// between runs, so each runs with a home of its own (`home`).
fn theengs(home: &std::path::Path, port: u16, extra: &[&str], subscribed: &str) -> Gateway {
    let mut child = Command::new("python3")
        .args([
            "-m",
            "TheengsGateway",
            "-b",
            "0",
            "-H",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-ll",
            "INFO",
        ])
        .args(extra)
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("TheengsGateway (scripts/test-deps.sh installs it)");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + blynk::WAIT;
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(&format!("Subscribed to {subscribed}")) => break,
            Ok(line) => said.push(line),
            Err(_) => panic!("Theengs Gateway never subscribed: {said:#?}"),
        }
    }
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    Gateway(child)
}

#[test]
fn theengs_gateway_on_mosquitto_brings_bthome_sensors_to_the_inbox_and_history() {
    let tmp = tempfile::tempdir().unwrap();
    let (_broker, port) = Mosquitto::start_free(tmp.path(), "");
    let config = format!(
        "{}\n[mqtt.broker]\nhost = \"127.0.0.1\"\nport = {port}\n",
        common::TEST_CONFIG
    );
    let h = household_with(&tmp.path().join("state"), &config);
    h.hub.wait_log("mqtt broker: connected to", 1);
    let bridge = h.api.post(
        "/bridges",
        Some(&h.admin),
        json!({ "org": h.root, "name": "TheengsGateway" }),
    );
    assert_eq!(bridge.status, 201, "{}", bridge.body);
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Climate sensor", "definition": { "datastreams": [
            { "pin": 1, "name": "temperature", "type": "double", "min": -40, "max": 85 },
            { "pin": 2, "name": "humidity", "type": "double", "min": 0, "max": 100 },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let _gateway = theengs(tmp.path(), port, &[], "home/+/BTtoMQTT/undecoded");

    // An advert as a scanner without a decoder hands it to Theengs.
    let mut scanner = mqtt::device(port, "scanner", "x", "");
    scanner.wait_for("connected", |l| l["event"] == "connected");
    let advert =
        json!({ "id": MAC, "rssi": -58, "servicedatauuid": "0xfcd2", "servicedata": ENCRYPTED });
    let publish = format!("pubwait home/scanner/BTtoMQTT/undecoded {advert}");
    scanner.send(&publish);
    let deadline = Instant::now() + blynk::WAIT;
    let waiting = loop {
        let inbox = h.api.get("/ble/inbox", Some(&h.admin));
        if let Some(entry) = inbox
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["mac"] == MAC)
        {
            break entry.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the sensor never reached the inbox: {}",
            inbox.body
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        waiting["bridge"], "TheengsGateway",
        "republished by Theengs: {waiting}"
    );

    let adopted = h.api.post(
        &format!("/ble/inbox/{MAC}/adopt"),
        Some(&h.admin),
        json!({ "org": h.root, "name": "Hall climate", "template": template, "bind_key": BIND_KEY }),
    );
    assert_eq!(adopted.status, 201, "{}", adopted.body);
    let device = adopted.body["id"].as_str().unwrap().to_owned();
    let mut stream = h.api.stream(&h.admin);
    scanner.send(&publish);
    wait_stream(
        &h,
        &mut stream,
        "temperature 25",
        is_value(&device, "V1", "25"),
    );
    let history = h
        .api
        .get(&format!("/devices/{device}/history?pin=V2"), Some(&h.admin));
    assert_eq!(
        history.body["points"][0]["value"], "50.55",
        "{}",
        history.body
    );
}

#[test]
fn theengs_gateway_as_a_bridge_on_hearths_own_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let h = api::household(&tmp.path().join("state"));
    let bridge = h.api.post(
        "/bridges",
        Some(&h.admin),
        json!({ "org": h.root, "name": "TheengsGateway" }),
    );
    assert_eq!(bridge.status, 201, "{}", bridge.body);
    let token = bridge.body["token"].as_str().unwrap().to_owned();
    let port = h.hub.mqtt_port();
    // Theengs logs in as the bridge and keeps to its own topics.
    let own = "home/TheengsGateway/BTtoMQTT";
    let undecoded = format!("{own}/undecoded");
    let _gateway = theengs(
        tmp.path(),
        port,
        &[
            "-u",
            "bridge",
            "-p",
            &token,
            "-st",
            &undecoded,
            "-pt",
            own,
            "-Lt",
            "home/TheengsGateway/LWT",
        ],
        &undecoded,
    );
    // A scanner of the same bridge hands it a raw advert, through Hearth.
    let mut scanner = mqtt::device(port, "bridge", &token, "");
    scanner.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    let advert =
        json!({ "id": MAC, "rssi": -58, "servicedatauuid": "0xfcd2", "servicedata": ENCRYPTED });
    scanner.send(&format!("pubwait {undecoded} {advert}"));
    let deadline = Instant::now() + blynk::WAIT;
    loop {
        let inbox = h.api.get("/ble/inbox", Some(&h.admin));
        if inbox
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["mac"] == MAC)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Theengs's report never reached the inbox: {}",
            inbox.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
