//! Interop: the real JavaScript automerge-repo client (npm
//! `@automerge/automerge-repo@2.5.6` over `-network-websocket@2.5.6`) as
//! admin tooling with a read-only replication grant: it opens the tenant
//! document from the hub over `wss://` and sees a change made through the
//! API arrive live; what it writes is ignored. Without a grant, with a
//! member's login, or with another household's grant, it gets nothing.

use crate::{api, blynk, common};
use std::process::Command;

use api::Household;
use blynk::Client;
use serde_json::{Value, json};

/// The JS client against `hub`'s sync route with `token`, as `peer`.
fn js_replica(hub: &Household, token: &str, doc: &str, peer: &str, wait_ms: u32) -> Client {
    let url = format!(
        "wss://localhost:{}/api/v1/sync?token={token}",
        hub.api.port()
    );
    let mut command = Command::new("node");
    command
        .arg(common::support("automerge_replica.mjs"))
        .args([&url, doc, peer, &wait_ms.to_string()])
        // The hub's own authority (the serving certificate it issued names
        // localhost) as the one trusted root: verification stays on.
        .env(
            "NODE_EXTRA_CA_CERTS",
            hub.hub
                .state_dir
                .join(hearth::api::tls::authority::CA_CERT_FILE),
        );
    Client::spawn(command)
}

fn grant(hub: &Household) -> Value {
    let reply = hub.api.post("/sync/grants", Some(&hub.admin), json!({}));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[test]
fn a_javascript_replica_with_a_read_only_grant_sees_changes_live_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let home = api::household(&tmp.path().join("home"));
    let (spouse, _) = home.member("spouse@example.org", &home.root, "user");
    // A member may not issue grants: tenant documents never go to member apps.
    let refused = home.api.post("/sync/grants", Some(&spouse), json!({}));
    assert_eq!(refused.status, 403, "{}", refused.body);

    let granted = grant(&home);
    let (token, peer, doc) = (
        granted["token"].as_str().unwrap(),
        granted["peer_id"].as_str().unwrap(),
        granted["document"].as_str().unwrap(),
    );
    assert!(doc.starts_with("automerge:"), "{granted}");
    let mut js = js_replica(&home, token, doc, peer, 20_000);
    let ready = js.wait_for("the tenant document", |l| l["event"] == "ready");
    assert_eq!(ready["org_names"], json!(["Home"]), "{ready}");
    assert_eq!(ready["devices"], json!([]));

    // A change made through the API arrives live.
    home.device(&home.root, "Garage door");
    js.wait_for("the new device, live", |l| {
        l["event"] == "change" && l["devices"] == json!(["Garage door"])
    });

    // Read-only: what the replica writes stays with it.
    js.send("write");
    js.wait_for("its own local write", |l| l["event"] == "wrote");
    home.device(&home.root, "Beer machine");
    js.wait_for("the next device", |l| {
        l["event"] == "change" && l["devices"] == json!(["Beer machine", "Garage door"])
    });
    let orgs = home.api.get("/orgs", Some(&home.admin));
    assert_eq!(orgs.body[0]["name"], "Home", "{}", orgs.body);
    drop(js);

    // Without a grant, nothing: no token, a member's login, another
    // household's grant. The upgrade is refused before any sync.
    let other = api::household(&tmp.path().join("other"));
    let foreign = grant(&other);
    let foreign_token = foreign["token"].as_str().unwrap();
    for (what, token, status) in [
        ("no token", "", 401),
        ("a member's login", spouse.as_str(), 403),
        ("another household's grant", foreign_token, 401),
        ("the admin's login", home.admin.as_str(), 403),
    ] {
        let reply = home.api.get(&format!("/sync?token={token}"), None);
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        let mut js = js_replica(&home, token, doc, peer, 3_000);
        let seen = js.wait_for(what, |l| l["event"] == "nothing" || l["event"] == "ready");
        assert_eq!(seen["event"], "nothing", "{what}: {seen}");
    }
    // The other household's document is not served to its grant here.
    let foreign_doc = foreign["document"].as_str().unwrap();
    let foreign_peer = foreign["peer_id"].as_str().unwrap();
    let mut js = js_replica(&home, foreign_token, foreign_doc, foreign_peer, 3_000);
    let seen = js.wait_for("the foreign document", |l| {
        l["event"] == "nothing" || l["event"] == "ready"
    });
    assert_eq!(seen["event"], "nothing", "{seen}");
}
