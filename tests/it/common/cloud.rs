//! `hearth cloud` as a child process, and the steps that link a hub to it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::api::{Api, Household, PASSWORD};
use crate::common::{HubProcess, TIMEOUT, hearth};

/// The cloud's test configuration: loopback, port 0, HTTPS (its own
/// certificate, which hubs pin).
pub const CLOUD_CONFIG: &str = "[api]\nlisten = \"127.0.0.1:0\"\n\n[mdns]\nenabled = false\n";

/// A hub's test configuration with a short backoff cap, so reconnecting
/// after a test cut a link takes a second, not a minute.
pub fn hub_config() -> String {
    format!(
        "{}\n[sync]\nmax_backoff_secs = 1\nkeepalive_secs = 1\n",
        crate::common::TEST_CONFIG
    )
}

pub struct CloudProcess {
    pub process: HubProcess,
    pub api: Api,
    /// Its API port, kept for [`CloudProcess::restart`].
    pub port: u16,
}

impl CloudProcess {
    /// Starts `hearth cloud` on `state_dir` and waits for READY=1.
    pub fn start(state_dir: &Path) -> Self {
        Self::start_configured(state_dir, CLOUD_CONFIG)
    }

    /// [`CloudProcess::start`] with `config` (the test configuration with
    /// something changed).
    pub fn start_configured(state_dir: &Path, config_text: &str) -> Self {
        let config = state_dir.with_extension("toml");
        std::fs::write(&config, config_text).unwrap();
        let mut cmd = hearth();
        cmd.arg("cloud")
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(state_dir);
        let process = HubProcess::start_command(cmd, state_dir);
        let port = process.api_port();
        let api = Api::new(port, &process.fingerprint());
        CloudProcess { process, api, port }
    }

    /// Starts the cloud again on the port it had (hubs keep its URL).
    pub fn restart(self) -> Self {
        let port = self.port;
        let state_dir = self.process.state_dir.clone();
        drop(self);
        let config = state_dir.with_extension("toml");
        std::fs::write(
            &config,
            CLOUD_CONFIG.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
        )
        .unwrap();
        let mut cmd = hearth();
        cmd.arg("cloud")
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state_dir);
        let process = HubProcess::start_command(cmd, &state_dir);
        let port = process.api_port();
        let api = Api::new(port, &process.fingerprint());
        CloudProcess { process, api, port }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// A one-time link code, from `hearth cloud code` on the cloud's state.
    pub fn code(&self) -> String {
        let out = hearth()
            .args(["cloud", "code", "--state-dir"])
            .arg(&self.process.state_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hearth cloud code: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

/// Links `hub`'s household to `cloud` through the hub's API; returns the
/// path of the tenant's API on the cloud (`/tenants/<id>/api/v1`).
pub fn link(hub: &Household, cloud: &CloudProcess) -> String {
    link_at(hub, cloud, &cloud.url())
}

/// [`link`], the hub reaching the cloud at `url` (a proxy in front of it).
pub fn link_at(hub: &Household, cloud: &CloudProcess, url: &str) -> String {
    let reply = hub.api.post(
        "/cloud/link",
        Some(&hub.admin),
        serde_json::json!({
            "url": url,
            "code": cloud.code(),
            "fingerprint": cloud.process.fingerprint(),
        }),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["api"].as_str().unwrap().to_owned()
}

/// Waits until `check` holds, polling every 50 ms, for at most [`TIMEOUT`].
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !check() {
        assert!(Instant::now() < deadline, "not within {TIMEOUT:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Logs in on the cloud as `email` in the tenant whose API is at `tenant`
/// (the path [`link`] returned).
pub fn cloud_login(cloud: &CloudProcess, tenant: &str, email: &str) -> String {
    let login = || {
        cloud.api.post(
            &format!("{tenant}/login"),
            None,
            serde_json::json!({ "email": email, "password": PASSWORD }),
        )
    };
    // The documents can be in sync a moment before the cloud has recorded
    // them as the household's (it answers `not_set_up` until then; a
    // refusal that counts against no one).
    let mut reply = login();
    eventually("the cloud has recorded the household", || {
        reply = login();
        reply.body["code"] != "not_set_up"
    });
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["token"].as_str().unwrap().to_owned()
}

/// Waits until the hub is connected to every peer it links to and each of
/// the household's documents is in sync both ways.
pub fn wait_in_sync(hub: &Household) {
    eventually("the hub's links are connected and in sync", || {
        let status = hub.api.get("/sync/status", Some(&hub.admin));
        assert_eq!(status.status, 200, "{}", status.body);
        let peers = status.body["peers"].as_array().cloned().unwrap_or_default();
        !peers.is_empty()
            && peers.iter().all(|p| {
                p["connected"] == true
                    && p["docs"].as_array().is_some_and(|docs| {
                        docs.len() == 2
                            && docs.iter().all(|d| {
                                d["shared"] == true
                                    && d["theirs_lacking"] == 0
                                    && d["ours_lacking"] == 0
                            })
                    })
            })
    });
}

/// The names of the devices `token` sees through `api` at `prefix`
/// (`""` on a hub, the tenant's API path on the cloud).
pub fn device_names(api: &Api, prefix: &str, token: &str) -> Vec<String> {
    let reply = api.get(&format!("{prefix}/devices"), Some(token));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut names: Vec<String> = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Starts a second hub on `dir` and joins it to `first`'s household with
/// a pairing code, dialing it at `port` on loopback (its API port, or a
/// proxy's in front of it): the second hub, its admin logged in, and the
/// pairing code it used.
pub fn join_second_hub(first: &Household, port: u16, dir: &Path) -> (Household, String) {
    let hub = HubProcess::start(dir, &hub_config());
    let code = first
        .api
        .post("/hubs/pairing", Some(&first.admin), serde_json::json!({}));
    assert_eq!(code.status, 200, "{}", code.body);
    let code = code.body["code"].as_str().unwrap().to_owned();
    let joined = hearth()
        .args(["--console", "--state-dir"])
        .arg(dir)
        .args(["hub", "join", &format!("https://127.0.0.1:{port}"), &code])
        .args(["--fingerprint", &first.hub.fingerprint()])
        .output()
        .unwrap();
    assert!(
        joined.status.success(),
        "hearth hub join: {}{}",
        String::from_utf8_lossy(&joined.stdout),
        String::from_utf8_lossy(&joined.stderr)
    );
    let api = Api::new(hub.api_port(), &hub.fingerprint());
    let mut admin = String::new();
    eventually("the joined hub knows its admin", || {
        let login = serde_json::json!({ "email": "admin@example.org", "password": PASSWORD });
        let reply = api.post("/login", None, login);
        admin = reply.body["token"].as_str().unwrap_or_default().to_owned();
        reply.status == 200
    });
    let second = Household {
        hub,
        api,
        admin,
        root: first.root.clone(),
    };
    (second, code)
}
