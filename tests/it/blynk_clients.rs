//! The real Blynk client libraries against a real hub (issue 5): PyPI
//! `blynklib==0.2.6` (also over TLS), PyPI `blynk-library-python==0.2.0`
//! and npm `blynk-library@0.5.4`, unmodified. Each logs in, writes a pin
//! that shows up in the API, the stream and history, receives a value
//! written through the API, gets stored values back on HARDWARE_SYNC, and
//! is refused with status 9 for a bad token.

use crate::{api, blynk};
use api::household;
use blynk::{
    Client, Kind, command, is_online, is_value, provision, thermostat_template, wait_stream,
};
use serde_json::json;

fn story(kind: Kind, tls: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let h = household(&state);
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Hall thermostat", &template);
    let (port, host, ca) = if tls {
        (
            h.hub.blynk_tls_port(),
            "localhost",
            Some(state.join(hearth::api::tls::DEVICE_CERT_FILE)),
        )
    } else {
        (h.hub.blynk_port(), "127.0.0.1", None)
    };
    let mut stream = h.api.stream(&h.admin);

    // A bad token: the client is told the token is invalid (status 9).
    let mut bad = Client::start(
        kind,
        host,
        port,
        "0123456789abcdef0123456789abcdef",
        ca.as_deref(),
    );
    bad.wait_for("an invalid-token refusal", |l| {
        l.to_string().to_lowercase().contains("invalid")
            && l.to_string().to_lowercase().contains("token")
    });
    drop(bad);

    let mut client = Client::start(kind, host, port, &token, ca.as_deref());
    client.wait_connected();
    wait_stream(
        &h,
        &mut stream,
        "the device online",
        is_online(&device, true),
    );

    // Device → hub: the value is live on the stream, in the API, in history.
    client.send("vw 1 42");
    wait_stream(&h, &mut stream, "V1 = 42", is_value(&device, "V1", "42"));
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(values.status, 200, "{}", values.body);
    assert_eq!(values.body["values"]["V1"]["value"], "42");
    assert_eq!(
        values.body["online"]["transport"],
        if tls { "tls" } else { "tcp" }
    );
    let history = h
        .api
        .get(&format!("/devices/{device}/history?pin=V1"), Some(&h.admin));
    assert_eq!(history.status, 200, "{}", history.body);
    assert_eq!(history.body["points"][0]["value"], "42", "{}", history.body);

    // A value out of the datastream's range is refused and changes nothing.
    client.send("vw 1 1000");
    client.send("vw 2 after");
    wait_stream(
        &h,
        &mut stream,
        "V2 = after",
        is_value(&device, "V2", "after"),
    );
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(
        values.body["values"]["V1"]["value"], "42",
        "{}",
        values.body
    );

    // API → device.
    let put = command(&h, &device, "V2", json!("hello"));
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["outcome"], "sent");
    client.wait_write(2, &["hello"]);
    let bad_value = command(&h, &device, "V1", json!(101));
    assert_eq!(bad_value.status, 400, "{}", bad_value.body);
    assert!(
        bad_value.body["message"]
            .as_str()
            .unwrap()
            .contains("from 0 to 100"),
        "{}",
        bad_value.body
    );

    // HARDWARE_SYNC replays the stored values.
    client.send("sync 1 2");
    client.wait_write(1, &["42"]);
    client.wait_write(2, &["hello"]);

    drop(client);
    wait_stream(
        &h,
        &mut stream,
        "the device offline",
        is_online(&device, false),
    );
    let offline = command(&h, &device, "V2", json!("x"));
    assert_eq!(offline.status, 409, "{}", offline.body);
    assert_eq!(offline.body["code"], "device_offline");
}

#[test]
fn blynklib_logs_in_writes_receives_and_syncs() {
    story(Kind::Blynklib, false);
}

#[test]
fn blynklib_over_tls_with_the_hubs_certificate() {
    story(Kind::Blynklib, true);
}

#[test]
fn blynk_library_python_logs_in_writes_receives_and_syncs() {
    story(Kind::BlynkLib, false);
}

#[test]
fn node_blynk_library_logs_in_writes_receives_and_syncs() {
    story(Kind::Node, false);
}
