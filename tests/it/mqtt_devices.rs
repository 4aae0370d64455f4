//! MQTT devices on Hearth's own listener (issue 6), driven through PyPI
//! `paho-mqtt`: login with the device token (CONNACK 4 otherwise), values
//! into the API and history, API writes to `downlink/ds/…`, each device
//! confined to its own topics, and no acknowledged value lost to `kill -9`.

use crate::{api, blynk, common, mqtt};
use api::{household, household_with};
use blynk::{command, history_values, is_value, provision, thermostat_template, wait_stream};
use serde_json::json;

/// The test hub with no MQTT allowance in the way.
static FAST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    common::TEST_CONFIG.replace("[mqtt]\n", "[mqtt]\nmessages_per_second = 1000000\n")
});

#[test]
fn paho_devices_publish_receive_and_stay_in_their_own_topics() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "MQTT thermostat", &template);
    let (other, other_token) = provision(&h, &h.root, "Other", &template);
    let port = h.hub.mqtt_port();
    let mut stream = h.api.stream(&h.admin);

    // MQTT 5 is told its version is not spoken, not hung up on.
    let mut v5 = mqtt::device_v5(port, "device", &token);
    let refused = v5.wait_for("a refusal", |l| {
        l["event"] == "connected" || l["event"] == "disconnected"
    });
    assert_eq!(
        (refused["event"].as_str(), refused["rc"].as_u64()),
        (Some("connected"), Some(0x84)),
        "an MQTT 5 CONNACK with reason 0x84, unsupported protocol version: {refused}"
    );
    drop(v5);

    let mut bad = mqtt::device(port, "device", "wrong-token", "");
    let refused = bad.wait_for("a refusal", |l| l["event"] == "connected");
    assert_ne!(refused["rc"], 0, "bad credentials are refused: {refused}");
    drop(bad);

    let mut thermostat = mqtt::device(port, "device", &token, "");
    thermostat.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    thermostat.wait_for("its downlink subscription", |l| {
        l["event"] == "suback" && l["codes"] == json!([0])
    });
    // Its log lines carry the connection's span: transport, peer, and the
    // device once it logged in (no hand-written prefix needed).
    h.hub.wait_log(&format!("client=\"device {device}\"}}"), 1);
    let online = h
        .hub
        .stderr()
        .lines()
        .find(|l| l.contains(&format!("device {device} online")))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        online.contains("connection{transport=\"mqtt\" peer=127.0.0.1:")
            && online.contains(&format!("client=\"device {device}\"}}")),
        "the online line is in the connection's span: {online}"
    );
    let mut neighbour = mqtt::device(port, "device", &other_token, "");
    neighbour.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    neighbour.wait_for("its downlink subscription", |l| l["event"] == "suback");

    // Values by datastream name, into the stream, the API and history.
    thermostat.send("pub ds/Temperature 1 42");
    wait_stream(&h, &mut stream, "V1 = 42", is_value(&device, "V1", "42"));
    thermostat.send("pub batch_ds 1 {\"Temperature\": 43, \"Label\": \"hall\"}");
    wait_stream(
        &h,
        &mut stream,
        "V2 = hall",
        is_value(&device, "V2", "hall"),
    );
    let values = history_values(&h, &device, "V1");
    assert_eq!(values, ["42", "43"]);

    // A value the datastream refuses is ignored; the device carries on.
    thermostat.send("pub ds/Temperature 1 500");
    thermostat.send("pub ds/Label 1 after");
    wait_stream(
        &h,
        &mut stream,
        "V2 = after",
        is_value(&device, "V2", "after"),
    );
    let live = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(live.body["values"]["V1"]["value"], "43");
    assert_eq!(live.body["online"]["transport"], "mqtt");

    // API → device, on its downlink only.
    let put = command(&h, &device, "V2", json!("from the app"));
    assert_eq!(put.status, 200, "{}", put.body);
    thermostat.wait_for("the command", |l| {
        l["topic"] == "downlink/ds/Label" && l["payload"] == "from the app"
    });
    thermostat.send("pub get/ds/all 0 ");
    thermostat.wait_for("its stored values", |l| {
        l["topic"] == "downlink/ds/Temperature" && l["payload"] == "43"
    });

    // Confined: no wildcard subscriptions beyond its downlink, and nothing
    // it publishes reaches another device.
    neighbour.send("sub #");
    neighbour.wait_for("a refused subscription", |l| {
        l["event"] == "suback" && l["codes"] == json!([128])
    });
    neighbour.send(&format!("pub hearth/{device}/ds/Temperature 1 7"));
    neighbour.send("pub ds/Label 1 neighbour");
    wait_stream(
        &h,
        &mut stream,
        "the neighbour's own value",
        is_value(&other, "V2", "neighbour"),
    );
    let live = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(
        live.body["values"]["V1"]["value"], "43",
        "another device's topic did nothing"
    );
    neighbour.send("quit");
    neighbour.wait_for("its end", |l| l["event"] == "disconnected");
    assert!(
        !neighbour.seen.iter().any(|l| l["event"] == "message"),
        "the neighbour heard nothing of the thermostat: {:#?}",
        neighbour.seen
    );
}

#[test]
fn every_acknowledged_value_survives_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // 5,000 values as fast as the client goes: over any device's allowance.
    let config = FAST.as_str();
    let mut h = household_with(&state, config);
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Counter", "definition": { "datastreams": [
            { "pin": 1, "name": "Count", "type": "int", "min": 0, "max": 1_000_000 },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let (device, token) = provision(&h, &h.root, "Counter", &template);
    let mut counter = mqtt::device(h.hub.mqtt_port(), "device", &token, "");
    counter.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    counter.send("count ds/Count 5000 1");
    // A moment that differs from run to run: after 50 to 1,049 acks.
    let kill_after = 50
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 1000) as u64;
    let mut acked = Vec::new();
    loop {
        // Until the client gives up on a PUBACK that never comes.
        let line = counter.wait_for("acks", |l| l["event"] == "acked" || l["event"] == "done");
        if line["event"] == "done" {
            break;
        }
        acked.push(line["value"].as_u64().unwrap());
        if acked.len() as u64 == kill_after {
            h.hub.child.kill().unwrap(); // SIGKILL
            h.hub.child.wait().unwrap();
        }
    }
    drop(counter);
    assert!(acked.len() as u64 >= kill_after);

    let hub = common::HubProcess::start(&state, config);
    h.api = api::Api::new(hub.api_port(), &hub.fingerprint());
    h.hub = hub;
    let history = h.api.get(
        &format!("/devices/{device}/history?pin=V1&from=0&limit=10000"),
        Some(&h.admin),
    );
    assert_eq!(history.status, 200, "{}", history.body);
    let stored: std::collections::BTreeSet<u64> = history.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap().parse().unwrap())
        .collect();
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|v| !stored.contains(v))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after kill -9 at ack {kill_after}: {lost:?}"
    );
    eprintln!(
        "kill -9 after {kill_after} acks: {} acknowledged, {} stored, none lost",
        acked.len(),
        stored.len()
    );
}

#[test]
fn an_mqtt_device_over_its_allowance_is_slowed_not_dropped_and_its_history_is_budgeted() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::TEST_CONFIG.replace("[mqtt]\n", "[mqtt]\nmessages_per_second = 50\n")
        + "\n[devices]\nhistory_rows_per_day = 150\n";
    let h = household_with(&tmp.path().join("state"), &config);
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Counter", "definition": { "datastreams": [
            { "pin": 1, "name": "Count", "type": "int", "min": 0, "max": 1_000_000 },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let (device, token) = provision(&h, &h.root, "Counter", &template);
    let mut counter = mqtt::device(h.hub.mqtt_port(), "device", &token, "");
    counter.wait_for("connected", |l| l["event"] == "connected" && l["rc"] == 0);
    // Values 1..=300 as fast as paho goes: 100 in the burst, then 50 a second.
    let started = std::time::Instant::now();
    counter.send("count ds/Count 300 1");
    let mut acked = 0;
    loop {
        let line = counter.wait_for("acks", |l| l["event"] == "acked" || l["event"] == "done");
        if line["event"] == "done" {
            break;
        }
        acked += 1;
    }
    let took = started.elapsed();
    assert_eq!(acked, 300, "slowed, never dropped");
    assert!(
        took >= std::time::Duration::from_secs(3),
        "200 values past the burst at 50/s take 4 s, not {took:?}"
    );
    // The history budget: 150 rows kept, the rest counted; the live value is the last.
    let kept = history_values(&h, &device, "V1");
    assert_eq!(kept.len(), 150, "{} rows", kept.len());
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(
        values.body["values"]["V1"]["value"], "300",
        "{}",
        values.body
    );
    assert_eq!(values.body["history_dropped"], 150, "{}", values.body);
    let metrics = h.api.get_text("/metrics").1;
    assert!(
        metrics.contains(&format!(
            "hearth_history_dropped_total{{device=\"{device}\"}} 150"
        )),
        "{metrics}"
    );
}
