//! The node's one clock, driven: a node opened in-process on a manual
//! [`Clock`] and its API router called directly (`Router::oneshot`, no
//! socket, no TLS), so what expires after an hour, a day, a week or a month
//! is checked to the millisecond in milliseconds of test time.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use hearth::clock::Clock;
use hearth::config::Config;
use hearth::node::{Node, NodeOptions, Role};
use hearth::state_dir::StateDir;

const PASSWORD: &str = crate::api::PASSWORD;
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const MS: Duration = Duration::from_millis(1);

/// A node on its own state directory and manual clock, and its API.
struct Driven {
    _dir: tempfile::TempDir,
    _lock: StateDir,
    node: Node,
    clock: Clock,
    router: axum::Router,
    shutdown: CancellationToken,
}

impl Driven {
    async fn open() -> Driven {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateDir::acquire(dir.path()).unwrap();
        let config = Config::parse(
            crate::common::TEST_CONFIG,
            std::path::Path::new("test.toml"),
        )
        .unwrap();
        let clock = Clock::manual(1_800_000_000_000);
        let options =
            NodeOptions::new(&config, Role::Hub { outbox_max: 1000 }).with_clock(clock.clone());
        let shutdown = CancellationToken::new();
        let node = Node::open(dir.path(), options, &shutdown).await.unwrap();
        let router = hearth::api::router(node.api_state(shutdown.clone()));
        Driven {
            _dir: dir,
            _lock: lock,
            node,
            clock,
            router,
            shutdown,
        }
    }

    async fn close(self) {
        self.shutdown.cancel();
        self.node.close().await;
    }

    /// One request under `/api/v1`, from a LAN address: status and JSON.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header("host", "hearth.local");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                axum::body::Body::from(json.to_string())
            }
            None => axum::body::Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        let peer: SocketAddr = "192.0.2.10:40000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json)
    }

    fn setup_code(&self) -> String {
        let text =
            std::fs::read_to_string(self._dir.path().join(hearth::state_dir::SETUP_CODE_FILE))
                .unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Sets the household up; the admin's token and the root organization.
    async fn household(&self) -> (String, String) {
        let code = self.setup_code();
        let (status, login) = self
            .call(
                "POST",
                "/setup",
                None,
                Some(json!({ "code": code, "household": "Home", "email": "admin@example.org", "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, 201, "{login}");
        let admin = login["token"].as_str().unwrap().to_owned();
        let (_, me) = self.call("GET", "/me", Some(&admin), None).await;
        (
            admin,
            me["memberships"][0]["org"].as_str().unwrap().to_owned(),
        )
    }

    /// Invites `email` as a user of `org`: the invite code.
    async fn invite(&self, admin: &str, org: &str, email: &str) -> String {
        let (status, invited) = self
            .call(
                "POST",
                "/members",
                Some(admin),
                Some(json!({ "email": email, "org": org, "role": "user" })),
            )
            .await;
        assert_eq!(status, 201, "{invited}");
        invited["invite_code"].as_str().unwrap().to_owned()
    }

    async fn accept(&self, code: &str) -> (u16, Value) {
        self.call(
            "POST",
            "/invites/accept",
            None,
            Some(json!({ "code": code, "password": PASSWORD })),
        )
        .await
    }
}

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
