//! A household that lost its last administrator, and its recovery on the
//! hub. Two admins on two hubs cut off from each other each remove the
//! other (each removal alone is allowed: the other admin remains); healed,
//! nobody may invite or manage roles. Every member's `/me` says so (the
//! app shows how to recover), and the commands the app shows, run through
//! the hub's admin socket, give the household an admin again: someone new
//! invited as admin, or a member made one.

use serde_json::json;

use crate::api::{self, PASSWORD};
use crate::app_browser::{assert_axe_clean, facts_of, output_dir};
use crate::cloud::{eventually, hub_config, join_second_hub, wait_in_sync};
use crate::{common, proxy};

#[test]
fn a_household_whose_admins_removed_each_other_apart_says_so_and_recovers_on_the_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let a = api::household_with(&tmp.path().join("a"), &hub_config());
    let (_, two) = a.member("two@example.org", &a.root, "admin");
    let (kid, kids_membership) = a.member("kid@example.org", &a.root, "user");
    let without_admin = |token: &str| {
        let me = a.api.get("/me", Some(token));
        assert_eq!(me.status, 200, "{}", me.body);
        me.body["household_without_admin"].as_bool().unwrap()
    };
    assert!(!without_admin(&kid));
    let members = a.api.get("/members", Some(&a.admin));
    let admins_membership = members
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "admin@example.org")
        .unwrap_or_else(|| panic!("{}", members.body))["membership"]
        .as_str()
        .unwrap()
        .to_owned();

    let to_a = proxy::Proxy::to(a.hub.api_port());
    let (b, _) = join_second_hub(&a, to_a.port, &tmp.path().join("b"));
    wait_in_sync(&b);
    let login = b.api.post(
        "/login",
        None,
        json!({ "email": "two@example.org", "password": PASSWORD }),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let two_on_b = login.body["token"].as_str().unwrap().to_owned();

    to_a.cut();
    eventually("the second hub's link is down", || {
        let status = b.api.get("/sync/status", Some(&b.admin));
        status.body["peers"]
            .as_array()
            .is_some_and(|p| p.iter().all(|p| p["connected"] == false))
    });
    let removed = a
        .api
        .call("DELETE", &format!("/members/{two}"), Some(&a.admin), None);
    assert_eq!(removed.status, 200, "{}", removed.body);
    let removed = b.api.call(
        "DELETE",
        &format!("/members/{admins_membership}"),
        Some(&two_on_b),
        None,
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    // (Healed, neither admin's session holds: nobody may look at the
    // links; the merge shows on the first hub.)
    to_a.restore();
    eventually("the first hub learns its admin was removed", || {
        without_admin(&kid)
    });
    let banner = |name: &str| {
        let facts = facts_of(
            &a.hub,
            "household_recovery.mjs",
            &[
                format!("https://127.0.0.1:{}", a.hub.api_port()),
                "kid@example.org".to_owned(),
                output_dir().join("recovery").display().to_string(),
                name.to_owned(),
            ],
        );
        assert_axe_clean(&facts);
        facts["banner"].as_str().map(str::to_owned)
    };
    let shown = banner("no-admin-left").expect("the app says the household has no admin");
    for command in [
        "hearth --console org list",
        "hearth --console user list",
        "hearth --console user role <membership> admin",
    ] {
        assert!(shown.contains(command), "{command:?} in {shown}");
    }

    // The recovery the app shows, through the admin socket: find the top
    // organization and its members.
    let console = |args: &[&str]| {
        let out = common::hearth()
            .args(["--console", "--state-dir"])
            .arg(&a.hub.state_dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hearth {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let orgs = console(&["org", "list"]);
    let first = orgs
        .lines()
        .find(|l| l.contains(&a.root) || l.contains("Home"))
        .unwrap_or_default();
    assert!(
        orgs.lines()
            .filter(|l| !l.trim().is_empty())
            .position(|l| l == first)
            .is_some_and(|i| i <= 1),
        "the top organization is listed first: {orgs}"
    );
    assert!(first.contains(&a.root), "{orgs}");
    // Someone new to it is invited as its admin: the code the console
    // prints lets them in, and the household has an admin again.
    let invited = console(&["user", "invite", "fixer@example.org", &a.root, "admin"]);
    let code = invited
        .lines()
        .find_map(|l| l.strip_prefix("invite code "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("an invite code in {invited}"));
    let accepted = a.api.post(
        "/invites/accept",
        None,
        json!({ "code": code, "password": PASSWORD }),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let fixer = accepted.body["token"].as_str().unwrap();
    let me = a.api.get("/me", Some(fixer));
    assert_eq!(me.body["hub_admin"], true, "{}", me.body);
    assert!(!without_admin(&kid));
    // A member of it is made admin too.
    let members = console(&["user", "list"]);
    assert!(
        members
            .lines()
            .any(|l| l.contains("kid@example.org") && l.contains(&kids_membership)),
        "{members}"
    );
    console(&["user", "role", &kids_membership, "admin"]);
    assert_eq!(banner("recovered"), None);
    let me = a.api.get("/me", Some(&kid));
    assert_eq!(me.body["hub_admin"], true, "{}", me.body);
}
