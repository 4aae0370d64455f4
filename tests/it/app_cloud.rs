//! The household app away from home (Debian's Chromium,
//! `tests/support/household_cloud.mjs`): `hearth cloud` serves the same
//! app. Two households, each with its own hub linked to one cloud; Sam has
//! an account in both. He logs in once at the cloud and sees both
//! households, named as he may see them, and all his devices; the
//! thermostat opens in its household's app under `/tenants/<tenant>/`, and
//! a command made there reaches the real device on the hub through the
//! relay. With the hub gone, the list and the device page say the device
//! cannot be reached, and a command is refused saying so. Logging out of
//! the cloud ends his session in both households. axe-core clean;
//! screenshots under `target/tmp/household_app/cloud/`.

use serde_json::{Value, json};

use crate::app_browser::{assert_axe_clean, converse, output_dir, strings};
use crate::blynk::{self, RawDevice};
use crate::cloud::{CloudProcess, cloud_login, hub_config, link, wait_in_sync};
use crate::{api, common};

#[test]
fn away_from_home_the_cloud_serves_the_app_with_one_login_and_commands_through_the_relay() {
    let tmp = tempfile::tempdir().unwrap();
    let cloud = CloudProcess::start(&tmp.path().join("cloud"));
    let mut home = api::household_with(&tmp.path().join("home"), &hub_config());
    let template = blynk::thermostat_template(&home);
    let (thermostat, token) = blynk::provision(&home, &home.root, "Thermostat", &template);
    // Kim is a member of a family sub-organization of home only: the
    // cloud shows her that household by her organization's name, and
    // nothing of its root.
    let family = home.api.post(
        "/orgs",
        Some(&home.admin),
        json!({ "parent": home.root, "name": "Family" }),
    );
    let family = family.body["id"].as_str().unwrap().to_owned();
    let role = home.api.post(
        "/roles",
        Some(&home.admin),
        json!({ "org": family, "name": "Family", "permissions": ["view_org_devices"] }),
    );
    home.member(
        "kim@example.org",
        &family,
        role.body["id"].as_str().unwrap(),
    );
    let garage = home.device(&family, "Garage door");
    let cottage = api::household_with(&tmp.path().join("cottage"), &hub_config());
    let boiler = cottage.device(&cottage.root, "Boiler");
    cottage.device(&cottage.root, "Not Sam's");
    let mut tenants = Vec::new();
    for (household, device) in [(&home, &thermostat), (&cottage, &boiler)] {
        household.member("sam@example.org", &household.root, "user");
        let moved = household.api.post(
            &format!("/devices/{device}/transfer"),
            Some(&household.admin),
            json!({ "to": "sam@example.org" }),
        );
        assert_eq!(moved.status, 200, "{}", moved.body);
        tenants.push(link(household, &cloud));
    }
    for (household, tenant) in [(&home, &tenants[0]), (&cottage, &tenants[1])] {
        wait_in_sync(household);
        cloud_login(&cloud, tenant, "sam@example.org");
    }
    let mut device = RawDevice::login(home.hub.blynk_port(), &token, 60);
    let values = format!("{}/devices/{thermostat}/values", tenants[0]);
    let admin = cloud_login(&cloud, &tenants[0], "admin@example.org");
    crate::cloud::eventually("the cloud reaches the thermostat through its hub", || {
        cloud.api.get(&values, Some(&admin)).body["online"]["transport"] == "relay"
    });

    let mut received = None;
    let facts = converse(
        "household_cloud.mjs",
        &[
            format!("https://localhost:{}", cloud.port),
            output_dir().join("cloud").display().to_string(),
            home.root.clone(),
        ],
        |asked: &Value| {
            if asked["command_sent"] == true {
                let frame = device.recv();
                received = Some((frame.command, frame.text()));
            } else if asked["stop_hub"] == true {
                home.hub.signal("KILL");
                home.hub.wait_exit(common::TIMEOUT);
            }
        },
    );
    let list = |key: &str| strings(&facts[key]);
    let text = |key: &str| {
        facts[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {facts}"))
            .to_owned()
    };

    assert_eq!(text("refused"), "wrong email or password");
    // Both households, as Sam may see them (his organizations' names).
    let households = list("households");
    assert_eq!(households.len(), 2, "{facts}");
    // Two households both called Home read differently, and each device
    // row says which it is in, apart from its name and state.
    assert_ne!(households[0], households[1], "{facts}");
    let devices = list("devices");
    assert_eq!(
        devices.len(),
        2,
        "his two devices, nothing else: {devices:?}"
    );
    assert!(
        devices
            .iter()
            .any(|d| d.contains("Thermostat") && d.contains("Online")),
        "{devices:?}"
    );
    // The thermostat's row names its own household (the home's), on a
    // line of its own.
    let home_id = tenants[0].split('/').nth(2).unwrap();
    let home_label = facts["household_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l[1].as_str().unwrap().contains(home_id))
        .and_then(|l| l[0].as_str())
        .unwrap_or_else(|| panic!("the home's link: {facts}"));
    assert!(
        devices.iter().any(|d| d.contains("Thermostat")
            && d.lines().any(|line| line == format!("in {home_label}"))),
        "{devices:?} {home_label}"
    );
    assert!(
        devices
            .iter()
            .any(|d| d.contains("Boiler") && d.contains("Not reachable now")),
        "{devices:?}"
    );
    // One HttpOnly, Secure, SameSite=Strict cookie, the cloud's own.
    assert_eq!(
        facts["cookies"],
        json!([{ "name": "__Host-hearth_cloud", "httpOnly": true, "secure": true, "sameSite": "Strict" }])
    );

    // The household's app under its prefix; the command reached the device.
    let tenant_id = tenants[0].split('/').nth(2).unwrap();
    assert_eq!(
        text("device_path"),
        format!("/tenants/{tenant_id}/devices/{thermostat}")
    );
    assert_eq!(
        text("activity_path"),
        format!("/tenants/{tenant_id}/activity")
    );
    assert!(text("banner").contains("Away from home"), "{facts}");
    let nav = list("nav");
    assert!(
        !nav.iter().any(|n| n == "Hubs" || n == "Sensors"),
        "{nav:?}"
    );
    assert_eq!(received, Some((20, "vw 1 1".to_owned())));

    // The hub gone: said on the list, on the page and by a command.
    assert!(
        list("devices_hub_gone")
            .iter()
            .any(|d| d.contains("Thermostat") && d.contains("Not reachable now")),
        "{facts}"
    );
    assert!(
        text("offline_notice").contains("reached through its hub"),
        "{facts}"
    );
    assert!(
        text("command_refused").to_lowercase().contains("offline"),
        "{facts}"
    );

    // Logged out of the cloud: no cookie, no session in either household.
    assert_eq!(facts["cookies_after_logout"], json!([]));
    assert_eq!(text("household_after_logout"), "login");
    assert_eq!(facts["held_sessions_after_logout"], 401, "{facts}");

    // A page of another site cannot log the person out of the cloud nor
    // act in a household through it.
    assert_eq!(facts["cross_site_logout"], 403, "{facts}");
    assert_eq!(facts["cross_site_household"], 403, "{facts}");

    // Kim sees home by her own organization's name, and only the garage
    // door; no page she opened and no answer it fetched names the root.
    assert_eq!(list("kim_households"), ["Family"]);
    let kim_devices = list("kim_devices");
    assert!(
        kim_devices.len() == 1 && kim_devices[0].contains("Garage door"),
        "{kim_devices:?}"
    );
    assert_eq!(
        text("kim_device_path"),
        format!("/tenants/{tenant_id}/devices/{garage}")
    );
    assert!(facts["kim_looked_at"].as_u64().unwrap() >= 5, "{facts}");
    assert_eq!(facts["kim_saw_root"], json!([]), "{facts}");

    // Every page fetched only what it may: what failed is exactly the
    // refused login, the first looks for a session, the command refused
    // with the hub gone, and the household's look after the logout.
    let mut failed: Vec<String> = list("fetched")
        .into_iter()
        .filter(|f| !f.starts_with('2') && !f.starts_with('3'))
        .collect();
    failed.sort();
    failed.dedup();
    let on = |path: &str| format!("/tenants/{tenant_id}/api/v1{path}");
    assert_eq!(
        failed,
        [
            "401 /cloud/v1/login".to_owned(),
            "401 /cloud/v1/me".to_owned(),
            format!("401 {}", on("/me")),
            // At the cloud's own address the app asks for a household
            // first: there is none there.
            "404 /api/v1/me".to_owned(),
            format!("409 {}", on(&format!("/devices/{thermostat}/values/V1"))),
        ]
    );
    assert_axe_clean(&facts);
}
