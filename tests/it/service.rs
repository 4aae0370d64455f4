//! The hub as systemd sees it: READY only when serving, STATUS lines,
//! WATCHDOG from the core loop, STOPPING and a clean exit on SIGTERM; one hub
//! per state directory; bad config refused with exit 78 before anything runs.

use crate::common;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{HubProcess, TEST_CONFIG, hearth_output, hearth_run};

#[test]
fn ready_comes_after_the_api_serves_and_sigterm_exits_zero_with_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start(&tmp.path().join("state"), TEST_CONFIG);

    // READY=1 arrived together with a readable STATUS line...
    let ready = hub.ready_messages.last().unwrap().clone();
    let status = ready.lines().find(|l| l.starts_with("STATUS=")).unwrap();
    assert!(
        status.starts_with("STATUS=ready: API https://127.0.0.1:"),
        "{status}"
    );
    // ...and by then the API answers, on the certificate the hub announced.
    let health = hub.health();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["hub_id"], hub.runtime()["hub_id"]);
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));

    let (status, took) = hub.terminate();
    assert!(status.success(), "exit {status}:\n{}", hub.stderr());
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let after = hub.notify.wait_for("STOPPING=1");
    assert!(after.iter().any(|m| m.contains("STOPPING=1")));
    assert!(!hub.state_dir.join("runtime.json").exists());
}

#[test]
fn sigint_and_open_connections_still_give_a_prompt_clean_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start(&tmp.path().join("state"), TEST_CONFIG);
    let port = hub.api_port();
    // One client that never finishes its TLS handshake, one that sends half a request.
    let _idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(&[0x16, 0x03, 0x01]).unwrap();

    hub.signal("INT");
    let (status, took) = hub.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "exit {status}:\n{}", hub.stderr());
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[test]
fn watchdog_is_petted_by_the_core_loop_when_systemd_asks() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = tmp.path().join("hearth.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();
    let mut cmd = hearth_run(&config, &state);
    cmd.env("WATCHDOG_USEC", "200000");
    let mut hub = HubProcess::start_command(cmd, &state);
    for _ in 0..3 {
        hub.notify.wait_for("WATCHDOG=1");
    }
    assert!(hub.terminate().0.success());
}

#[test]
fn a_second_hub_on_the_same_state_directory_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let first = HubProcess::start(&state, TEST_CONFIG);
    let config = tmp.path().join("second.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();

    let out = hearth_run(&config, &state).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&state.display().to_string()), "{stderr}");
    assert!(stderr.contains("another hub"), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "{stderr}"
    );
    // The first one is untouched.
    assert_eq!(first.health()["status"], "ok");
}

#[test]
fn bad_config_exits_78_naming_file_and_key_before_touching_state() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = tmp.path().join("bad.toml");
    std::fs::write(
        &config,
        "[api]\nlisten = \"127.0.0.1:0\"\n\n[mdns]\nenbled = true\n",
    )
    .unwrap();

    let out = hearth_run(&config, &state).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(stderr.contains("key `mdns.enbled`"), "{stderr}");
    assert!(stderr.contains("line 5"), "{stderr}");
    assert!(
        !state.exists(),
        "nothing may be created before the config is valid"
    );

    let (status, _, stderr) = hearth_output(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(status.code(), Some(78));
    assert!(stderr.contains("key `mdns.enbled`"), "{stderr}");

    let missing = tmp.path().join("missing.toml");
    let (status, _, stderr) = hearth_output(&["run", "--config", missing.to_str().unwrap()]);
    assert_eq!(status.code(), Some(78));
    assert!(
        stderr.contains("missing.toml") && stderr.contains("cannot read"),
        "{stderr}"
    );
}

#[test]
fn config_default_prints_the_shipped_file_byte_for_byte_and_checks_ok() {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hearth.toml"))
            .unwrap();
    let (status, stdout, _) = hearth_output(&["config", "default"]);
    assert!(status.success());
    assert_eq!(stdout, shipped);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/hearth.toml");
    let (status, stdout, _) = hearth_output(&["config", "check", path]);
    assert!(status.success());
    assert!(stdout.ends_with(": ok\n"), "{stdout}");
}

#[test]
fn status_reports_a_running_hub_and_a_stopped_one() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut hub = HubProcess::start(&state, TEST_CONFIG);
    let (status, stdout, _) =
        hearth_output(&["status", "--json", "--state-dir", state.to_str().unwrap()]);
    assert!(status.success());
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["running"], true);
    assert_eq!(json["hub"]["fingerprint"], hub.fingerprint());
    assert!(hub.terminate().0.success());
    let (status, stdout, _) = hearth_output(&["status", "--state-dir", state.to_str().unwrap()]);
    assert_eq!(status.code(), Some(3));
    assert!(stdout.contains("no hub running"), "{stdout}");
}

#[test]
fn plain_http_only_when_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = "[api]\nlisten = \"127.0.0.1:0\"\ntls = false\n\n[mdns]\nenabled = false\n\n[blynk]\nlisten = \"127.0.0.1:0\"\n\n[mqtt]\nlisten = \"127.0.0.1:0\"\n";
    let mut hub = HubProcess::start(&tmp.path().join("state"), plain);
    let runtime = hub.runtime();
    assert_eq!(runtime["api_scheme"], "http");
    assert!(runtime["fingerprint"].is_null());
    let mut stream = TcpStream::connect(("127.0.0.1", hub.api_port())).unwrap();
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");
    assert!(hub.terminate().0.success());
    assert!(
        !hub.state_dir.join("tls").exists(),
        "no certificate is made for plain HTTP"
    );
}
