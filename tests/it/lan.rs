//! The household's first contact: a hub started with no configuration at all
//! appears on the LAN. Two network namespaces joined by a veth pair stand in
//! for the gateway and a phone; python-zeroconf, a resolver Hearth did not
//! write, finds the hub, checks its TXT record, fetches health with the
//! certificate pinned by `fp`, sees it re-announced when the gateway gains an
//! address, and sees the goodbye after SIGTERM.

use crate::{common, netns};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use common::{HubProcess, TIMEOUT, hearth, hearth_run, support};
use netns::{NetNs, link};

/// Reads the probe's JSON lines on a thread so every wait can time out.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<serde_json::Value> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line) {
                let _ = tx.send(value);
            }
        }
    });
    rx
}

/// The address the gateway gains halfway through the first test.
const NEW_ADDRESS: &str = "169.254.77.9";

#[test]
fn a_hub_with_embedded_defaults_is_found_checked_followed_and_seen_leaving() {
    let gateway = NetNs::new();
    let phone = NetNs::new();
    let ((hub_if, hub_addr), _) = link(&gateway, &phone, 77);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let empty_config_dir = tmp.path().join("etc");
    std::fs::create_dir(&empty_config_dir).unwrap();

    // No --config and no file: the embedded default ([::]:8443, mDNS on).
    // Its fixed port is only ever bound inside this test's own namespace.
    let mut cmd = gateway.hearth(hearth());
    cmd.arg("run")
        .env("STATE_DIRECTORY", &state)
        .env("CONFIGURATION_DIRECTORY", &empty_config_dir);
    let mut hub = HubProcess::start_command(cmd, &state);
    let runtime = hub.runtime();
    assert!(
        runtime["api_addr"].as_str().unwrap().ends_with(":8443"),
        "{runtime}"
    );
    let hub_id = runtime["hub_id"].as_str().unwrap().to_owned();

    let mut probe = phone
        .command("python3")
        .arg(support("mdns_probe.py"))
        .arg(TIMEOUT.as_secs().to_string())
        .arg(NEW_ADDRESS)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let events = lines_of(&mut probe);
    let found = events
        .recv_timeout(TIMEOUT * 2)
        .expect("the probe reported nothing");
    assert_eq!(
        found["event"],
        "found",
        "{found}\nhub log:\n{}",
        hub.stderr()
    );
    let name = format!("hearth-{}._hearth._tcp.local.", &hub_id[..6]);
    assert_eq!(found["name"], name.as_str());
    assert_eq!(found["port"], 8443);
    assert!(
        found["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == hub_addr.as_str())
    );
    let txt = &found["txt"];
    assert_eq!(txt["id"], hub_id.as_str());
    assert_eq!(txt["ver"], env!("CARGO_PKG_VERSION"));
    assert_eq!(txt["api"], "/api/v1");
    assert_eq!(txt["fp"], hub.fingerprint().as_str());
    assert_eq!(txt["blynk"], hub.blynk_port().to_string().as_str());
    assert_eq!(txt["blynks"], hub.blynk_tls_port().to_string().as_str());
    assert_eq!(txt["mqtt"], hub.mqtt_port().to_string().as_str());
    let keys: Vec<&String> = txt.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["api", "blynk", "blynks", "fp", "id", "mqtt", "ver"],
        "nothing else goes on the LAN"
    );
    // Fetched across the veth link, pinned by the announced fingerprint.
    assert_eq!(found["health"]["hub_id"], hub_id.as_str());

    // The gateway gets another address (a DHCP change, a second network):
    // the hub re-announces without a restart.
    netns::ip(&[
        "-n",
        &gateway.name,
        "addr",
        "add",
        &format!("{NEW_ADDRESS}/24"),
        "dev",
        &hub_if,
    ]);
    let moved = events
        .recv_timeout(TIMEOUT * 2)
        .expect("no re-announcement seen");
    assert_eq!(moved["event"], "readdressed", "{moved}");

    let (status, _) = hub.terminate();
    assert!(status.success(), "{}", hub.stderr());
    let gone = events.recv_timeout(TIMEOUT * 2).expect("no goodbye seen");
    assert_eq!(gone["event"], "removed", "{gone}");
    assert!(probe.wait().unwrap().success());
}

#[test]
fn mdns_browse_lists_a_hub_advertising_on_a_chosen_interface() {
    let gateway = NetNs::new();
    let laptop = NetNs::new();
    let ((hub_if, hub_addr), _) = link(&gateway, &laptop, 78);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = tmp.path().join("hearth.toml");
    std::fs::write(
        &config,
        format!(
            "[hub]\nname = \"hearth-test-{}\"\n\n[api]\nlisten = \"0.0.0.0:0\"\n\n\
             [mdns]\ninterfaces = [\"{hub_if}\"]\n\n\
             [blynk]\nlisten = \"0.0.0.0:0\"\ntls_listen = \"0.0.0.0:0\"\n\n\
             [mqtt]\nlisten = \"0.0.0.0:0\"\n",
            std::process::id()
        ),
    )
    .unwrap();
    let cmd = gateway.hearth(hearth_run(&config, &state));
    let mut hub = HubProcess::start_command(cmd, &state);
    let port = hub.api_port();

    let out = laptop
        .hearth(hearth())
        .args(["mdns", "browse", "--json", "--timeout", "5"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hubs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hubs = hubs.as_array().unwrap();
    assert_eq!(hubs.len(), 1, "{hubs:?}");
    assert_eq!(
        hubs[0]["instance"],
        format!("hearth-test-{}", std::process::id()).as_str()
    );
    assert_eq!(hubs[0]["port"], port);
    assert!(
        hubs[0]["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == hub_addr.as_str())
    );
    assert_eq!(hubs[0]["txt"]["fp"], hub.fingerprint().as_str());
    assert!(hub.terminate().0.success());
}
