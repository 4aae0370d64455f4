//! Setting devices up in a real browser (Debian's Chromium,
//! `tests/support/household_devices.mjs`) against the real hub and real
//! device clients: a template made on the Templates page (the hub's
//! validation message shown first), a device added with it whose token is
//! shown once with the Blynk firmware lines, MQTT settings and HTTP API,
//! each then used as shown by a real client (blynklib, paho, an HTTP
//! fetch) while the open device page follows; a rename, a new token that
//! stops the old one, a template refused while in use, the device deleted,
//! then the template. axe-core clean; screenshots under
//! `target/tmp/household_app/devices/`.

use crate::app_browser::{facts_of, output_dir, plain_http_config};
use crate::{api, common};

#[test]
fn a_device_is_added_from_a_template_and_connected_with_what_the_app_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hub = common::HubProcess::start(&state, &plain_http_config());
    let code = api::setup_code(&state);
    let base = format!("http://localhost:{}", hub.api_port());
    let facts = facts_of(
        &hub,
        "household_devices.mjs",
        &[
            base.clone(),
            code,
            output_dir().join("devices").display().to_string(),
        ],
    );
    let text = |key: &str| {
        facts[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {facts}"))
            .to_owned()
    };

    // The template: the hub's own validation words, then made.
    assert!(
        text("invalid").contains("V1 (Temperature): min must not exceed max"),
        "{facts}"
    );
    assert_eq!(
        text("created"),
        "Thermostat is ready: add a device with it."
    );
    assert!(
        text("template_summary").contains("2 datastreams"),
        "{facts}"
    );

    // The token, shown once, and what to connect with.
    assert_eq!(facts["token_length"], 32);
    assert_eq!(facts["copied"].as_str().map(str::len), Some(32));
    assert_eq!(facts["token_after_leaving"], false);
    let blynk = text("blynk");
    let line = format!(
        "Blynk.begin(auth, \"your-wifi\", \"wifi-password\", \"{}\", {});",
        text("blynk_host"),
        hub.blynk_port()
    );
    assert!(blynk.contains(&line), "{blynk}");
    // mDNS is off: the name the browser reached the hub by, not a `.local`
    // name nobody announces.
    assert_eq!(text("blynk_host"), "localhost", "{facts}");
    assert!(blynk.contains(&format!("char auth[] = \"{}\";", text("copied"))));
    let mqtt = text("mqtt");
    for wanted in [
        format!("port      {}", hub.mqtt_port()),
        "username  device".to_owned(),
        format!("password  {}", text("copied")),
        "publish   ds/<datastream name>".to_owned(),
        "subscribe downlink/#".to_owned(),
    ] {
        assert!(mqtt.contains(&wanted), "{wanted:?} in {mqtt}");
    }
    assert!(
        text("http").starts_with(&format!("curl '{base}/external/api/update?token=")),
        "{facts}"
    );
    // Plain HTTP here: the hub has no TLS device port, and says none.
    assert_eq!(facts["tls_line"], 0);

    // Each used as shown, the open page following.
    assert_eq!(text("blynk_value"), "21.5");
    assert_eq!(facts["mqtt_connected"], 0);
    assert_eq!(text("mqtt_value"), "23");
    assert_eq!(facts["http_status"], 200);
    assert_eq!(text("http_value"), "5");

    // Settings.
    assert_eq!(text("renamed"), "Renamed to Hallway thermostat.");
    assert!(text("token_warning").contains("stops working at once"));
    assert_eq!(facts["new_token_differs"], true);
    assert_eq!(facts["old_token"][0], 400, "{facts}");
    assert_eq!(facts["new_token"][0], 200, "{facts}");
    assert!(
        text("template_refused").contains("devices still use this template: Hallway thermostat"),
        "{facts}"
    );
    assert_eq!(
        text("untemplated"),
        "Hallway thermostat has no template now."
    );
    assert_eq!(facts["controls_untemplated"], 0, "{facts}");
    assert_eq!(text("templated"), "Hallway thermostat is now a Thermostat.");
    assert!(text("delete_warning").contains("cannot be undone"));
    assert_eq!(facts["devices_after"], serde_json::json!([]));
    assert_eq!(text("template_deleted"), "Thermostat deleted.");
    assert_eq!(facts["templates_after"], 0);

    for (page, violations) in facts["axe"].as_object().unwrap() {
        assert_eq!(violations, &serde_json::json!([]), "axe on {page}");
    }
    assert_eq!(facts["axe"].as_object().unwrap().len(), 3);
    assert_eq!(facts["screenshots"].as_array().unwrap().len(), 6);
}
