//! Blynk's users' stories, told over HTTPS against a real hub, each test
//! named after the story (issue 4).

use crate::api;
use api::household;
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<&str> {
    let mut ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids
}

#[test]
fn inviting_an_address_that_already_has_an_account_is_normal() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let (_, _) = h.member("spouse@example.org", &h.root, "user");
    let family = h.api.post(
        "/orgs",
        Some(&h.admin),
        json!({ "parent": h.root, "name": "Family" }),
    );
    assert_eq!(family.status, 201);
    let again = h.api.post(
        "/members",
        Some(&h.admin),
        json!({ "email": "Spouse@Example.org", "org": family.body["id"], "role": "user" }),
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body["existing_user"], true);
    assert_eq!(
        again.body["invite_code"],
        Value::Null,
        "she logs in as before"
    );
}

#[test]
fn a_transfer_that_cannot_happen_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let garage = h.device(&h.root, "Garage door");
    let outsider = h.api.post(
        &format!("/devices/{garage}/transfer"),
        Some(&h.admin),
        json!({ "to": "neighbour@example.org" }),
    );
    assert_eq!(outsider.status, 409, "{}", outsider.body);
    assert_eq!(
        outsider.body["message"],
        "neighbour@example.org is not a member of this household; invite them first — they keep their other memberships"
    );
    let (_, _) = h.member("spouse@example.org", &h.root, "user");
    let done = h.api.post(
        &format!("/devices/{garage}/transfer"),
        Some(&h.admin),
        json!({ "to": "spouse@example.org" }),
    );
    assert_eq!(done.body["transferred"], true, "{}", done.body);
    let same = h.api.post(
        &format!("/devices/{garage}/transfer"),
        Some(&h.admin),
        json!({ "to": "spouse@example.org" }),
    );
    assert_eq!(same.status, 200);
    assert_eq!(same.body["transferred"], false);
    assert!(
        same.body["message"]
            .as_str()
            .unwrap()
            .contains("already owns Garage door"),
        "{}",
        same.body
    );
    // The answer's op is the audit entry's.
    let audit = h.api.get("/audit", Some(&h.admin));
    assert!(
        audit
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "transfer"
                && e["op"] == done.body["op"]
                && e["subject"] == garage.as_str()),
        "{} not in {}",
        done.body["op"],
        audit.body
    );
    // To the current owner, naming another organization of theirs: a move
    // there, not a no-op that ignores it.
    let garden = h.api.post(
        "/orgs",
        Some(&h.admin),
        json!({ "parent": h.root, "name": "Garden" }),
    );
    let garden = garden.body["id"].as_str().unwrap().to_owned();
    let moved = h.api.post(
        &format!("/devices/{garage}/transfer"),
        Some(&h.admin),
        json!({ "to": "spouse@example.org", "org": garden }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["transferred"], true, "{}", moved.body);
    assert_eq!(moved.body["org"], garden.as_str());
    let nowhere = h.api.post(
        &format!("/devices/{garage}/transfer"),
        Some(&h.admin),
        json!({ "to": "spouse@example.org", "org": "no-such-org" }),
    );
    assert_eq!(
        nowhere.status, 404,
        "a destination that is not there is said so: {}",
        nowhere.body
    );
}

#[test]
fn a_sub_organization_admin_is_not_told_of_organizations_they_cannot_see() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let org = |parent: &str, name: &str| {
        let made = h.api.post(
            "/orgs",
            Some(&h.admin),
            json!({ "parent": parent, "name": name }),
        );
        assert_eq!(made.status, 201, "{}", made.body);
        made.body["id"].as_str().unwrap().to_owned()
    };
    let flat = org(&h.root, "Flat");
    let studio = org(&h.root, "Secret studio");
    let attic = org(&flat, "Attic");
    let cellar = org(&flat, "Cellar");
    let (flat_admin, _) = h.member("tenant@example.org", &flat, "admin");
    // Someone in two of the flat's sub-organizations and in one the flat cannot see.
    let (_, _) = h.member("lodger@example.org", &attic, "user");
    for o in [&cellar, &studio] {
        let invited = h.api.post(
            "/members",
            Some(&h.admin),
            json!({ "email": "lodger@example.org", "org": o, "role": "user" }),
        );
        assert_eq!(invited.status, 201, "{}", invited.body);
    }
    let lamp = h.api.post(
        "/devices",
        Some(&flat_admin),
        json!({ "org": flat, "name": "Lamp" }),
    );
    assert_eq!(lamp.status, 201, "{}", lamp.body);
    let lamp = lamp.body["id"].as_str().unwrap().to_owned();
    let refused = h.api.post(
        &format!("/devices/{lamp}/transfer"),
        Some(&flat_admin),
        json!({ "to": "lodger@example.org" }),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    let text = refused.body.to_string();
    assert!(text.contains("Attic") && text.contains("Cellar"), "{text}");
    assert!(
        !text.contains("Secret studio") && !text.contains(&studio),
        "{text}"
    );
}

#[test]
fn invited_people_see_their_own_devices_with_the_default_role() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let lamp = h.device(&h.root, "Reading lamp");
    let (token, _) = h.member("kid@example.org", &h.root, "user");
    assert_eq!(h.api.get("/devices", Some(&token)).body, json!([]));
    h.api.post(
        &format!("/devices/{lamp}/transfer"),
        Some(&h.admin),
        json!({ "to": "kid@example.org" }),
    );
    let mine = h.api.get("/devices", Some(&token));
    assert_eq!(mine.body[0]["id"], lamp.as_str());
    assert_eq!(
        mine.body[0]["level"], "control",
        "User can control own devices"
    );
    assert_eq!(mine.body[0]["owned"], true);
}

#[test]
fn the_garage_door_goes_to_a_spouse_who_may_view_but_not_control_own_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let garage = h.device(&h.root, "Garage door");
    let beer = h.device(&h.root, "Beer machine");
    let viewer = h.api.post(
        "/roles",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Viewer", "permissions": ["view_own_devices"] }),
    );
    assert_eq!(viewer.status, 201, "{}", viewer.body);
    let (spouse, _) = h.member(
        "spouse@example.org",
        &h.root,
        viewer.body["id"].as_str().unwrap(),
    );
    let done = h.api.post(
        &format!("/devices/{garage}/transfer"),
        Some(&h.admin),
        json!({ "to": "spouse@example.org" }),
    );
    assert_eq!(done.body["transferred"], true, "{}", done.body);

    let hers = h.api.get("/devices", Some(&spouse));
    assert_eq!(
        ids(&hers.body),
        vec![garage.as_str()],
        "only the garage door"
    );
    assert_eq!(hers.body[0]["level"], "view");
    assert_eq!(hers.body[0]["owned"], true);
    assert_eq!(
        h.api
            .get(&format!("/devices/{garage}"), Some(&spouse))
            .status,
        200
    );
    let hidden = h.api.get(&format!("/devices/{beer}"), Some(&spouse));
    assert_eq!(
        hidden.status, 404,
        "the beer machine does not exist for her"
    );
    assert_eq!(hidden.body["code"], "not_found");
    // She sees it, and as its owner may rename it, but deleting it needs
    // manage_devices: 403 naming the permission.
    let delete = h
        .api
        .call("DELETE", &format!("/devices/{garage}"), Some(&spouse), None);
    assert_eq!(delete.status, 403, "{}", delete.body);
    assert_eq!(delete.body["code"], "forbidden");
    assert_eq!(delete.body["permission"], "manage_devices");
    // She may watch its values but not control it.
    let watch = h
        .api
        .get(&format!("/devices/{garage}/values"), Some(&spouse));
    assert_eq!(watch.status, 200, "{}", watch.body);
    let open = |device: &str, token: &str| {
        h.api.call(
            "PUT",
            &format!("/devices/{device}/values/V0"),
            Some(token),
            Some(json!({ "value": 1 })),
        )
    };
    let refused = open(&garage, &spouse);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["code"], "forbidden");
    assert_eq!(refused.body["permission"], "control_own_devices");
    assert_eq!(
        refused.body["message"],
        "your role in Home lacks Control Own Devices (control_own_devices), which controlling your device Garage door needs"
    );
    // Her device's page says so before she tries, in the same words.
    let page = h.api.get(&format!("/devices/{garage}"), Some(&spouse));
    assert_eq!(page.body["view_only"]["message"], refused.body["message"]);
    assert_eq!(page.body["view_only"]["permission"], "control_own_devices");
    let admins = h.api.get(&format!("/devices/{garage}"), Some(&h.admin));
    assert_eq!(
        admins.body["view_only"],
        Value::Null,
        "the admin may control it"
    );
    assert_eq!(open(&beer, &spouse).status, 404, "nor control it");
    assert_eq!(
        h.api
            .get(&format!("/devices/{beer}/values"), Some(&spouse))
            .status,
        404
    );
    // The admin may: the command passes the checks and finds the door
    // offline (nothing is connected in this story).
    let admin_opens = open(&garage, &h.admin);
    assert_eq!(admin_opens.status, 409, "{}", admin_opens.body);
    assert_eq!(admin_opens.body["code"], "device_offline");

    let all = h.api.get("/devices", Some(&h.admin));
    let mut both = vec![garage.as_str(), beer.as_str()];
    both.sort();
    assert_eq!(ids(&all.body), both, "the admin still sees both");
}

#[test]
fn a_family_sub_organization_sees_the_garage_door_and_nothing_of_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let garage = h.device(&h.root, "Garage door");
    let beer = h.device(&h.root, "Beer machine");
    let family = h.api.post(
        "/orgs",
        Some(&h.admin),
        json!({ "parent": h.root, "name": "Family" }),
    );
    let family = family.body["id"].as_str().unwrap().to_owned();
    let role = h.api.post(
        "/roles",
        Some(&h.admin),
        json!({ "org": family, "name": "Family", "permissions": ["view_org_devices"] }),
    );
    assert_eq!(role.status, 201, "{}", role.body);
    let (kid, _) = h.member(
        "kid@example.org",
        &family,
        role.body["id"].as_str().unwrap(),
    );
    let moved = h.api.post(
        &format!("/devices/{garage}/move"),
        Some(&h.admin),
        json!({ "org": family }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);

    let theirs = h.api.get("/devices", Some(&kid));
    assert_eq!(ids(&theirs.body), vec![garage.as_str()]);
    assert_eq!(theirs.body[0]["org_path"], json!(["Family"]));
    assert_eq!(theirs.body[0]["level"], "view");
    // Nothing of the root: its devices, members, name or id.
    assert_eq!(
        h.api.get(&format!("/devices/{beer}"), Some(&kid)).status,
        404
    );
    let orgs = h.api.get("/orgs", Some(&kid));
    assert_eq!(
        orgs.body,
        json!([{ "id": family, "name": "Family", "parent": null }])
    );
    let members = h.api.get("/members", Some(&kid));
    let emails: Vec<&str> = members
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["kid@example.org"]);
    let me_admin = h.api.get("/me", Some(&h.admin));
    let admin_membership = me_admin.body["memberships"][0]["membership"]
        .as_str()
        .unwrap();
    let probe = h.api.call(
        "PATCH",
        &format!("/members/{admin_membership}"),
        Some(&kid),
        Some(json!({ "role": "user" })),
    );
    assert_eq!(probe.status, 404, "{}", probe.body);
    let rename_root = h.api.call(
        "PATCH",
        &format!("/orgs/{}", h.root),
        Some(&kid),
        Some(json!({ "name": "Mine" })),
    );
    assert_eq!(rename_root.status, 404);
    let audit = h.api.get("/audit", Some(&kid));
    assert_eq!(audit.status, 200);
    let text = audit.body.to_string();
    assert!(!audit.body.as_array().unwrap().is_empty());
    for hidden in [h.root.as_str(), beer.as_str(), "Home", "admin@example.org"] {
        assert!(
            !text.contains(hidden),
            "the kid's audit shows {hidden}: {text}"
        );
    }
    let admin_id = me_admin.body["id"].as_str().unwrap();
    assert!(!text.contains(admin_id), "no root actor");

    // The root admin lists it without switching, labelled with its path.
    let all = h.api.get("/devices", Some(&h.admin));
    let garage_row = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == garage.as_str())
        .unwrap();
    assert_eq!(garage_row["org_path"], json!(["Home", "Family"]));
}

#[test]
fn the_live_stream_follows_sharing_and_closes_when_access_ends() {
    use api::Event;
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let garage = h.device(&h.root, "Garage door");
    // A guest: a member of a "Guests" sub-organization only.
    let guests = h.api.post(
        "/orgs",
        Some(&h.admin),
        json!({ "parent": h.root, "name": "Guests" }),
    );
    let guests = guests.body["id"].as_str().unwrap().to_owned();
    let (spouse, membership) = h.member("guest@example.org", &guests, "user");

    let mut stream = h.api.stream(&spouse);
    assert_eq!(
        h.api.next(&mut stream),
        Event::Json(json!({ "type": "devices", "devices": [] }))
    );
    let shared = h.api.post(
        &format!("/devices/{garage}/shares"),
        Some(&h.admin),
        json!({ "with": "guest@example.org", "level": "control" }),
    );
    assert_eq!(shared.status, 201, "{}", shared.body);
    let Event::Json(update) = h.api.next(&mut stream) else {
        panic!("expected an update")
    };
    assert_eq!(update["devices"][0]["id"], garage.as_str());
    assert_eq!(update["devices"][0]["level"], "control");
    assert_eq!(
        update["devices"][0]["org_path"],
        json!([]),
        "a share shows nothing of the device's organization"
    );
    let Event::Json(values) = h.api.next(&mut stream) else {
        panic!("expected the device's values")
    };
    assert_eq!(values["type"], "values");
    assert_eq!(
        values["devices"][&garage]["values"],
        json!({}),
        "a device coming into view arrives with its telemetry: {values}"
    );
    let share = shared.body["id"].as_str().unwrap();
    h.api
        .call("DELETE", &format!("/shares/{share}"), Some(&h.admin), None);
    assert_eq!(
        h.api.next(&mut stream),
        Event::Json(json!({ "type": "devices", "devices": [] })),
        "an unshare takes the device away at once"
    );

    // Logging out elsewhere with this token closes the stream.
    let mut second = h.api.stream(&spouse);
    let _ = h.api.next(&mut second);
    assert_eq!(
        h.api.call("POST", "/logout", Some(&spouse), None).status,
        204
    );
    assert_eq!(h.api.next(&mut second), Event::Closed(Some(4401)));

    // Removing the member closes their stream.
    let login = h.api.post(
        "/login",
        None,
        json!({ "email": "guest@example.org", "password": api::PASSWORD }),
    );
    let token = login.body["token"].as_str().unwrap();
    let mut third = h.api.stream(token);
    let _ = h.api.next(&mut third);
    let removed = h.api.call(
        "DELETE",
        &format!("/members/{membership}"),
        Some(&h.admin),
        None,
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(h.api.next(&mut third), Event::Closed(Some(4403)));
    assert_eq!(
        h.api.get("/me", Some(token)).status,
        401,
        "a person with no membership left is logged out"
    );
    drop(stream);
}

#[test]
fn sharing_one_device_needs_neither_a_transfer_nor_a_sub_organization() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let garage = h.device(&h.root, "Garage door");
    let beer = h.device(&h.root, "Beer machine");
    let (spouse, _) = h.member("spouse@example.org", &h.root, "user");
    let shared = h.api.post(
        &format!("/devices/{garage}/shares"),
        Some(&h.admin),
        json!({ "with": "spouse@example.org", "level": "control" }),
    );
    assert_eq!(shared.status, 201, "{}", shared.body);
    let hers = h.api.get("/devices", Some(&spouse));
    assert_eq!(
        ids(&hers.body),
        vec![garage.as_str()],
        "the garage door, not the beer machine"
    );
    assert_eq!(hers.body[0]["level"], "control");
    assert_eq!(hers.body[0]["owned"], false, "still the admin's");
    assert_eq!(
        h.api.get(&format!("/devices/{beer}"), Some(&spouse)).status,
        404
    );
    let mine = h.api.get("/devices", Some(&h.admin));
    let garage_row = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == garage.as_str())
        .unwrap();
    assert_eq!(garage_row["owned"], true, "no transfer happened");
}
