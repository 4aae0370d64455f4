//! The node's one clock, driven: a node in-process on a manual clock
//! (`common::in_process`), so what expires after an hour, a day, a week or
//! a month is checked to the millisecond in milliseconds of test time.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::PASSWORD;
use crate::in_process::InProcess as Driven;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const MS: Duration = Duration::from_millis(1);

/// A share for an hour is usable 1 ms before its end and not at it, by the
/// hub's own clock (the device leaves the person's list).
#[tokio::test]
async fn a_share_ends_at_its_expiry_by_the_hubs_clock() {
    let hub = Driven::open().await;
    let (admin, root) = hub.household().await;
    let (status, guests) = hub
        .call(
            "POST",
            "/orgs",
            Some(&admin),
            Some(json!({ "parent": root, "name": "Guests" })),
        )
        .await;
    assert_eq!(status, 201, "{guests}");
    let code = hub
        .invite(&admin, guests["id"].as_str().unwrap(), "guest@example.org")
        .await;
    let (status, guest) = hub.accept(&code).await;
    assert_eq!(status, 200, "{guest}");
    let guest = guest["token"].as_str().unwrap().to_owned();
    let (status, garage) = hub
        .call(
            "POST",
            "/devices",
            Some(&admin),
            Some(json!({ "org": root, "name": "garage" })),
        )
        .await;
    assert_eq!(status, 201, "{garage}");
    let garage = garage["id"].as_str().unwrap().to_owned();
    let expires = hub.clock.now_ms() + 3_600_000;
    let (status, shared) = hub
        .call(
            "POST",
            &format!("/devices/{garage}/shares"),
            Some(&admin),
            Some(json!({ "with": "guest@example.org", "level": "control", "expires": expires })),
        )
        .await;
    assert_eq!(status, 201, "{shared}");
    let sees = |devices: Value| {
        devices
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == garage.as_str())
    };

    let (status, devices) = hub.call("GET", "/devices", Some(&guest), None).await;
    assert_eq!(status, 200);
    assert!(sees(devices), "shared now");
    hub.clock.advance(HOUR - MS);
    let (_, devices) = hub.call("GET", "/devices", Some(&guest), None).await;
    assert!(sees(devices), "still shared 1 ms before the end");
    let (status, _) = hub
        .call("GET", &format!("/devices/{garage}"), Some(&guest), None)
        .await;
    assert_eq!(status, 200);
    hub.clock.advance(MS);
    let (_, devices) = hub.call("GET", "/devices", Some(&guest), None).await;
    assert!(!sees(devices.clone()), "the share ended: {devices}");
    let (status, _) = hub
        .call("GET", &format!("/devices/{garage}"), Some(&guest), None)
        .await;
    assert_eq!(status, 404, "the device is out of the guest's view");
    hub.close().await;
}

/// An invite code is good for a week: accepted 1 ms before, refused at it.
#[tokio::test]
async fn an_invite_code_is_good_for_a_week() {
    let hub = Driven::open().await;
    let (admin, root) = hub.household().await;
    let early = hub.invite(&admin, &root, "early@example.org").await;
    let late = hub.invite(&admin, &root, "late@example.org").await;
    hub.clock.advance(7 * DAY - MS);
    let (status, body) = hub.accept(&early).await;
    assert_eq!(status, 200, "{body}");
    hub.clock.advance(MS);
    let (status, body) = hub.accept(&late).await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert_ne!(status, 429, "refused as expired, not throttled: {body}");
    hub.close().await;
}

/// The setup code a fresh hub makes is good for a day (by its clock).
#[tokio::test]
async fn a_setup_code_is_good_for_a_day() {
    let fresh = Driven::open().await;
    fresh.clock.advance(DAY - Duration::from_secs(1));
    fresh.household().await;
    fresh.close().await;

    let stale = Driven::open().await;
    let code = stale.setup_code();
    stale.clock.advance(DAY);
    let (status, body) = stale
        .call(
            "POST",
            "/setup",
            None,
            Some(json!({ "code": code, "household": "Home", "email": "admin@example.org", "password": PASSWORD })),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert_ne!(status, 429, "refused as expired, not throttled: {body}");
    let (status, me) = stale.call("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{me}");
    stale.close().await;
}

/// A session lasts thirty days from its login, then is refused.
#[tokio::test]
async fn a_session_lasts_thirty_days() {
    let hub = Driven::open().await;
    let (admin, _) = hub.household().await;
    hub.clock.advance(30 * DAY - Duration::from_secs(1));
    let (status, _) = hub.call("GET", "/me", Some(&admin), None).await;
    assert_eq!(status, 200);
    hub.clock.advance(Duration::from_secs(1));
    let (status, body) = hub.call("GET", "/me", Some(&admin), None).await;
    assert_eq!(status, 401, "{body}");
    hub.close().await;
}
