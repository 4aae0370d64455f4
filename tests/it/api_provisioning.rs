//! Provisioning over HTTPS against a real hub: templates, a device's auth
//! token (shown once, replaced on reissue), its BLE MAC, and BLE bridges,
//! each allowed only to who manages devices there.

use crate::api;
use api::household;
use serde_json::json;

#[test]
fn templates_tokens_macs_and_bridges_follow_the_sharing_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let door = |pins: serde_json::Value| json!({ "org": h.root, "name": "Door sensor", "definition": { "datastreams": pins } });
    let bad = h.api.post(
        "/templates",
        Some(&h.admin),
        door(json!([
            { "pin": 1, "name": "A", "type": "int", "min": 0, "max": 1 },
            { "pin": 1, "name": "B", "type": "int", "min": 0, "max": 1 },
        ])),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body["message"].as_str().unwrap().contains("pin V1"),
        "{}",
        bad.body
    );
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        door(json!([{ "pin": 0, "name": "Door", "type": "int", "min": 0, "max": 1, "unit": "open" }])),
    );
    assert_eq!(template.status, 201, "{}", template.body);
    let template = template.body["id"].as_str().unwrap().to_owned();
    let listed = h.api.get("/templates", Some(&h.admin));
    assert_eq!(
        listed.body[0]["definition"]["datastreams"][0]["name"],
        "Door"
    );

    let front = h.api.post(
        "/devices",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Front door", "template": template }),
    );
    assert_eq!(front.status, 201, "{}", front.body);
    let front = front.body["id"].as_str().unwrap().to_owned();
    let in_use = h.api.call(
        "DELETE",
        &format!("/templates/{template}"),
        Some(&h.admin),
        None,
    );
    assert_eq!(in_use.status, 409);
    assert!(
        in_use.body["message"]
            .as_str()
            .unwrap()
            .contains("Front door")
    );

    let first = h.api.post(
        &format!("/devices/{front}/token"),
        Some(&h.admin),
        json!({}),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    let first = first.body["token"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 32);
    let second = h.api.post(
        &format!("/devices/{front}/token"),
        Some(&h.admin),
        json!({}),
    );
    assert_ne!(
        second.body["token"].as_str().unwrap(),
        first,
        "a reissue replaces it"
    );

    let mac = h.api.call(
        "PUT",
        &format!("/devices/{front}/ble"),
        Some(&h.admin),
        Some(json!({ "mac": "a4-c1-38-12-34-56" })),
    );
    assert_eq!(mac.status, 200, "{}", mac.body);
    let back = h.device(&h.root, "Back door");
    let taken = h.api.call(
        "PUT",
        &format!("/devices/{back}/ble"),
        Some(&h.admin),
        Some(json!({ "mac": "A4:C1:38:12:34:56" })),
    );
    assert_eq!(taken.status, 409);
    assert!(
        taken.body["message"]
            .as_str()
            .unwrap()
            .contains("Front door")
    );

    // An owner without manage_devices may not issue their device's token.
    let (spouse, _) = h.member("spouse@example.org", &h.root, "user");
    assert_eq!(
        h.api
            .post(&format!("/devices/{front}/token"), Some(&spouse), json!({}))
            .status,
        404,
        "not hers, so not there"
    );
    h.api.post(
        &format!("/devices/{front}/transfer"),
        Some(&h.admin),
        json!({ "to": "spouse@example.org" }),
    );
    let denied = h
        .api
        .post(&format!("/devices/{front}/token"), Some(&spouse), json!({}));
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert_eq!(denied.body["permission"], "manage_devices");

    let bridge = h.api.post(
        "/bridges",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Theengs in the hall" }),
    );
    assert_eq!(bridge.status, 201, "{}", bridge.body);
    let id = bridge.body["id"].as_str().unwrap().to_owned();
    assert_eq!(bridge.body["token"].as_str().unwrap().len(), 32);
    let listed = h.api.get("/bridges", Some(&h.admin));
    assert_eq!(listed.body[0]["name"], "Theengs in the hall");
    assert!(
        listed.body[0].get("token").is_none(),
        "tokens are shown once"
    );
    let family = h.api.post(
        "/orgs",
        Some(&h.admin),
        json!({ "parent": h.root, "name": "Family" }),
    );
    let family = family.body["id"].as_str().unwrap().to_owned();
    let (kid, _) = h.member("kid@example.org", &family, "admin");
    assert_eq!(h.api.get("/bridges", Some(&kid)).body, json!([]));
    assert_eq!(
        h.api
            .call("DELETE", &format!("/bridges/{id}"), Some(&kid), None)
            .status,
        404
    );
    assert_eq!(
        h.api
            .call("DELETE", &format!("/bridges/{id}"), Some(&h.admin), None)
            .status,
        204
    );
    assert_eq!(
        h.api.get("/bridges", Some(&h.admin)).body[0]["revoked"],
        true
    );
}

/// `GET /connect` names the ports the device listeners bound and the name
/// the hub is reached by; the certificate it links is the one a real Blynk TLS client
/// (blynklib) trusts to connect on the TLS port it names.
#[test]
fn connect_names_the_bound_device_ports_and_its_certificate_lets_tls_firmware_in() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let h = household(&state);
    let reach = h.api.get("/connect", Some(&h.admin));
    assert_eq!(reach.status, 200, "{}", reach.body);
    // mDNS is off: devices are told the name this client reached the hub by
    // (its Host header), not a `.local` name nobody announces.
    assert_eq!(reach.body["host"], "hearth.local");
    assert_eq!(reach.body["blynk"]["port"], h.hub.blynk_port());
    assert_eq!(reach.body["blynk"]["tls_port"], h.hub.blynk_tls_port());
    assert_eq!(reach.body["mqtt"]["port"], h.hub.mqtt_port());
    assert_eq!(reach.body["mqtt"]["username"], "device");
    assert_eq!(reach.body["http_api"], "/external/api");
    assert_eq!(h.api.get("/connect", None).status, 401);

    let ca_url = reach.body["blynk"]["ca_url"].as_str().unwrap();
    let (status, pem) = h.api.get_text(ca_url.trim_start_matches("/api/v1"));
    assert_eq!(status, 200);
    let kept = std::fs::read_to_string(state.join(hearth::api::tls::DEVICE_CERT_FILE)).unwrap();
    assert_eq!(pem, kept);
    let ca = tmp.path().join("downloaded-ca.pem");
    std::fs::write(&ca, &pem).unwrap();

    let template = crate::blynk::thermostat_template(&h);
    let (_, token) = crate::blynk::provision(&h, &h.root, "Hall thermostat", &template);
    let mut client = crate::blynk::Client::start(
        crate::blynk::Kind::Blynklib,
        "localhost",
        h.hub.blynk_tls_port(),
        &token,
        Some(&ca),
    );
    client.wait_connected();
}
