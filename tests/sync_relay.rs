//! Commands through the cloud: an app away from home commands a device
//! connected to the household's hub; the cloud knows which hub has it,
//! relays the command there, the hub checks it again as the same person
//! and sends it; a person who may not control it is refused by the cloud;
//! with the hub gone, the command fails at once as offline.

#[path = "common/api.rs"]
mod api;
#[path = "common/blynk.rs"]
mod blynk;
#[path = "common/cloud.rs"]
mod cloud;
mod common;

use blynk::RawDevice;
use cloud::{CloudProcess, cloud_login, eventually, hub_config, link, wait_in_sync};
use serde_json::json;

#[test]
fn a_command_made_through_the_cloud_reaches_the_device_on_its_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let cloud = CloudProcess::start(&tmp.path().join("cloud"));
    let mut home = api::household_with(&tmp.path().join("hub"), &hub_config());
    let template = blynk::thermostat_template(&home);
    let (thermostat, token) = blynk::provision(&home, &home.root, "Thermostat", &template);
    let (_, _) = home.member("guest@example.org", &home.root, "user");
    let mut device = RawDevice::login(home.hub.blynk_port(), &token, 30);
    let tenant = link(&home, &cloud);
    wait_in_sync(&home);
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");
    let guest = cloud_login(&cloud, &tenant, "guest@example.org");

    // The cloud learns which hub the device is on.
    let values = format!("{tenant}/devices/{thermostat}/values");
    eventually("the cloud sees the device through its hub", || {
        let reply = cloud.api.get(&values, Some(&admin));
        reply.body["online"]["transport"] == "relay"
    });

    let command = format!("{tenant}/devices/{thermostat}/values/V1");
    let sent = cloud
        .api
        .call("PUT", &command, Some(&admin), Some(json!({ "value": 42 })));
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body["outcome"], "sent");
    let frame = device.recv();
    assert_eq!((frame.command, frame.text()), (20, "vw 1 42".to_owned()));
    // Recorded on the hub, and brought back to the cloud once.
    eventually("the commanded value reaches the cloud's history", || {
        let history = cloud.api.get(
            &format!("{tenant}/devices/{thermostat}/history?pin=V1"),
            Some(&admin),
        );
        history.body["points"]
            .as_array()
            .is_some_and(|p| p.len() == 1)
    });
    assert_eq!(blynk::history_values(&home, &thermostat, "V1"), ["42"]);

    // Out of range, or by someone who may not control it: refused by the
    // cloud with the hub's own checks and words.
    let invalid = cloud
        .api
        .call("PUT", &command, Some(&admin), Some(json!({ "value": 420 })));
    assert_eq!(invalid.status, 400, "{}", invalid.body);
    let refused = cloud
        .api
        .call("PUT", &command, Some(&guest), Some(json!({ "value": 1 })));
    assert_eq!(refused.status, 404, "{}", refused.body);

    // The hub goes away: the cloud says the device is offline, at once.
    home.hub.signal("KILL");
    home.hub.wait_exit(common::TIMEOUT);
    eventually("the cloud takes the device for offline", || {
        let reply = cloud
            .api
            .call("PUT", &command, Some(&admin), Some(json!({ "value": 7 })));
        reply.status == 409 && reply.body["code"] == "device_offline"
    });
    drop(device);
}
