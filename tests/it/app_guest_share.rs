//! A guest's 48-hour share ends by itself, seen in a real browser
//! (`tests/support/household_guest_share.mjs`, Debian's Chromium) against
//! a node served in-process on a manual clock: the test moves the hub's
//! clock when the script asks, so "48 hours" is checked to the millisecond
//! without waiting: the guest still has the garage door 1 ms before the
//! end and not at it (not on their list, not on its page), and the admin's
//! "who can see it" no longer lists them. Screenshots under
//! `target/tmp/household_app/guest_share/`.

use std::time::Duration;

use crate::app_browser::{converse, output_dir, plain_http_config};
use crate::in_process::InProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guests_48_hour_share_ends_by_the_hubs_clock_in_the_app() {
    let hub = InProcess::open_with(&plain_http_config()).await;
    let (admin, root) = hub.household().await;
    let (garage, _) = hub.device(&admin, &root, "Garage door").await;
    let invite = hub.invite(&admin, &root, "guest@example.org").await;
    let port = hub.serve().await;
    let started = hub.clock.now_ms();

    let args = [
        format!("http://localhost:{port}"),
        invite,
        garage.clone(),
        output_dir().join("guest_share").display().to_string(),
    ];
    let clock = hub.clock.clone();
    // The script runs on a thread of its own while the node serves it.
    let (facts, advanced) = tokio::task::spawn_blocking(move || {
        let mut advanced = Duration::ZERO;
        let facts = converse("household_guest_share.mjs", &args, |asked| {
            let ms = asked["advance_ms"]
                .as_u64()
                .expect("only the clock is asked for");
            clock.advance(Duration::from_millis(ms));
            advanced += Duration::from_millis(ms);
        });
        (facts, advanced)
    })
    .await
    .unwrap();
    let names = |key: &str| facts[key].clone();

    assert_eq!(facts["shared"], "Shared with guest@example.org.");
    assert!(
        facts["reason"].as_str().unwrap().contains("until"),
        "{facts}"
    );
    // 48 hours from when it was made, by the hub's clock (which stood still).
    assert_eq!(facts["expires"], started + 48 * 3_600_000);
    assert_eq!(advanced, Duration::from_secs(48 * 3600));
    assert_eq!(names("guest_before_share"), serde_json::json!([]));
    assert_eq!(names("guest_shared"), serde_json::json!(["Garage door"]));
    assert_eq!(
        names("guest_a_moment_before"),
        serde_json::json!(["Garage door"])
    );
    assert_eq!(names("guest_after"), serde_json::json!([]));
    let page = facts["guest_device_page"].as_str().unwrap();
    assert_eq!(
        page,
        "You cannot see this device: it was deleted, or what let you see it (a share, a role) has ended."
    );
    let holders = facts["holders_after"].as_array().unwrap();
    assert!(!holders.iter().any(|h| h == "guest@example.org"), "{facts}");
    for (page, violations) in facts["axe"].as_object().unwrap() {
        assert_eq!(violations, &serde_json::json!([]), "axe on {page}");
    }
    assert_eq!(facts["screenshots"].as_array().unwrap().len(), 4);
    hub.close().await;
}
