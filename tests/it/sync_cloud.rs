//! The cloud tenancy and a hub, as two real processes over `wss://` on
//! loopback (the cloud's own certificate, pinned by the hub): a household
//! made offline is linked with a one-time code and adopted whole; changes
//! flow both ways; the link survives the cloud's restart and catches up,
//! and a `kill -9` of either side right after an acknowledged change loses
//! nothing.

use crate::{api, cloud, common};
use cloud::{CloudProcess, cloud_login, device_names, eventually, hub_config, link, wait_in_sync};
use serde_json::json;

#[test]
fn a_household_made_offline_is_adopted_by_the_cloud_and_changes_flow_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let cloud = CloudProcess::start(&tmp.path().join("cloud"));
    // The household exists before there is any cloud: founded, a device
    // added, a member invited, all offline.
    let home = api::household_with(&tmp.path().join("hub"), &hub_config());
    let garage = home.device(&home.root, "Garage door");
    let (_spouse, _) = home.member("spouse@example.org", &home.root, "user");

    let tenant = link(&home, &cloud);
    wait_in_sync(&home);

    // The cloud holds the household as it was made offline: the admin's
    // and the spouse's passwords work there, the device is there, once.
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");
    let spouse = cloud_login(&cloud, &tenant, "spouse@example.org");
    assert_eq!(
        device_names(&cloud.api, &tenant, &admin),
        ["Garage door"],
        "the offline device, once"
    );
    assert!(device_names(&cloud.api, &tenant, &spouse).is_empty());

    // A change made through the cloud's API reaches the hub ...
    let renamed = cloud.api.call(
        "PATCH",
        &format!("{tenant}/devices/{garage}"),
        Some(&admin),
        Some(json!({ "name": "Front gate" })),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    eventually("the rename made on the cloud reaches the hub", || {
        device_names(&home.api, "", &home.admin) == ["Front gate"]
    });
    // ... and one made on the hub reaches the cloud.
    home.device(&home.root, "Beer machine");
    eventually("the device added on the hub reaches the cloud", || {
        device_names(&cloud.api, &tenant, &admin) == ["Beer machine", "Front gate"]
    });

    let status = home.api.get("/sync/status", Some(&home.admin));
    let peer = &status.body["peers"][0];
    assert_eq!(peer["peer"], "cloud");
    assert_eq!(peer["connected"], true);
    assert!(peer["connected_since"].as_i64().unwrap() > 0, "{peer}");
    assert!(peer["url"].as_str().unwrap().starts_with("https://"));

    // A hub links once.
    let code = cloud.code();
    let again = home.api.post(
        "/cloud/link",
        Some(&home.admin),
        json!({ "url": cloud.url(), "code": code, "fingerprint": cloud.process.fingerprint() }),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.body["message"]
            .as_str()
            .unwrap()
            .contains("already linked")
    );
    // A link code works once (here for a household of its own), a made-up
    // one never, and a hub id linked to one household cannot be taken over
    // by another.
    let doc = || {
        let bytes = hex::decode(hearth::random_hex(16)).unwrap();
        samod::DocumentId::try_from(bytes).unwrap().to_string()
    };
    let (docs, hub) = ((doc(), doc()), home.hub.runtime()["hub_id"].clone());
    let redeem = |code: &str, hub: &serde_json::Value, tenant: &str| {
        cloud.api.post(
            "/cloud/v1/link",
            None,
            json!({ "code": code, "hub_id": hub, "tenant_id": tenant,
                    "tenant_doc": docs.0, "credentials_doc": docs.1 }),
        )
    };
    let first = redeem(&code, &json!("other-hub"), "other-household");
    assert_eq!(first.status, 200, "{}", first.body);
    let reused = redeem(&code, &json!("third-hub"), "other-household");
    assert_eq!(reused.status, 403, "{}", reused.body);
    assert_eq!(reused.body["code"], "bad_link_code");
    let made_up = redeem("link_nope", &json!("third-hub"), "other-household");
    assert_eq!(made_up.status, 403, "{}", made_up.body);
    let taken = redeem(&cloud.code(), &hub, "other-household");
    assert_eq!(taken.status, 409, "{}", taken.body);
    let malformed = cloud.api.post(
        "/cloud/v1/link",
        None,
        json!({ "code": "link_nope", "hub_id": "h", "tenant_id": "t",
                "tenant_doc": "x", "credentials_doc": "y" }),
    );
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    // Only a linked hub's credential opens the sync route; only known
    // tenants are served.
    assert_eq!(
        cloud.api.get("/cloud/v1/sync", Some("hub_nope")).status,
        401
    );
    assert_eq!(cloud.api.get("/cloud/v1/sync", None).status, 401);
    assert_eq!(
        cloud
            .api
            .get("/tenants/nope/api/v1/devices", Some(&admin))
            .status,
        404
    );
    // A hub's own routes are not a household's API on the cloud.
    let household = tenant.trim_end_matches("/api/v1");
    for path in [
        format!("{tenant}/sync"),
        format!("{tenant}/hubs/pairing"),
        format!("{tenant}/cloud/link"),
        format!("{household}/metrics"),
    ] {
        let reply = cloud.api.call("POST", &path, Some(&admin), Some(json!({})));
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
    }
    // Codes come from the operator's admin socket, not the network.
    assert_eq!(
        cloud.api.post("/cloud/v1/codes", None, json!({})).status,
        403
    );

    // The cloud goes away; the hub keeps working and says so; the change
    // made meanwhile reaches the cloud when it is back.
    let cloud = {
        let mut cloud = cloud;
        cloud.process.terminate();
        eventually("the hub sees the cloud gone", || {
            let status = home.api.get("/sync/status", Some(&home.admin));
            status.body["peers"][0]["connected"] == false
                && status.body["peers"][0]["down_since"].as_i64().is_some()
        });
        home.device(&home.root, "Porch light");
        cloud.restart()
    };
    wait_in_sync(&home);
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");
    assert_eq!(
        device_names(&cloud.api, &tenant, &admin),
        ["Beer machine", "Front gate", "Porch light"]
    );

    // kill -9 right after an acknowledged change, on either side: the
    // change survives and reaches the other once it is back.
    let mut home = home;
    home.device(&home.root, "Heater");
    home.hub.signal("KILL");
    home.hub.wait_exit(common::TIMEOUT);
    home.hub = common::HubProcess::start(&home.hub.state_dir.clone(), &hub_config());
    home.api = api::Api::new(home.hub.api_port(), &home.hub.fingerprint());
    let mut cloud = cloud;
    let renamed = cloud.api.call(
        "PATCH",
        &format!("{tenant}/devices/{garage}"),
        Some(&admin),
        Some(json!({ "name": "Side gate" })),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    cloud.process.signal("KILL");
    cloud.process.wait_exit(common::TIMEOUT);
    let cloud = cloud.restart();
    wait_in_sync(&home);
    let admin = cloud_login(&cloud, &tenant, "admin@example.org");
    let expected = ["Beer machine", "Heater", "Porch light", "Side gate"];
    assert_eq!(device_names(&cloud.api, &tenant, &admin), expected);
    assert_eq!(device_names(&home.api, "", &home.admin), expected);
}
