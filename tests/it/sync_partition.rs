//! Partition: one cloud and two hubs of one household as three processes.
//! The second hub joins the first with a pairing code (its direct link runs
//! through a proxy the test controls) and links to the cloud too. Every
//! link is cut; both sides make conflicting changes; the links come back:
//! all three converge, the merge rules hold (DESIGN §3 M1–M6), and every
//! audit log says which operations lost and to what.

use crate::{api, cloud, common, proxy};
use api::{Api, Household, PASSWORD};
use cloud::{
    CloudProcess, cloud_login, eventually, hub_config, join_second_hub, link, wait_in_sync,
};
use proxy::Proxy;
use serde_json::{Value, json};

fn ok(reply: api::Reply, what: &str) -> Value {
    assert!(
        (200..300).contains(&reply.status),
        "{what}: {} {}",
        reply.status,
        reply.body
    );
    reply.body
}

fn login(api: &Api, prefix: &str, email: &str) -> String {
    let reply = api.post(
        &format!("{prefix}/login"),
        None,
        json!({ "email": email, "password": PASSWORD }),
    );
    ok(reply, "login")["token"].as_str().unwrap().to_owned()
}

/// What a replica shows its admin: devices, organizations, members and
/// the audit log with each operation's outcome.
fn view(api: &Api, prefix: &str, admin: &str) -> Value {
    let get = |path: &str| ok(api.get(&format!("{prefix}{path}"), Some(admin)), path);
    let mut members = get("/members");
    members
        .as_array_mut()
        .unwrap()
        .sort_by_key(|m| m["membership"].as_str().unwrap().to_owned());
    json!({
        "devices": get("/devices"),
        "orgs": get("/orgs"),
        "members": members,
        "audit": get("/audit"),
    })
}

/// Whether `hub`'s link to the hub `peer` (its id) is up, as its status says.
fn linked(hub: &Household, peer: &str) -> Option<bool> {
    let status = hub.api.get("/sync/status", Some(&hub.admin));
    status.body["peers"]
        .as_array()?
        .iter()
        .find(|p| p["peer"].as_str() == Some(&format!("hub-{peer}")))
        .and_then(|p| p["connected"].as_bool())
}

fn disconnected(hub: &Household) -> bool {
    let status = hub.api.get("/sync/status", Some(&hub.admin));
    status.body["peers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["connected"] == false)
}

#[test]
fn three_replicas_cut_apart_converge_and_the_merge_rules_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cloud = CloudProcess::start(&tmp.path().join("cloud"));
    let a = api::household_with(&tmp.path().join("a"), &hub_config());
    let tenant = link(&a, &cloud);
    let (_, _) = a.member("one@example.org", &a.root, "user");
    let (_, _) = a.member("two@example.org", &a.root, "user");
    let (_, gone) = a.member("gone@example.org", &a.root, "user");
    let garage = a.device(&a.root, "Garage door");
    let lamp = a.device(&a.root, "Lamp");
    let heater = a.device(&a.root, "Heater");
    let workshop = ok(
        a.api.post(
            "/orgs",
            Some(&a.admin),
            json!({ "parent": a.root, "name": "Workshop" }),
        ),
        "workshop",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The second hub joins through a proxy, then links to the cloud.
    let to_a = Proxy::to(a.hub.api_port());
    let b_dir = tmp.path().join("b");
    let (b, code) = join_second_hub(&a, to_a.port, &b_dir);
    // A pairing code works once.
    let replay = a.api.post(
        "/hubs/join",
        None,
        json!({ "code": code, "hub_id": "someone-else" }),
    );
    assert_eq!(replay.status, 403, "{}", replay.body);
    link(&b, &cloud);
    wait_in_sync(&a);
    wait_in_sync(&b);
    let hubs = ok(a.api.get("/hubs", Some(&a.admin)), "hubs");
    assert_eq!(hubs.as_array().unwrap().len(), 2, "{hubs}");

    // A link whose packets stop (no reset) is found dead by its pings,
    // shown down, and redialed once packets flow again.
    let a_id = a.hub.runtime()["hub_id"].as_str().unwrap().to_owned();
    assert_eq!(linked(&b, &a_id), Some(true));
    to_a.stall();
    eventually("b sees its silent link to a as down", || {
        linked(&b, &a_id) == Some(false)
    });
    to_a.unstall();
    eventually("b is linked to a again", || linked(&b, &a_id) == Some(true));
    wait_in_sync(&b);

    // The member about to be removed on the first hub is logged in on the second.
    let gone_login = |hub: &Household| {
        hub.api.post(
            "/login",
            None,
            json!({ "email": "gone@example.org", "password": PASSWORD }),
        )
    };
    let gone_on_b = ok(gone_login(&b), "gone logs in on b")["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Every link cut: the cloud stops, the hubs' direct link is cut.
    cloud.process.terminate();
    to_a.cut();
    eventually("both hubs see every peer gone", || {
        disconnected(&a) && disconnected(&b)
    });

    // Conflicting changes on each side.
    // 1. Concurrent transfers of one device to different members.
    ok(
        a.api.post(
            &format!("/devices/{garage}/transfer"),
            Some(&a.admin),
            json!({ "to": "one@example.org" }),
        ),
        "transfer on a",
    );
    ok(
        b.api.post(
            &format!("/devices/{garage}/transfer"),
            Some(&b.admin),
            json!({ "to": "two@example.org" }),
        ),
        "transfer on b",
    );
    // 2. A member removed on one side, a device shared with them on the other.
    ok(
        a.api
            .call("DELETE", &format!("/members/{gone}"), Some(&a.admin), None),
        "remove on a",
    );
    ok(
        b.api.post(
            &format!("/devices/{lamp}/shares"),
            Some(&b.admin),
            json!({ "with": "gone@example.org", "level": "view" }),
        ),
        "share on b",
    );
    // 3. A sub-organization deleted on one side, a device moved into it on the other.
    ok(
        a.api
            .call("DELETE", &format!("/orgs/{workshop}"), Some(&a.admin), None),
        "delete org on a",
    );
    ok(
        b.api.post(
            &format!("/devices/{heater}/move"),
            Some(&b.admin),
            json!({ "org": workshop }),
        ),
        "move on b",
    );
    // 4. Concurrent invites of one email.
    for (hub, side) in [(&a, "a"), (&b, "b")] {
        ok(
            hub.api.post(
                "/members",
                Some(&hub.admin),
                json!({ "email": "New@Example.org", "org": hub.root, "role": "user" }),
            ),
            &format!("invite on {side}"),
        );
    }

    // The links come back.
    to_a.restore();
    cloud = cloud.restart();
    wait_in_sync(&a);
    wait_in_sync(&b);
    let c_admin = cloud_login(&cloud, &tenant, "admin@example.org");
    let views = [
        view(&a.api, "", &a.admin),
        view(&b.api, "", &b.admin),
        view(&cloud.api, &tenant, &c_admin),
    ];
    // M1: identical state and decisions on all three.
    assert_eq!(views[0], views[1], "hub a and hub b differ");
    assert_eq!(views[0], views[2], "hub a and the cloud differ");
    let merged = &views[0];

    // M2: one owner, whole: exactly one of the two recipients owns it.
    let owners: Vec<bool> = ["one@example.org", "two@example.org"]
        .iter()
        .map(|email| {
            let token = login(&a.api, "", email);
            let devices = ok(a.api.get("/devices", Some(&token)), "devices");
            devices
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["id"] == garage.as_str() && d["owned"] == true)
        })
        .collect();
    assert_eq!(owners.iter().filter(|o| **o).count(), 1, "{owners:?}");

    let audit = merged["audit"].as_array().unwrap();
    let of_kind =
        |kind: &str| -> Vec<&Value> { audit.iter().filter(|e| e["kind"] == kind).collect() };
    // M5: both transfers are in every log; one took effect, the other says
    // it lost, and to which.
    let transfers: Vec<&Value> = of_kind("transfer")
        .into_iter()
        .filter(|e| e["subject"] == garage.as_str())
        .collect();
    assert_eq!(transfers.len(), 2, "{transfers:?}");
    let winner = transfers
        .iter()
        .find(|e| e["outcome"] == "effective")
        .unwrap();
    let loser = transfers
        .iter()
        .find(|e| e["outcome"] == "lost_to")
        .unwrap();
    assert_ne!(loser["op"], winner["op"]);
    assert_eq!(
        loser["to"], winner["op"],
        "the loser names the winner: {loser}"
    );

    // Each hub's sync status lists the lost transfer among recent
    // conflicts, and its metrics count it.
    for hub in [&a, &b] {
        let status = ok(hub.api.get("/sync/status", Some(&hub.admin)), "status");
        let conflicts = status["conflicts_lost"].as_array().unwrap();
        assert!(
            conflicts
                .iter()
                .any(|c| c["op"] == loser["op"] && c["to"] == winner["op"]),
            "{status}"
        );
        let (code, metrics) = hub.api.get_text("/metrics");
        assert_eq!(code, 200, "{metrics}");
        assert!(
            metrics.contains("hearth_audit_conflicts_lost 1\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("hearth_sync_peer_connected{peer=\"cloud\""),
            "{metrics}"
        );
    }

    // The removal, arrived by sync, ends their session on the second hub;
    // their right password is told the membership ended.
    assert_eq!(b.api.get("/me", Some(&gone_on_b)).status, 401);
    let again = gone_login(&b);
    assert_eq!(again.status, 403, "{}", again.body);
    assert_eq!(again.body["code"], "no_membership");

    // M3: the share to the removed member is inert, and says why.
    let share = of_kind("share");
    assert_eq!(share.len(), 1, "{share:?}");
    assert_eq!(share[0]["outcome"], "inert", "{}", share[0]);

    // The deleted organization is gone; the device moved into it
    // concurrently falls back to its nearest live ancestor (the root).
    assert!(
        merged["orgs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["id"] != workshop.as_str()),
        "{}",
        merged["orgs"]
    );
    let heater_view = merged["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == heater.as_str())
        .unwrap();
    assert_eq!(heater_view["org_path"], json!(["Home"]), "{heater_view}");

    // Concurrent invites of one email: one person.
    let new_ids: std::collections::BTreeSet<&str> = merged["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["email"] == "new@example.org")
        .map(|m| m["user"].as_str().unwrap())
        .collect();
    assert_eq!(new_ids.len(), 1, "{}", merged["members"]);

    // M6: syncing again (the second hub restarted, every change offered
    // once more) changes nothing.
    let mut b = b;
    b.hub.terminate();
    b.hub = common::HubProcess::start(&b_dir, &hub_config());
    b.api = Api::new(b.hub.api_port(), &b.hub.fingerprint());
    wait_in_sync(&b);
    wait_in_sync(&a);
    assert_eq!(view(&b.api, "", &b.admin), views[1]);
    assert_eq!(view(&a.api, "", &a.admin), views[0]);

    // An admin revokes the second hub: its open links to the first hub and
    // to the cloud close, and they refuse it from then on.
    let b_id = b.hub.runtime()["hub_id"].as_str().unwrap().to_owned();
    ok(
        a.api
            .call("DELETE", &format!("/hubs/{b_id}"), Some(&a.admin), None),
        "revoke",
    );
    eventually("the revoked hub is cut off from every peer", || {
        disconnected(&b)
    });
    let hubs = ok(a.api.get("/hubs", Some(&a.admin)), "hubs");
    assert!(
        hubs.as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == b_id.as_str() && h["revoked"] == true),
        "{hubs}"
    );
}
