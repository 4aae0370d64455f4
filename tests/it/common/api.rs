//! A small HTTPS client for the hub's API, pinned to the hub's certificate
//! fingerprint the way apps pin it (the hub's own `client::pinned`), one
//! connection per request. Blocking, for tests that drive a real hub process.

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::ServerName;

pub struct Api {
    port: u16,
    tls: tokio_rustls::TlsConnector,
    runtime: tokio::runtime::Runtime,
}

/// A response: status and JSON body (`Null` when empty).
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    pub headers: hyper::HeaderMap,
}

impl Api {
    pub fn new(port: u16, fingerprint: &str) -> Self {
        let config = hearth::client::pinned::config(fingerprint);
        Api {
            port,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// The pinned TLS connector, for clients of one's own (load generators).
    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        self.tls.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("GET", path, token, None)
    }

    /// GET `path` (not under `/api/v1`) without a token: status and body text.
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let reply = self.call("GET", path, None, None);
        let text = match reply.body {
            serde_json::Value::String(text) => text,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        (reply.status, text)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: serde_json::Value) -> Reply {
        self.call("POST", path, token, Some(body))
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        self.runtime.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .expect("connect to the hub");
            request(&self.tls, tcp, method, path, token, body).await
        })
    }
}

/// One request over `tcp` (a connection to the hub made however the caller
/// likes: from another source address, say), pinned TLS, HTTP/1.1.
pub async fn request(
    tls: &tokio_rustls::TlsConnector,
    tcp: tokio::net::TcpStream,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Reply {
    let name = ServerName::try_from("hearth.local").unwrap();
    let tls = tls.connect(name, tcp).await.expect("TLS handshake");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .expect("HTTP handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(
            if [
                "/external/",
                "/cloud/v1/",
                "/tenants/",
                "/metrics",
                "/index.html",
                "/assets/",
                "/sw.js",
            ]
            .iter()
            .any(|raw| path.starts_with(raw))
            {
                path.to_owned()
            } else {
                format!("/api/v1{path}")
            },
        )
        .header("host", "hearth.local");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let bytes = match &body {
        Some(json) => {
            req = req.header("content-type", "application/json");
            Bytes::from(json.to_string())
        }
        None => Bytes::new(),
    };
    let response = sender
        .send_request(req.body(Full::new(bytes)).unwrap())
        .await
        .expect("a response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap().to_bytes();
    let body = if collected.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&collected).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&collected).into())
        })
    };
    Reply {
        status,
        body,
        headers,
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// A hub set up through the API, its first admin logged in.
pub struct Household {
    pub hub: crate::common::HubProcess,
    pub api: Api,
    /// The admin's bearer token.
    pub admin: String,
    /// The root organization's id.
    pub root: String,
}

/// The code `hearth setup-code` prints for the hub on `state`.
pub fn setup_code(state: &std::path::Path) -> String {
    let (status, stdout, stderr) =
        crate::common::hearth_output(&["--state-dir", state.to_str().unwrap(), "setup-code"]);
    assert!(status.success(), "hearth setup-code: {stderr}");
    stdout.trim().to_owned()
}

/// Starts a fresh hub on `state` and sets up the household "Home" with
/// admin@example.org through `POST /setup`.
pub fn household(state: &std::path::Path) -> Household {
    household_with(state, crate::common::TEST_CONFIG)
}

/// [`household`] on a hub started with `config`.
pub fn household_with(state: &std::path::Path, config: &str) -> Household {
    let hub = crate::common::HubProcess::start(state, config);
    let api = Api::new(hub.api_port(), &hub.fingerprint());
    let code = setup_code(state);
    assert!(hub.stderr().contains(&code), "the code is also logged");
    let reply = api.post(
        "/setup",
        None,
        serde_json::json!({
            "code": code, "household": "Home", "email": "Admin@Example.org", "password": PASSWORD,
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let admin = reply.body["token"].as_str().unwrap().to_owned();
    let me = api.get("/me", Some(&admin));
    let root = me.body["memberships"][0]["org"]
        .as_str()
        .unwrap()
        .to_owned();
    Household {
        hub,
        api,
        admin,
        root,
    }
}

impl Household {
    /// Invites `email` into `org` with `role` and has them accept with a
    /// password; returns their token and membership.
    pub fn member(&self, email: &str, org: &str, role: &str) -> (String, String) {
        let invited = self.api.post(
            "/members",
            Some(&self.admin),
            serde_json::json!({ "email": email, "org": org, "role": role }),
        );
        assert_eq!(invited.status, 201, "{}", invited.body);
        let code = invited.body["invite_code"]
            .as_str()
            .expect("a new person gets a code");
        let accepted = self.api.post(
            "/invites/accept",
            None,
            serde_json::json!({ "code": code, "password": PASSWORD }),
        );
        assert_eq!(accepted.status, 200, "{}", accepted.body);
        (
            accepted.body["token"].as_str().unwrap().to_owned(),
            invited.body["membership"].as_str().unwrap().to_owned(),
        )
    }

    /// Adds a device to `org` as the admin; returns its id.
    pub fn device(&self, org: &str, name: &str) -> String {
        let added = self.api.post(
            "/devices",
            Some(&self.admin),
            serde_json::json!({ "org": org, "name": name }),
        );
        assert_eq!(added.status, 201, "{}", added.body);
        added.body["id"].as_str().unwrap().to_owned()
    }
}

/// A WebSocket to `/api/v1/stream`, over the same pinned TLS.
pub struct Stream {
    ws: tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
}

/// What the stream said: a JSON message, or its close code.
#[derive(Debug, PartialEq)]
pub enum Event {
    Json(serde_json::Value),
    Closed(Option<u16>),
}

impl Api {
    /// Opens the live stream with `token` in the `access_token` query.
    pub fn stream(&self, token: &str) -> Stream {
        self.runtime.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .unwrap();
            let name = ServerName::try_from("hearth.local").unwrap();
            let tls = self.tls.connect(name, tcp).await.unwrap();
            let url = format!("wss://hearth.local/api/v1/stream?access_token={token}");
            let (ws, _) = tokio_tungstenite::client_async(url, tls)
                .await
                .expect("WebSocket upgrade");
            Stream { ws }
        })
    }

    /// The next event on `stream`, waiting at most 20 s (generous: it only bounds a failure on a loaded machine).
    pub fn next(&self, stream: &mut Stream) -> Event {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        self.runtime.block_on(async {
            loop {
                let next =
                    tokio::time::timeout(std::time::Duration::from_secs(20), stream.ws.next())
                        .await
                        .expect("a stream event within 20 s");
                match next {
                    Some(Ok(Message::Text(text))) => {
                        return Event::Json(serde_json::from_str(&text).unwrap());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Event::Closed(frame.map(|f| u16::from(f.code)));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Event::Closed(None),
                }
            }
        })
    }
}
