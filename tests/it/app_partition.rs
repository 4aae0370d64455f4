//! A removal on one hub while the other grants, partitioned and healed,
//! seen in the app on both (Debian's Chromium,
//! `tests/support/household_partition.mjs`): two real hubs of one
//! household, the second joined to the first through a proxy the test cuts
//! and restores. While cut, the spouse is removed on the first and the
//! garage door shared with her on the second (where she sees it); once
//! healed, neither hub's app lists her as able to see the door, the
//! activity on both says the share had no effect and why (DESIGN §3 M3),
//! and her session on the second hub is over. axe-core clean; screenshots
//! under `target/tmp/household_app/partition/`.

use serde_json::{Value, json};

use crate::api::{self, Api};
use crate::app_browser::{converse, output_dir};
use crate::cloud::{eventually, hub_config, join_second_hub, wait_in_sync};
use crate::proxy::Proxy;

fn peers_down(api: &Api, admin: &str) -> bool {
    let status = api.get("/sync/status", Some(admin));
    status.body["peers"]
        .as_array()
        .is_some_and(|p| p.iter().all(|p| p["connected"] == false))
}

fn shares_in_audit(api: &Api, admin: &str) -> Vec<Value> {
    let audit = api.get("/audit", Some(admin));
    audit.body.as_array().map_or_else(Vec::new, |a| {
        a.iter().filter(|e| e["kind"] == "share").cloned().collect()
    })
}

#[test]
fn a_removal_and_a_concurrent_share_heal_to_no_access_in_the_app_on_both_hubs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = api::household_with(&tmp.path().join("a"), &hub_config());
    a.member("spouse@example.org", &a.root, "user");
    let garage = a.device(&a.root, "Garage door");

    // The second hub joins through a proxy the test controls.
    let to_a = Proxy::to(a.hub.api_port());
    let (b, _) = join_second_hub(&a, to_a.port, &tmp.path().join("b"));
    wait_in_sync(&b);

    let facts = converse(
        "household_partition.mjs",
        &[
            format!("https://127.0.0.1:{}", a.hub.api_port()),
            format!("https://127.0.0.1:{}", b.hub.api_port()),
            garage.clone(),
            output_dir().join("partition").display().to_string(),
        ],
        |asked: &Value| {
            if asked["cut"] == true {
                to_a.cut();
                eventually("the second hub's link is down", || {
                    peers_down(&b.api, &b.admin)
                });
            } else if asked["heal"] == true {
                to_a.restore();
                wait_in_sync(&b);
                eventually("the share made on the second hub reached the first", || {
                    !shares_in_audit(&a.api, &a.admin).is_empty()
                });
            } else {
                panic!("asked for {asked}");
            }
        },
    );
    let list = |key: &str| -> Vec<String> {
        facts[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {facts}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let spouse = "spouse@example.org".to_owned();

    assert_eq!(list("spouse_at_first"), Vec::<String>::new());
    assert!(
        facts["remove_warning"]
            .as_str()
            .unwrap()
            .contains("owns no device here"),
        "{facts}"
    );
    assert_eq!(facts["shared"], "Shared with spouse@example.org.");
    // While cut, the second hub grants: she sees the door there.
    assert_eq!(list("spouse_while_cut"), ["Garage door"]);
    assert!(list("holders_second_while_cut").contains(&spouse));

    // Healed: the removal wins on both (M3), and both say why.
    assert!(!list("holders_first").contains(&spouse), "{facts}");
    assert!(!list("holders_second").contains(&spouse), "{facts}");
    for key in ["activity_first", "activity_second"] {
        let share = list(key)
            .into_iter()
            .find(|s| s.contains("shared Garage door"))
            .unwrap_or_else(|| panic!("no share in {key}: {facts}"));
        // Named as the reader saw her invited, though no longer a member.
        assert!(
            share.contains("with spouse@example.org (view) — had no effect: the membership"),
            "{key}: {share}"
        );
    }
    for hub in [&a, &b] {
        let shares = shares_in_audit(&hub.api, &hub.admin);
        assert_eq!(shares.len(), 1, "{shares:?}");
        assert_eq!(shares[0]["outcome"], "inert", "{shares:?}");
    }
    assert_eq!(facts["spouse_after"], "logged out");
    assert!(
        facts["spouse_login_after"]
            .as_str()
            .unwrap()
            .contains("no longer a member of this household"),
        "{facts}"
    );

    for (page, violations) in facts["axe"].as_object().unwrap() {
        assert_eq!(violations, &json!([]), "axe on {page}");
    }
    assert_eq!(facts["screenshots"].as_array().unwrap().len(), 4);
}
