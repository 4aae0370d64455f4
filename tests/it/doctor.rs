//! `hearth doctor` against a real hub, with each fault injected in turn:
//! a port another program holds, mDNS off, the clock behind the stored
//! values, an unwritable state directory, a serial port that is not there.
//! Each must be named, with what to do, and the exit status must say so.
//! And mDNS on each interface: a hub on two links of its own network
//! namespace, one of them behind a firewall that drops UDP 5353.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{common, netns};
use common::{HubProcess, TEST_CONFIG, hearth, hearth_run};
use netns::{NetNs, link};

/// `hearth doctor --json` on `state` with `config`: (exit code, findings).
fn doctor(config: &Path, state: &Path) -> (i32, Vec<serde_json::Value>) {
    doctor_with(hearth(), config, state)
}

/// [`doctor`] run by `base` (the hearth binary, perhaps in a namespace).
fn doctor_with(
    mut base: std::process::Command,
    config: &Path,
    state: &Path,
) -> (i32, Vec<serde_json::Value>) {
    let out = base
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let findings = report["findings"].as_array().unwrap().clone();
    (out.status.code().unwrap(), findings)
}

/// The findings of `check` at `level` ("ok", "warn", "fail").
fn of<'a>(findings: &'a [serde_json::Value], check: &str, level: &str) -> Vec<&'a str> {
    findings
        .iter()
        .filter(|f| f["check"] == check && f["level"] == level)
        .map(|f| f["what"].as_str().unwrap())
        .collect()
}

fn problems(findings: &[serde_json::Value]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f["level"] == "fail")
        .map(|f| format!("{}: {}", f["check"], f["what"]))
        .collect()
}

#[test]
fn doctor_names_each_fault_injected_into_a_running_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = state.with_extension("toml");
    let (_code, healthy) = {
        let _hub = HubProcess::start(&state, TEST_CONFIG);
        doctor(&config, &state)
    };
    assert!(problems(&healthy).is_empty(), "{healthy:#?}");
    for check in ["hub", "clock", "disk", "database", "state-dir", "serial"] {
        assert!(
            !of(&healthy, check, "ok").is_empty(),
            "{check}: {healthy:#?}"
        );
    }
    assert_eq!(of(&healthy, "listeners", "ok").len(), 4, "{healthy:#?}");
    assert_eq!(of(&healthy, "household", "warn"), ["no household yet"]);
    assert!(
        of(&healthy, "mdns", "warn")[0].starts_with("mDNS is off in "),
        "mDNS off is named: {healthy:#?}"
    );

    // Another program holds the Blynk port; a serial port is not there.
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let missing = tmp.path().join("ttyHEARTH0");
    let faulty = TEST_CONFIG.replace(
        "[blynk]\nlisten = \"127.0.0.1:0\"",
        &format!(
            "[blynk]\nlisten = \"127.0.0.1:{port}\"\nserial = [{{ path = \"{}\" }}]",
            missing.display()
        ),
    );
    assert_ne!(faulty, TEST_CONFIG);
    let hub = HubProcess::start(&state, &faulty);
    let (code, findings) = doctor(&config, &state);
    assert_eq!(code, 1, "a problem: {findings:#?}");
    assert_eq!(
        of(&findings, "listeners", "fail"),
        [format!(
            "Blynk TCP 127.0.0.1:{port} is configured but not bound: port {port} is taken"
        )]
    );
    let serial = of(&findings, "serial", "fail");
    assert_eq!(serial.len(), 1, "{findings:#?}");
    assert!(
        serial[0].starts_with(&format!("serial port {} (in ", missing.display())),
        "{serial:?}"
    );

    // The clock is behind the newest stored value (a Pi without RTC).
    assert!(of(&findings, "clock", "fail").is_empty());
    let tomorrow = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 86_400_000;
    rusqlite::Connection::open(state.join("hearth.db"))
        .unwrap()
        .execute(
            "INSERT INTO history (device, pin, at, value) VALUES ('d', 'V1', ?1, '1')",
            [tomorrow],
        )
        .unwrap();
    let (_, findings) = doctor(&config, &state);
    let clock = of(&findings, "clock", "fail");
    assert_eq!(clock.len(), 1, "{findings:#?}");
    assert!(
        clock[0].contains("is behind the newest stored value"),
        "{clock:?}"
    );

    // The state directory is not writable.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o500)).unwrap();
    let (_, findings) = doctor(&config, &state);
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let unwritable = of(&findings, "state-dir", "fail");
    assert_eq!(
        unwritable,
        [format!(
            "{} is not writable by its owner (mode 0500): the hub cannot store anything",
            state.display()
        )]
    );
    drop(hub);

    // No hub: said so, and a port it needs is named as taken.
    let api_squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let api_port = api_squatter.local_addr().unwrap().port();
    std::fs::write(
        &config,
        TEST_CONFIG.replace(
            "listen = \"127.0.0.1:0\"\n\n[mdns]",
            &format!("listen = \"127.0.0.1:{api_port}\"\n\n[mdns]"),
        ),
    )
    .unwrap();
    let (code, findings) = doctor(&config, &state);
    assert_eq!(code, 1);
    assert_eq!(
        of(&findings, "hub", "fail"),
        [format!("no hub runs on {}", state.display())]
    );
    assert_eq!(
        of(&findings, "listeners", "fail"),
        [format!("port {api_port} (API) is taken by another program")]
    );
    drop(squatter);
}

#[test]
fn doctor_checks_mdns_on_each_interface_and_names_the_one_a_firewall_blocks() {
    let gateway = NetNs::new();
    let (wired, wifi) = (NetNs::new(), NetNs::new());
    let ((wired_if, wired_addr), _) = link(&gateway, &wired, 81);
    let ((wifi_if, wifi_addr), _) = link(&gateway, &wifi, 82);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = state.with_extension("toml");
    std::fs::write(
        &config,
        TEST_CONFIG.replace("[mdns]\nenabled = false", "[mdns]\nenabled = true"),
    )
    .unwrap();
    let hub = HubProcess::start_command(gateway.hearth(hearth_run(&config, &state)), &state);
    let instance = hub.runtime()["instance"].as_str().unwrap().to_owned();

    let (_, findings) = doctor_with(gateway.hearth(hearth()), &config, &state);
    assert!(problems(&findings).is_empty(), "{findings:#?}");
    assert!(of(&findings, "mdns", "warn").is_empty(), "{findings:#?}");
    let mut answered = of(&findings, "mdns", "ok");
    answered.sort_unstable();
    let mut want = [
        format!("{instance}.local answers on {wired_if} ({wired_addr}) with {wired_addr}"),
        format!("{instance}.local answers on {wifi_if} ({wifi_addr}) with {wifi_addr}"),
    ];
    want.sort_unstable();
    assert_eq!(answered, want, "{findings:#?}");

    // A firewall drops mDNS going out of the Wi-Fi link: only it is named.
    let rules = format!(
        "table inet hearth_test {{\n chain out {{\n  type filter hook output priority 0;\n  \
         oifname \"{wifi_if}\" udp dport 5353 drop\n }}\n}}\n"
    );
    let nft = gateway
        .command("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(rules.as_bytes())?;
            child.wait()
        })
        .expect("run nft (nftables)");
    assert!(nft.success(), "nft refused: {rules}");
    let (code, findings) = doctor_with(gateway.hearth(hearth()), &config, &state);
    assert_eq!(code, 2, "a warning, no failure: {findings:#?}");
    assert_eq!(
        of(&findings, "mdns", "ok"),
        [format!(
            "{instance}.local answers on {wired_if} ({wired_addr}) with {wired_addr}"
        )]
    );
    assert_eq!(
        of(&findings, "mdns", "warn"),
        [format!(
            "{instance}.local does not answer on {wifi_if} ({wifi_addr}) within 3s"
        )]
    );
    drop(hub);
}
