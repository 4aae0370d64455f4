//! The sharing screens in a real browser (Debian's Chromium, one context
//! per person, `tests/support/household_sharing.mjs`) against the real hub:
//! roles with their permissions explained, an invite answered with its
//! link and a QR code that reads back as that link, a warning before
//! inviting with a role that sees nothing, a device lent for 48 hours from
//! its sharing panel ("who can see and why"), the clear answers to a
//! transfer to the owner and to an outsider, a sub-organization whose
//! member never meets the household above (not in any page, nor in any
//! answer the page fetched), the activity as sentences, a share stopped,
//! an address with an account invited again and given a device (asked into
//! which of her organizations), and a member removed after the app says
//! what she leaves without an owner. axe-core clean on every page; screenshots under
//! `target/tmp/household_app/`.

use crate::app_browser::{facts_of, output_dir, plain_http_config};
use crate::{api, common};

fn texts(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_household_shares_its_devices_through_the_app_one_browser_per_person() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hub = common::HubProcess::start(&state, &plain_http_config());
    let code = api::setup_code(&state);
    let facts = facts_of(
        &hub,
        "household_sharing.mjs",
        &[
            format!("http://localhost:{}", hub.api_port()),
            code,
            output_dir().join("sharing").display().to_string(),
        ],
    );

    // Roles: every permission explained; the built-in ones fixed.
    let lines = texts(&facts["permission_lines"]);
    assert_eq!(lines.len(), 8, "{lines:?}");
    assert!(lines.iter().all(|l| l.len() > 20), "{lines:?}");
    assert_eq!(facts["builtin_editable"], 0);

    // An invite warns before a role that sees nothing, and answers with a
    // link its QR code reads back as.
    let warning = facts["blind_warning"].as_str().unwrap();
    assert!(
        warning.contains("Guest") && warning.contains("no device"),
        "{warning}"
    );
    assert_eq!(facts["blind_button"], 1);
    assert_eq!(facts["viewer_warning"], 0);
    let link = facts["spouse_invite"]["link"].as_str().unwrap();
    assert!(link.contains("/invite#code=inv_"), "{link}");
    assert_eq!(
        facts["spouse_invite"]["qr"], link,
        "the QR code is the link"
    );
    assert_eq!(facts["pending"], "Invited, not joined yet");

    // The panel says who has the door and why.
    let holders = texts(&facts["holders"]);
    let spouse = holders
        .iter()
        .find(|h| h.contains("spouse@example.org"))
        .unwrap_or_else(|| panic!("{holders:?}"));
    assert!(
        spouse.contains("Can see")
            && spouse.contains("shared with them")
            && spouse.contains("until"),
        "{spouse}"
    );
    let owner = holders
        .iter()
        .find(|h| h.contains("admin@example.org"))
        .unwrap();
    assert!(
        owner.contains("Can control") && owner.contains("the owner (Admin in Hillcrest House)"),
        "{owner}"
    );

    // She sees the door, not the beer machine, and not who else has it.
    assert_eq!(texts(&facts["spouse_devices"]), ["Garage door"]);
    assert_eq!(facts["spouse_sees_panel"], 0);

    // Transfers that cannot happen say why.
    let to_owner = facts["transfer_to_owner"].as_str().unwrap();
    assert!(to_owner.contains("already owns Garage door"), "{to_owner}");
    let outsider = facts["transfer_to_outsider"].as_str().unwrap();
    assert!(outsider.contains("invite them first"), "{outsider}");

    // The kid in Family sees the door, labelled Family only, and nothing of
    // the household above on any page or in any answer.
    assert_eq!(texts(&facts["kid_devices"]), ["Garage door"]);
    assert_eq!(texts(&facts["kid_where"]), ["Family"]);
    assert_eq!(texts(&facts["kid_orgs"]), ["Family"]);
    let leaks = facts["leaks"].as_object().unwrap();
    assert_eq!(leaks.len(), 5, "every page looked at: {leaks:?}");
    for (page, found) in leaks {
        assert_eq!(
            found,
            &serde_json::json!([]),
            "{page} names what the kid may not see"
        );
    }

    // The activity, as sentences.
    let activity = texts(&facts["activity"]);
    assert!(
        activity.iter().any(|e| e.starts_with(
            "admin@example.org shared Garage door with spouse@example.org (view, until"
        )),
        "{activity:?}"
    );
    assert!(
        activity
            .iter()
            .any(|e| e == "admin@example.org moved Garage door to Family."),
        "{activity:?}"
    );
    assert!(
        activity
            .iter()
            .any(|e| e == "admin@example.org invited kid@example.org into Family."),
        "{activity:?}"
    );

    // Stopping the share takes the door from her list.
    assert!(!texts(&facts["holders_after"]).contains(&"spouse@example.org".to_owned()));
    assert_eq!(facts["spouse_devices_after"], serde_json::json!([]));
    // The forum thread: inviting an address that has an account is no
    // error; a transfer to someone in two organizations asks which (only
    // among those the admin sees); she then sees both devices on one list.
    let existing = facts["existing_invite"].as_str().unwrap();
    assert!(existing.contains("already have an account"), "{existing}");
    assert_eq!(
        texts(&facts["transfer_choices"]),
        ["Choose…", "Family", "Hillcrest House"]
    );
    assert_eq!(
        facts["transfer_done"],
        "Beer machine now belongs to spouse@example.org."
    );
    assert_eq!(
        texts(&facts["spouse_devices_both"]),
        ["Beer machine", "Garage door"]
    );
    assert_eq!(
        texts(&facts["spouse_where_both"]),
        ["Hillcrest House", "Hillcrest House › Family"]
    );
    // Removing her from the household says what is left without an owner
    // first; then she is gone from it.
    let remove = facts["remove_warning"].as_str().unwrap();
    assert!(
        remove.contains("owns Beer machine") && remove.contains("no owner"),
        "{remove}"
    );
    assert_eq!(texts(&facts["members_after"]), ["admin@example.org"]);

    for (page, violations) in facts["axe"].as_object().unwrap() {
        assert_eq!(violations, &serde_json::json!([]), "axe on {page}");
    }
    assert!(facts["screenshots"].as_array().unwrap().len() >= 20);
}
