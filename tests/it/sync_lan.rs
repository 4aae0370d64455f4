//! LAN: two hubs of one household in separate network namespaces joined
//! by a veth pair, no cloud at all. The second joins the first; then the
//! first hub's address changes (a DHCP lease), so the only way back is
//! what mDNS tells: each announces the household's opaque tag, finds the
//! other, pins its certificate to what the household recorded, and changes
//! made on either side reach the other.

use crate::{common, netns};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{HubProcess, TIMEOUT, hearth_run};
use hearth::client::{Client, Target};
use netns::{NetNs, link};
use serde_json::{Value, json};

/// The address hub A moves to once B has joined.
const MOVED: &str = "169.254.79.7";

/// A request through a hub's admin socket (not namespaced: a file).
fn console(state: &Path, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = Client {
        target: Target::Console(hearth::api::console::path(state)),
        token: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reply = runtime
        .block_on(client.call(method, path, body))
        .expect("the admin socket answers");
    (reply.status, reply.body)
}

fn config(name: &str, interface: &str) -> String {
    format!(
        "[hub]\nname = \"{name}\"\n\n[api]\nlisten = \"0.0.0.0:0\"\n\n\
         [mdns]\ninterfaces = [\"{interface}\"]\n\n\
         [blynk]\nlisten = \"0.0.0.0:0\"\ntls_listen = \"0.0.0.0:0\"\n\n\
         [mqtt]\nlisten = \"0.0.0.0:0\"\n\n[sync]\nmax_backoff_secs = 1\n"
    )
}

fn start(ns: &NetNs, dir: &Path, name: &str, interface: &str) -> HubProcess {
    let state = dir.join(name);
    let config_file = dir.join(format!("{name}.toml"));
    std::fs::write(&config_file, config(name, interface)).unwrap();
    HubProcess::start_command(ns.hearth(hearth_run(&config_file, &state)), &state)
}

fn device_names(state: &Path) -> Vec<String> {
    let (status, body) = console(state, "GET", "/devices", None);
    assert_eq!(status, 200, "{body}");
    let mut names: Vec<String> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn wait_until(hubs: [&HubProcess; 2], what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT * 2;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "not within {:?}: {what}\n--- hub A:\n{}\n--- hub B:\n{}",
            TIMEOUT * 2,
            hubs[0].stderr(),
            hubs[1].stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_hubs_on_a_lan_find_each_other_by_mdns_and_sync_without_a_cloud() {
    let ns_a = NetNs::new();
    let ns_b = NetNs::new();
    let ((if_a, addr_a), (if_b, _)) = link(&ns_a, &ns_b, 79);
    let tmp = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    let a = start(&ns_a, tmp.path(), &format!("hearth-a{pid}"), &if_a);
    let b = start(&ns_b, tmp.path(), &format!("hearth-b{pid}"), &if_b);

    // A is set up; B joins it across the veth link, pinning A's certificate.
    let (ok, code, stderr) =
        common::hearth_output(&["--state-dir", a.state_dir.to_str().unwrap(), "setup-code"]);
    assert!(ok.success(), "hearth setup-code: {stderr}");
    let code = code.trim().to_owned();
    let (status, body) = console(
        &a.state_dir,
        "POST",
        "/setup",
        Some(
            json!({ "code": code, "household": "Home", "email": "admin@example.org",
                     "password": "correct horse battery" }),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let (_, me) = console(&a.state_dir, "GET", "/orgs", None);
    let root = me[0]["id"].as_str().unwrap().to_owned();
    let (status, pairing) = console(&a.state_dir, "POST", "/hubs/pairing", None);
    assert_eq!(status, 200, "{pairing}");
    let (status, joined) = console(
        &b.state_dir,
        "POST",
        "/sync/join",
        Some(json!({
            "url": format!("https://{addr_a}:{}", a.api_port()),
            "code": pairing["code"],
            "fingerprint": a.fingerprint(),
        })),
    );
    assert_eq!(status, 200, "{joined}");

    // A's address changes: the link B made at join time leads nowhere now.
    netns::ip(&[
        "-n",
        &ns_a.name,
        "addr",
        "del",
        &format!("{addr_a}/24"),
        "dev",
        &if_a,
    ]);
    netns::ip(&[
        "-n",
        &ns_a.name,
        "addr",
        "add",
        &format!("{MOVED}/24"),
        "dev",
        &if_a,
    ]);

    // A change on each side reaches the other, over what mDNS found.
    let (status, body) = console(
        &a.state_dir,
        "POST",
        "/devices",
        Some(json!({ "org": root, "name": "Garage door" })),
    );
    assert_eq!(status, 201, "{body}");
    wait_until([&a, &b], "the device added on A reaches B", || {
        device_names(&b.state_dir) == ["Garage door"]
    });
    let (status, body) = console(
        &b.state_dir,
        "POST",
        "/devices",
        Some(json!({ "org": root, "name": "Lamp" })),
    );
    assert_eq!(status, 201, "{body}");
    wait_until([&a, &b], "the device added on B reaches A", || {
        device_names(&a.state_dir) == ["Garage door", "Lamp"]
    });
    // Whichever of the two dialed, the link in use goes to A's new address
    // or comes from it.
    let (_, status_a) = console(&a.state_dir, "GET", "/sync/status", None);
    let (_, status_b) = console(&b.state_dir, "GET", "/sync/status", None);
    let links = format!("{status_a} {status_b}");
    let connected: Vec<&Value> = status_a["peers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(status_b["peers"].as_array().unwrap())
        .filter(|p| p["connected"] == true)
        .collect();
    assert!(!connected.is_empty(), "{links}");
    assert!(
        connected
            .iter()
            .all(|p| !p["url"].as_str().unwrap().contains(&addr_a)),
        "nothing connected goes to the old address: {links}"
    );
    // The hub that was dialed lists the dialer as connected to it.
    let hub_of = |dir| {
        let (_, health) = console(dir, "GET", "/health", None);
        format!("hub-{}", health["hub_id"].as_str().unwrap())
    };
    let (hub_a, hub_b) = (hub_of(&a.state_dir), hub_of(&b.state_dir));
    let mut dialed_any = false;
    for (dialer, status, dialed_status, dialed) in [
        (&hub_a, &status_a, &status_b, &hub_b),
        (&hub_b, &status_b, &status_a, &hub_a),
    ] {
        let dials = status["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["connected"] == true && p["peer"] == dialed.as_str());
        let listed = dialed_status["incoming"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["peer"] == dialer.as_str() && p["connected_since"].as_i64().unwrap() > 0);
        assert!(!dials || listed, "{dialer} -> {dialed}: {links}");
        dialed_any |= dials;
    }
    assert!(dialed_any, "one of them dials the other: {links}");
}
