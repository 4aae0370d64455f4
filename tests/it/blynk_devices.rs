//! The Blynk server's behaviour against a real hub, with a device written
//! frame by frame (what the real libraries cannot be made to do): offline
//! detection, bad input, commands that wait for confirmation or for the
//! next connection, BRIDGE, events, time requests, token rotation, the
//! device HTTP API, and a WebSocket client that lags behind the values.

use crate::{api, blynk, common};
use std::time::Instant;

use api::{Event, household, household_with};
use blynk::{
    RawDevice, command, frame, is_online, is_value, provision, thermostat_template, wait_stream,
};
use serde_json::json;

const HARDWARE: u8 = 20;

#[test]
fn a_device_that_stops_pinging_goes_offline_after_one_and_a_half_heartbeats() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Quiet", &template);
    let mut stream = h.api.stream(&h.admin);
    let mut quiet = RawDevice::login(h.hub.blynk_port(), &token, 2);
    wait_stream(&h, &mut stream, "online", is_online(&device, true));
    let online = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(
        online.body["online"]["heartbeat_secs"], 2,
        "{}",
        online.body
    );
    // It pings once, then says nothing more.
    let ping = quiet.send(6, b"");
    assert_eq!(quiet.status_of(ping), 200);
    let silent_since = Instant::now();
    wait_stream(&h, &mut stream, "offline", is_online(&device, false));
    let took = silent_since.elapsed().as_secs_f64();
    assert!(
        took >= 2.9,
        "not before 1.5 x 2 s of silence (took {took:.2} s)"
    );
    assert!(quiet.closed_by_hub(), "and the hub closed its connection");
    let offline = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(offline.body["online"], serde_json::Value::Null);
}

#[test]
fn bad_frames_get_the_protocols_answer_and_nobody_else_notices() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Good", &template);
    let (_, other_token) = provision(&h, &h.root, "Bad", &template);
    let port = h.hub.blynk_port();
    let mut good = RawDevice::login(port, &token, 10);
    let mut stream = h.api.stream(&h.admin);

    // Before login: status 5; a wrong token: status 9 and the link closes.
    let mut early = RawDevice::connect(port);
    let id = early.send(HARDWARE, b"vw\x001\x001");
    assert_eq!(early.status_of(id), 5);
    let id = early.send(29, b"not-a-token");
    assert_eq!(early.status_of(id), 9);
    assert!(early.closed_by_hub());

    let mut bad = RawDevice::login(port, &other_token, 10);
    let id = bad.send(HARDWARE, b"vw\x001\x00\xff\xfe");
    assert_eq!(
        bad.status_of(id),
        11,
        "non-UTF-8 body: illegal command body"
    );
    let id = bad.send(HARDWARE, b"vw\x001\x00500");
    assert_eq!(bad.status_of(id), 11, "out of range");
    let id = bad.send(HARDWARE, b"vw\x009\x001");
    assert_eq!(bad.status_of(id), 11, "no such datastream");
    let id = bad.send(HARDWARE, b"zz\x001");
    assert_eq!(bad.status_of(id), 11, "unknown operation");
    let id = bad.send(99, b"x");
    assert_eq!(bad.status_of(id), 2, "unknown command");
    let id = bad.send(64, b"no-such-event");
    assert_eq!(bad.status_of(id), 11, "undefined event");
    // Still logged in after all that: a ping is answered.
    let id = bad.send(6, b"");
    assert_eq!(bad.status_of(id), 200);
    // Message id 0, then an oversized frame: the link is dropped.
    bad.send_raw(&frame(HARDWARE, 0, b"vw\x001\x001"));
    assert!(bad.closed_by_hub(), "id 0 drops the connection");
    let mut big = RawDevice::login(port, &other_token, 10);
    big.send_raw(&frame(HARDWARE, 7, &vec![b'1'; 2000]));
    assert!(
        big.closed_by_hub(),
        "an oversized frame drops the connection"
    );
    let mut cut = RawDevice::login(port, &other_token, 10);
    cut.send_raw(&frame(HARDWARE, 8, b"vw\x001\x0012")[..6]);
    drop(cut); // a truncated frame, then gone

    // The good device carried on throughout.
    good.send(HARDWARE, b"vw\x001\x0021");
    wait_stream(
        &h,
        &mut stream,
        "the good device's value",
        is_value(&device, "V1", "21"),
    );
    let id = good.send(6, b"");
    assert_eq!(good.status_of(id), 200);
}

#[test]
fn commands_wait_for_confirmation_or_for_the_next_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Relay box", &template);
    let put = |pin: &str, value: serde_json::Value| command(&h, &device, pin, value);
    // Offline: V3 keeps the value for the next connection; V2 does not.
    let queued = put("V3", json!(1));
    assert_eq!(queued.status, 202, "{}", queued.body);
    assert_eq!(queued.body["outcome"], "queued");
    assert_eq!(put("V2", json!("x")).body["code"], "device_offline");

    let mut box_ = RawDevice::login(h.hub.blynk_port(), &token, 10);
    let sent = box_.recv();
    assert_eq!(
        (sent.command, sent.text()),
        (HARDWARE, "vw 3 1".to_owned()),
        "sync on connect"
    );

    // V4 waits for the device to confirm.
    let pending = put("V4", json!(1));
    assert_eq!(pending.body["outcome"], "pending", "{}", pending.body);
    let got = box_.recv();
    assert_eq!(got.text(), "vw 4 1");
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(
        values.body["values"]["V4"]["pending"], "1",
        "{}",
        values.body
    );
    let mut stream = h.api.stream(&h.admin);
    box_.send(HARDWARE, b"vw\x004\x001");
    wait_stream(
        &h,
        &mut stream,
        "the confirmation",
        is_value(&device, "V4", "1"),
    );
    let values = h
        .api
        .get(&format!("/devices/{device}/values"), Some(&h.admin));
    assert_eq!(values.body["values"]["V4"]["value"], "1");
    assert!(
        values.body["values"]["V4"].get("pending").is_none(),
        "{}",
        values.body
    );
}

#[test]
fn bridge_writes_reach_devices_the_owner_may_control_and_no_others() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = thermostat_template(&h);
    let (_, sender_token) = provision(&h, &h.root, "Switch", &template);
    let (lamp, lamp_token) = provision(&h, &h.root, "Lamp", &template);
    let port = h.hub.blynk_port();
    let mut sender = RawDevice::login(port, &sender_token, 10);
    let mut lamp_link = RawDevice::login(port, &lamp_token, 10);
    let id = sender.send(15, format!("64\0i\0{lamp_token}").as_bytes());
    assert_eq!(sender.status_of(id), 200);
    sender.send(15, b"64\0vw\x002\0on");
    assert_eq!(lamp_link.recv().text(), "vw 2 on");
    let values = h
        .api
        .get(&format!("/devices/{lamp}/values"), Some(&h.admin));
    assert_eq!(values.body["values"]["V2"]["value"], "on");
    // A pin never initialised is refused.
    let id = sender.send(15, b"65\0vw\x002\0on");
    assert_eq!(sender.status_of(id), 2);

    // A device owned by someone who may only view: its bridge writes are refused.
    let viewer = h.api.post("/roles", Some(&h.admin), json!({ "org": h.root, "name": "Viewer", "permissions": ["view_own_devices", "view_org_devices"] }));
    h.member(
        "kid@example.org",
        &h.root,
        viewer.body["id"].as_str().unwrap(),
    );
    let (toy, toy_token) = provision(&h, &h.root, "Toy", &template);
    let moved = h.api.post(
        &format!("/devices/{toy}/transfer"),
        Some(&h.admin),
        json!({ "to": "kid@example.org" }),
    );
    assert_eq!(moved.body["transferred"], true, "{}", moved.body);
    let mut toy_link = RawDevice::login(port, &toy_token, 10);
    let id = toy_link.send(15, format!("1\0i\0{lamp_token}").as_bytes());
    assert_eq!(toy_link.status_of(id), 200);
    let id = toy_link.send(15, b"1\0vw\x002\0off");
    assert_eq!(toy_link.status_of(id), 6, "not allowed");
}

#[test]
fn events_time_requests_and_token_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Boiler", &template);
    let mut boiler = RawDevice::login(h.hub.blynk_port(), &token, 10);
    let id = boiler.send(64, b"overheat\0Boiler at 95");
    assert_eq!(boiler.status_of(id), 200);
    let events = h
        .api
        .get(&format!("/devices/{device}/events"), Some(&h.admin));
    assert_eq!(events.body[0]["code"], "overheat", "{}", events.body);
    assert_eq!(events.body[0]["description"], "Boiler at 95");
    let id = boiler.send(65, b"overheat");
    assert_eq!(boiler.status_of(id), 200);
    let events = h
        .api
        .get(&format!("/devices/{device}/events"), Some(&h.admin));
    assert!(events.body[0]["cleared"].is_i64(), "{}", events.body);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let id = boiler.send(17, b"rtc");
    let answer = boiler.recv();
    assert_eq!((answer.command, answer.id), (17, id));
    let told: u64 = answer.text().strip_prefix("rtc ").unwrap().parse().unwrap();
    assert!(told.abs_diff(now) <= 5, "the hub's clock: {told} vs {now}");

    // A new token ends the session on the old one, and the old one is refused.
    let fresh = h.api.post(
        &format!("/devices/{device}/token"),
        Some(&h.admin),
        json!({}),
    );
    assert_eq!(fresh.status, 201);
    assert!(boiler.closed_by_hub(), "the old token's session ends");
    let mut again = RawDevice::connect(h.hub.blynk_port());
    let id = again.send(29, token.as_bytes());
    assert_eq!(again.status_of(id), 9);
    RawDevice::login(
        h.hub.blynk_port(),
        fresh.body["token"].as_str().unwrap(),
        10,
    );
}

#[test]
fn the_device_http_api_reads_writes_and_tells_if_connected() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Script", &template);
    let get = |q: &str| h.api.get_text(&format!("/external/api/{q}"));
    assert_eq!(
        get(&format!("isHardwareConnected?token={token}")),
        (200, "false".into())
    );
    assert_eq!(get(&format!("update?token={token}&V1=33")).0, 200);
    assert_eq!(get(&format!("get?token={token}&V1")), (200, "33".into()));
    assert_eq!(
        get(&format!("batch/update?token={token}&V1=34&V2=hi")).0,
        200
    );
    let both = get(&format!("get?token={token}&V1&V2"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&both.1).unwrap(),
        json!({ "V1": "34", "V2": "hi" })
    );
    let (status, body) = get(&format!("update?token={token}&V1=101"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("from 0 to 100"), "{body}");
    let (status, body) = get("get?token=nope&V1");
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"error":{"message":"Invalid token."}}"#)
    );
    let history = h
        .api
        .get(&format!("/devices/{device}/history?pin=V1"), Some(&h.admin));
    assert_eq!(
        history.body["points"].as_array().unwrap().len(),
        2,
        "{}",
        history.body
    );

    let mut live = RawDevice::login(h.hub.blynk_port(), &token, 10);
    assert_eq!(
        get(&format!("isHardwareConnected?token={token}")),
        (200, "true".into())
    );
    assert_eq!(get(&format!("update?token={token}&V2=pushed")).0, 200);
    assert_eq!(
        live.recv().text(),
        "vw 2 pushed",
        "a connected device gets the update"
    );
}

#[test]
fn a_websocket_client_that_lags_is_resynced_or_dropped_never_buffered_for() {
    let tmp = tempfile::tempdir().unwrap();
    let config = format!("{}messages_per_second = 1000000\n", common::TEST_CONFIG);
    let h = household_with(&tmp.path().join("state"), &config);
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Chatty", &template);
    let mut slow = h.api.stream(&h.admin);
    // The device list and its values; then this client stops reading.
    for _ in 0..2 {
        assert!(matches!(h.api.next(&mut slow), Event::Json(_)));
    }
    let mut chatty = RawDevice::login(h.hub.blynk_port(), &token, 30);
    const SENT: usize = 20_000;
    let filler = "x".repeat(900);
    for n in 0..SENT {
        chatty.send(HARDWARE, format!("vw\x002\0{n}{filler}").as_bytes());
    }
    chatty.send(HARDWARE, b"vw\x001\x0077");
    // The hub kept up meanwhile: a fresh client sees the last value at once.
    let mut fresh = h.api.stream(&h.admin);
    wait_stream(&h, &mut fresh, "the last value", |m| {
        is_value(&device, "V1", "77")(m)
            || (m["type"] == "values" && m["devices"][&device]["values"]["V1"]["value"] == "77")
    });
    // The slow client catches up by a snapshot (having skipped updates),
    // or was dropped; it never gets every update one by one.
    let mut one_by_one = 0;
    let mut resynced = false;
    loop {
        match h.api.next(&mut slow) {
            Event::Json(m) if m["type"] == "value" => {
                one_by_one += 1;
                if is_value(&device, "V1", "77")(&m) {
                    break;
                }
            }
            Event::Json(m) if m["type"] == "values" => {
                assert!(m["skipped"].as_u64().unwrap() > 0, "{m}");
                resynced = true;
                if m["devices"][&device]["values"]["V1"]["value"] == "77" {
                    break;
                }
            }
            Event::Json(_) => {}
            Event::Closed(_) => break, // dropped: allowed
        }
    }
    eprintln!("lagging client: {one_by_one} updates one by one, resynced: {resynced}");
    assert!(
        one_by_one < SENT,
        "the lagging client was buffered for: {one_by_one} updates"
    );
    assert!(resynced || one_by_one < SENT, "resynced or dropped");
}

#[test]
fn properties_a_device_sets_survive_a_restart_like_its_values() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut h = household(&state);
    let template = thermostat_template(&h);
    let (device, token) = provision(&h, &h.root, "Thermostat", &template);
    let mut d = RawDevice::login(h.hub.blynk_port(), &token, 10);
    d.send(19, b"1\0label\0Kitchen");
    d.send(19, b"1\0color\0#D3435C");
    d.send(HARDWARE, b"vw\x001\x0021");
    // PROPERTY has no answer; a PING's answer says the frames before it were read.
    let ping = d.send(6, b"");
    assert_eq!(d.status_of(ping), 200);
    let read = |h: &api::Household| {
        let values = h
            .api
            .get(&format!("/devices/{device}/values"), Some(&h.admin));
        assert_eq!(values.status, 200, "{}", values.body);
        values.body
    };
    let before = read(&h);
    assert_eq!(before["properties"]["V1"]["label"], "Kitchen", "{before}");
    drop(d);
    assert!(h.hub.terminate().0.success());
    h.hub = common::HubProcess::start(&state, common::TEST_CONFIG);
    h.api = api::Api::new(h.hub.api_port(), &h.hub.fingerprint());
    let after = read(&h);
    assert_eq!(after["properties"], before["properties"], "{after}");
    assert_eq!(after["properties"]["V1"]["color"], "#D3435C");
    assert_eq!(after["values"]["V1"]["value"], "21");
}
