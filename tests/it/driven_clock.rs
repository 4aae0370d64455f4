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
    let (garage, _) = hub.device(&admin, &root, "garage").await;
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

/// A Blynk device that announced a 10 s heartbeat stays online while it
/// pings within 15 s, and goes offline exactly 1.5 heartbeats after its last
/// frame (a session on an in-memory pipe, tokio's clock paused and driven).
///
/// The clock is paused only once the household exists: a paused clock runs
/// ahead to the next timer whenever the runtime waits, even for the store's
/// thread, so setting up under it could pass a 30 s timeout in no time.
#[tokio::test]
async fn a_blynk_device_silent_for_one_and_a_half_heartbeats_goes_offline() {
    use hearth::blynk::session;
    use tokio::io::AsyncWriteExt;

    let hub = Driven::open().await;
    let (admin, root) = hub.household().await;
    let (device, token) = hub.device(&admin, &root, "lamp").await;
    tokio::time::pause();
    let (mut board, hub_side) = tokio::io::duplex(4096);
    let ctx = session::Context {
        devices: hub.node.devices.clone(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        max_body: 1024,
        per_second: 100.0,
    };
    let served = tokio::spawn(async move {
        let mut link = session::link(hub_side, 1024);
        let mut bucket = session::Bucket::new(100.0);
        session::run(&mut link, None, &ctx, "192.0.2.5:4000", "tcp", &mut bucket).await;
    });
    board
        .write_all(&crate::blynk::frame(29, 1, token.as_bytes()))
        .await
        .unwrap();
    assert_eq!(answer(&mut board, 1).await, 200, "logged in");
    let info = b"ver\x000.1\x00h-beat\x0010\x00dev\x00test";
    board
        .write_all(&crate::blynk::frame(17, 2, info))
        .await
        .unwrap();
    assert_eq!(answer(&mut board, 2).await, 200, "INTERNAL answered");

    for id in 3..6 {
        tokio::time::sleep(Duration::from_secs(14)).await;
        assert!(
            hub.node.devices.online(&device).is_some(),
            "online at ping {id}"
        );
        board
            .write_all(&crate::blynk::frame(6, id, b""))
            .await
            .unwrap();
        assert_eq!(answer(&mut board, id).await, 200, "PING answered");
    }
    let last = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(60), served)
        .await
        .expect("the session ends")
        .unwrap();
    let silent = last.elapsed();
    assert!(
        silent >= Duration::from_secs(15) && silent < Duration::from_millis(15_100),
        "offline after {silent:?} of silence"
    );
    assert!(hub.node.devices.online(&device).is_none(), "offline now");
    hub.close().await;
}

/// The status of the RESPONSE to `id` the hub sent down `board`.
async fn answer(board: &mut tokio::io::DuplexStream, id: u16) -> u16 {
    use tokio::io::AsyncReadExt;
    let mut frame = [0u8; 5];
    board.read_exact(&mut frame).await.unwrap();
    assert_eq!(frame[..3], id_header(id), "{frame:?}");
    u16::from_be_bytes([frame[3], frame[4]])
}

fn id_header(id: u16) -> [u8; 3] {
    let [hi, lo] = id.to_be_bytes();
    [0, hi, lo]
}
