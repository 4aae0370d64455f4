//! One login across households on the cloud: two households, each with its
//! own hub, linked to one cloud; a person who is a member of both logs in
//! once and sees all their devices, each with its household, with no
//! switching; a wrong password or an unknown address gets nothing.

use crate::{api, cloud};
use api::PASSWORD;
use cloud::{CloudProcess, hub_config, link, wait_in_sync};
use serde_json::json;

#[test]
fn a_person_in_two_households_logs_in_once_and_sees_both() {
    let tmp = tempfile::tempdir().unwrap();
    let cloud = CloudProcess::start(&tmp.path().join("cloud"));
    let mut tenants = Vec::new();
    let mut homes = Vec::new();
    for (name, device) in [("home", "Garage door"), ("cottage", "Boiler")] {
        let home = api::household_with(&tmp.path().join(name), &hub_config());
        let id = home.device(&home.root, device);
        let (_, _) = home.member("sam@example.org", &home.root, "user");
        let moved = home.api.post(
            &format!("/devices/{id}/transfer"),
            Some(&home.admin),
            json!({ "to": "sam@example.org" }),
        );
        assert_eq!(moved.status, 200, "{}", moved.body);
        home.device(&home.root, &format!("{device}'s neighbour"));
        tenants.push(link(&home, &cloud));
        homes.push(home);
    }
    for (home, tenant) in homes.iter().zip(&tenants) {
        wait_in_sync(home);
        // Each household is recorded on the cloud (its own login works).
        cloud::cloud_login(&cloud, tenant, "sam@example.org");
    }

    let login = cloud.api.post(
        "/cloud/v1/login",
        None,
        json!({ "email": "Sam@Example.org", "password": PASSWORD }),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let households = login.body["households"].as_array().unwrap();
    assert_eq!(households.len(), 2, "{}", login.body);
    for household in households {
        assert!(tenants.contains(&household["api"].as_str().unwrap().to_owned()));
    }
    let combined = login.body["token"].as_str().unwrap();
    let devices = cloud.api.get("/cloud/v1/devices", Some(combined));
    assert_eq!(devices.status, 200, "{}", devices.body);
    let mut seen: Vec<(String, String)> = devices
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["tenant"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let tenant_of = |api: &str| api.split('/').nth(2).unwrap().to_owned();
    assert_eq!(
        seen,
        [
            ("Boiler".to_owned(), tenant_of(&tenants[1])),
            ("Garage door".to_owned(), tenant_of(&tenants[0])),
        ],
        "their own devices in both households, nothing else"
    );
    // Each household's own session works on its own API too.
    let home_token = households
        .iter()
        .find(|h| h["api"] == tenants[0].as_str())
        .unwrap()["token"]
        .as_str()
        .unwrap();
    let own = cloud
        .api
        .get(&format!("{}/devices", tenants[0]), Some(home_token));
    assert_eq!(own.status, 200);

    for (email, password) in [
        ("sam@example.org", "not the password"),
        ("nobody@example.org", PASSWORD),
    ] {
        let refused = cloud.api.post(
            "/cloud/v1/login",
            None,
            json!({ "email": email, "password": password }),
        );
        assert_eq!(refused.status, 401, "{email}: {}", refused.body);
    }
    assert_eq!(cloud.api.get("/cloud/v1/devices", None).status, 401);
    assert_eq!(
        cloud.api.get("/cloud/v1/devices", Some("multi.00")).status,
        401
    );
}
