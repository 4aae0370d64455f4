//! The Hubs page in a real browser (Debian's Chromium,
//! `tests/support/household_hubs.mjs`) against two real hubs: the first
//! hub's name, id and fingerprint; a pairing code shown as the join command
//! (and a QR code reading back as it) which, run as shown on a second hub,
//! joins it; the first then lists both hubs; the second's link to the
//! first shows connected, then down with its reason once the first stops;
//! and the dead hub revoked from the second hub's page. axe-core clean;
//! screenshots under `target/tmp/household_app/hubs/`.

use serde_json::{Value, json};

use crate::api::{Api, PASSWORD};
use crate::app_browser::{converse, output_dir};
use crate::cloud::{eventually, hub_config};
use crate::{api, common};

/// Whether the hub behind `api` has a link to `peer` and it is up.
fn linked(api: &Api, admin: &str, peer: &str) -> Option<bool> {
    let status = api.get("/sync/status", Some(admin));
    status.body["peers"]
        .as_array()?
        .iter()
        .find(|p| p["peer"] == peer)
        .map(|p| p["connected"] == true)
}

#[test]
fn an_admin_pairs_watches_and_revokes_a_hub_from_the_app() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = Some(api::household_with(&tmp.path().join("a"), &hub_config()));
    let (a_id, a_port, a_fingerprint) = {
        let a = a.as_ref().unwrap();
        let id = a.hub.runtime()["hub_id"].as_str().unwrap().to_owned();
        (id, a.hub.api_port(), a.hub.fingerprint())
    };
    let b_dir = tmp.path().join("b");
    let b = common::HubProcess::start(&b_dir, &hub_config());
    let b_api = Api::new(b.api_port(), &b.fingerprint());
    let mut b_admin = String::new();
    let mut join = Vec::new();
    let facts = converse(
        "household_hubs.mjs",
        &[
            format!("https://127.0.0.1:{a_port}"),
            format!("https://127.0.0.1:{}", b.api_port()),
            output_dir().join("hubs").display().to_string(),
        ],
        |asked: &Value| {
            if let Some(command) = asked["join"].as_str() {
                // The command as the page shows it, run on the new hub.
                join = command.split_whitespace().map(str::to_owned).collect();
                assert_eq!(
                    join[..4],
                    ["hearth", "--console", "hub", "join"],
                    "{command}"
                );
                let ran = common::hearth()
                    .args(["--console", "--state-dir"])
                    .arg(&b_dir)
                    .args(&join[2..])
                    .output()
                    .unwrap();
                assert!(
                    ran.status.success(),
                    "{command}: {}{}",
                    String::from_utf8_lossy(&ran.stdout),
                    String::from_utf8_lossy(&ran.stderr)
                );
                let login = json!({ "email": "admin@example.org", "password": PASSWORD });
                eventually("the joined hub knows its admin", || {
                    let reply = b_api.post("/login", None, login.clone());
                    b_admin = reply.body["token"].as_str().unwrap_or_default().to_owned();
                    reply.status == 200
                });
                eventually("the joined hub's link is up", || {
                    linked(&b_api, &b_admin, &format!("hub-{a_id}")) == Some(true)
                });
            } else if asked["stop"] == true {
                drop(a.take());
                eventually("the link to the stopped hub is down", || {
                    linked(&b_api, &b_admin, &format!("hub-{a_id}")) == Some(false)
                });
            } else {
                panic!("asked for {asked}");
            }
        },
    );
    let text = |key: &str| facts[key].as_str().unwrap_or_default().to_owned();
    let b_id = text("b_hub_id");

    // The first hub, as `hearth status` knows it.
    assert_eq!(text("hub_id"), a_id);
    assert_eq!(text("fingerprint"), a_fingerprint);
    // Its name is the instance's (the hub's short id); mDNS is off here, and
    // the page says the hub is not announced rather than naming a `.local`.
    assert_eq!(
        text("hub_name"),
        format!("hearth-{}", &a_id[..6]),
        "{facts}"
    );
    assert!(
        text("this_hub").contains("On the LAN\nnot announced (mDNS is off"),
        "{facts}"
    );
    assert_eq!(facts["links_before"], 0);
    assert_eq!(facts["hubs_before"], json!([format!("{a_id} (this hub)")]));
    assert!(text("conflicts").starts_with("None recently"), "{facts}");

    // The join command: this hub's address, a code, the fingerprint to pin.
    assert_eq!(join[4], format!("https://127.0.0.1:{a_port}"), "{join:?}");
    assert_eq!(join[6..], ["--fingerprint".to_owned(), a_fingerprint]);
    assert_eq!(facts["join_qr"], facts["join"]);

    // Joined and listed; connected, then down with its reason; revoked.
    let hubs = facts["hubs_joined"].as_array().unwrap();
    assert_eq!(hubs.len(), 2, "{facts}");
    assert!(hubs.iter().any(|h| h == b_id.as_str()), "{facts}");
    // The first hub lists the one that dialed it as connected to it.
    let incoming = facts["incoming"].as_array().unwrap();
    assert_eq!(incoming.len(), 1, "{facts}");
    let incoming = incoming[0].as_str().unwrap();
    assert!(
        incoming.contains(&format!("Hub {b_id}"))
            && incoming.contains("Connected to this hub since"),
        "{incoming}"
    );
    let up = text("link_up");
    assert!(
        up.contains(&format!("Hub {a_id}")) && up.contains("Connected since"),
        "{up}"
    );
    let down = text("link_down");
    assert!(down.contains("Not connected since"), "{down}");
    // In words, not the sync library's internals.
    assert!(down.contains("Last problem: "), "{down}");
    assert!(!down.contains("DialerId"), "{down}");
    assert!(text("revoke_warning").contains("paired anew"), "{facts}");
    let revoked = text("revoked");
    assert!(
        revoked.contains(&a_id) && revoked.contains("Revoked"),
        "{facts}"
    );
    let listed = b_api.get("/hubs", Some(&b_admin));
    let dead = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == a_id.as_str())
        .cloned();
    assert_eq!(dead.map(|h| h["revoked"].clone()), Some(Value::Bool(true)));

    for (page, violations) in facts["axe"].as_object().unwrap() {
        assert_eq!(violations, &json!([]), "axe on {page}");
    }
    assert_eq!(facts["screenshots"].as_array().unwrap().len(), 8);
}
