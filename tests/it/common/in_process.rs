//! A node opened in-process (`hearth::node::Node`) on its own state
//! directory and a manual [`Clock`], with its API router called directly
//! (`Router::oneshot`: no socket, no TLS), for API cases where the process
//! does not matter: what expires, what is throttled, what a request answers.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use hearth::clock::Clock;
use hearth::config::Config;
use hearth::node::{Node, NodeOptions, Role};
use hearth::state_dir::StateDir;

use crate::api::PASSWORD;

/// The address requests come from unless a test says otherwise.
pub const LAN_PEER: &str = "192.0.2.10:40000";

/// A node and its API; always [`InProcess::close`] it.
pub struct InProcess {
    dir: tempfile::TempDir,
    _lock: StateDir,
    pub node: Node,
    pub clock: Clock,
    router: axum::Router,
    shutdown: CancellationToken,
}

/// An answer: status, headers and JSON (`Null` when empty, a string when
/// not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    /// The body as sent (compressed, when it was).
    pub bytes: Vec<u8>,
}

impl InProcess {
    /// A hub node on the test configuration, its clock standing still.
    pub async fn open() -> InProcess {
        Self::open_with(crate::common::TEST_CONFIG).await
    }

    pub async fn open_with(config: &str) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateDir::acquire(dir.path()).unwrap();
        let config = Config::parse(config, std::path::Path::new("test.toml")).unwrap();
        let clock = Clock::manual(1_800_000_000_000);
        let options =
            NodeOptions::new(&config, Role::Hub { outbox_max: 1000 }).with_clock(clock.clone());
        let shutdown = CancellationToken::new();
        let node = Node::open(dir.path(), options, &shutdown).await.unwrap();
        let router = hearth::api::router(node.api_state(shutdown.clone()));
        InProcess {
            dir,
            _lock: lock,
            node,
            clock,
            router,
            shutdown,
        }
    }

    /// Serves the API (and the app) on a loopback port, for a browser: the
    /// port. It stops when the node closes.
    pub async fn serve(&self) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = self
            .router
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = self.shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
        port
    }

    pub async fn close(self) {
        self.shutdown.cancel();
        self.node.close().await;
    }

    /// One request to `uri` (with its query) from `peer`.
    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        peer: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| ("authorization", b))
            .into_iter()
            .collect();
        self.request_with(method, uri, peer, &headers, body).await
    }

    /// One request to `uri` from `peer` with `headers` (as a browser sends them).
    pub async fn request_with(
        &self,
        method: &str,
        uri: &str,
        peer: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "hearth.local");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                axum::body::Body::from(json.to_string())
            }
            None => axum::body::Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            if bytes.is_empty() {
                Value::Null
            } else {
                Value::String(String::from_utf8_lossy(&bytes).into())
            }
        });
        Answer {
            status,
            headers,
            body,
            bytes: bytes.to_vec(),
        }
    }

    /// One request under `/api/v1` from [`LAN_PEER`]: status and JSON.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let answer = self
            .request(method, &format!("/api/v1{path}"), LAN_PEER, token, body)
            .await;
        (answer.status, answer.body)
    }

    /// The setup code the node made when it opened.
    pub fn setup_code(&self) -> String {
        let file = self.dir.path().join(hearth::state_dir::SETUP_CODE_FILE);
        let text = std::fs::read_to_string(file).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Sets the household "Home" up: the admin's token and the root
    /// organization.
    pub async fn household(&self) -> (String, String) {
        let code = self.setup_code();
        let setup = json!({
            "code": code, "household": "Home", "email": "admin@example.org", "password": PASSWORD,
        });
        let (status, login) = self.call("POST", "/setup", None, Some(setup)).await;
        assert_eq!(status, 201, "{login}");
        let admin = login["token"].as_str().unwrap().to_owned();
        let (_, me) = self.call("GET", "/me", Some(&admin), None).await;
        let root = me["memberships"][0]["org"].as_str().unwrap().to_owned();
        (admin, root)
    }

    /// Invites `email` as a user of `org`: the invite code.
    pub async fn invite(&self, admin: &str, org: &str, email: &str) -> String {
        let body = json!({ "email": email, "org": org, "role": "user" });
        let (status, invited) = self.call("POST", "/members", Some(admin), Some(body)).await;
        assert_eq!(status, 201, "{invited}");
        invited["invite_code"].as_str().unwrap().to_owned()
    }

    pub async fn accept(&self, code: &str) -> (u16, Value) {
        let body = json!({ "code": code, "password": PASSWORD });
        self.call("POST", "/invites/accept", None, Some(body)).await
    }

    /// Adds a device to `org`: its id and auth token.
    pub async fn device(&self, admin: &str, org: &str, name: &str) -> (String, String) {
        let body = json!({ "org": org, "name": name });
        let (status, added) = self.call("POST", "/devices", Some(admin), Some(body)).await;
        assert_eq!(status, 201, "{added}");
        (
            added["id"].as_str().unwrap().to_owned(),
            added["token"].as_str().unwrap().to_owned(),
        )
    }
}
