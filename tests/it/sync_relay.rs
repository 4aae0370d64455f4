//! Commands through the cloud: an app away from home commands a device
//! connected to the household's hub; the cloud knows which hub has it,
//! relays the command there, the hub checks it again as the same person
//! and sends it; a person who may not control it is refused by the cloud;
//! a cloud gone silent for a while costs the hub its poll in flight, not
//! the relay; with the hub gone, the command fails at once as offline.

use crate::{api, blynk, cloud, common, proxy};
use blynk::RawDevice;
use cloud::{CloudProcess, cloud_login, eventually, hub_config, link_at, wait_in_sync};
use proxy::Proxy;
use serde_json::json;

#[test]
fn a_command_made_through_the_cloud_reaches_the_device_on_its_hub() {
    let tmp = tempfile::tempdir().unwrap();
    // The cloud closes a connection idle between requests after 2 s.
    let cloud = CloudProcess::start_configured(
        &tmp.path().join("cloud"),
        &cloud::CLOUD_CONFIG.replace("[api]\n", "[api]\nheader_timeout_secs = 2\n"),
    );
    let mut home = api::household_with(&tmp.path().join("hub"), &hub_config());
    let template = blynk::thermostat_template(&home);
    let (thermostat, token) = blynk::provision(&home, &home.root, "Thermostat", &template);
    let (_, _) = home.member("guest@example.org", &home.root, "user");
    let mut device = RawDevice::login(home.hub.blynk_port(), &token, 30);
    let to_cloud = Proxy::to(cloud.port);
    let tenant = link_at(
        &home,
        &cloud,
        &format!("https://127.0.0.1:{}", to_cloud.port),
    );
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

    // The cloud's packets stop coming (dropped, no reset) until the cloud
    // has taken the hub for gone and closed the connections it had with it:
    // the answer to the poll in flight is lost, and so is the end of its
    // connection (the cloud closes one idle for 2 s). The hub gives that poll up and polls again, so
    // once packets flow commands reach the device again (without the limit
    // on a poll it would wait on that connection for ever).
    to_cloud.stall_replies();
    eventually(
        "the cloud takes the silent hub's device for offline",
        || {
            let reply = cloud.api.get(&values, Some(&admin));
            reply.status == 200 && reply.body["online"].is_null()
        },
    );
    let before = to_cloud.accepted();
    eventually(
        "the cloud closes every connection it had with the hub",
        || to_cloud.target_closed_first(before),
    );
    to_cloud.unstall();
    eventually("a command through the cloud is sent again", || {
        let reply = cloud
            .api
            .call("PUT", &command, Some(&admin), Some(json!({ "value": 43 })));
        reply.status == 200 && reply.body["outcome"] == "sent"
    });
    let frame = device.recv();
    assert_eq!((frame.command, frame.text()), (20, "vw 1 43".to_owned()));
    // Its sync link to the cloud is back too (a dial caught in the silence
    // is abandoned after its connect timeout, then redialed).
    eventually("the hub is linked to the cloud again", || {
        let status = home.api.get("/sync/status", Some(&home.admin));
        status.body["peers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["peer"] == "cloud" && p["connected"] == true)
    });

    // The hub goes away: the cloud says the device is offline, at once.
    home.hub.signal("KILL");
    home.hub.wait_exit(common::TIMEOUT);
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    loop {
        let reply = cloud
            .api
            .call("PUT", &command, Some(&admin), Some(json!({ "value": 7 })));
        if reply.status == 409 && reply.body["code"] == "device_offline" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cloud still takes the device for online ({}: {}):\n{}",
            reply.status,
            reply.body,
            cloud.process.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(device);
}
