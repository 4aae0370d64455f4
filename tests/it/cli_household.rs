//! The household commands of the `hearth` binary against a real hub:
//! `login` (token saved in the user's config directory), `device`, `user`,
//! `audit`, human output and `--json`, `logout`.

use crate::{api, common};
use std::path::Path;

use api::{PASSWORD, household};

/// Runs `hearth ARGS` with its own config directory; (success, stdout, stderr).
fn hearth(
    config_home: &Path,
    state: &Path,
    args: &[&str],
    password: &str,
) -> (bool, String, String) {
    let out = common::hearth()
        .env("XDG_CONFIG_HOME", config_home)
        .env("HEARTH_PASSWORD", password)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_member_works_the_household_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = tmp.path().join("config");
    let h = household(&state);
    let run = |args: &[&str]| hearth(&config, &state, args, PASSWORD);

    let (ok, _, stderr) = run(&["device", "list"]);
    assert!(!ok && stderr.contains("not logged in"), "{stderr}");
    let (ok, _, stderr) = hearth(
        &config,
        &state,
        &["login", "--email", "admin@example.org"],
        "nope",
    );
    assert!(
        !ok && stderr.contains("wrong email or password"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = run(&["login", "--email", "admin@example.org"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("logged in as admin@example.org"),
        "{stdout}"
    );
    let saved = config.join("hearth/login.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&saved).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the token is private");

    let (ok, stdout, stderr) = run(&["device", "add", &h.root, "Garage door"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("device "), "{stdout}");
    assert!(
        stdout.contains("auth token "),
        "shown once, at once: {stdout}"
    );
    let (ok, stdout, _) = run(&["device", "list"]);
    assert!(ok);
    assert!(
        stdout.contains("Garage door") && stdout.contains("Home"),
        "{stdout}"
    );
    let (ok, stdout, _) = run(&["device", "list", "--json"]);
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list[0]["name"], "Garage door");

    let (ok, stdout, stderr) = run(&["user", "invite", "spouse@example.org", &h.root]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("invite_code: inv_"), "{stdout}");
    let (ok, _, stderr) = run(&[
        "device",
        "transfer",
        list[0]["id"].as_str().unwrap(),
        "stranger@example.org",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("invite them first"),
        "the hub's own words: {stderr}"
    );
    let (ok, stdout, _) = run(&["audit", "--json"]);
    assert!(ok);
    assert!(stdout.contains("add_device"), "{stdout}");

    let (ok, _, _) = run(&["logout"]);
    assert!(ok);
    assert!(!saved.exists());
    let (ok, _, stderr) = run(&["device", "list"]);
    assert!(!ok && stderr.contains("not logged in"), "{stderr}");
}

#[test]
fn the_console_recovers_a_household_whose_admin_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = tmp.path().join("config");
    let h = household(&state);
    h.device(&h.root, "Garage door");
    // Nobody is logged in on this machine: the console needs no login.
    let console = |args: &[&str]| {
        let mut all = vec!["--console"];
        all.extend_from_slice(args);
        hearth(&config, &state, &all, "")
    };
    let (ok, stdout, stderr) = console(&["device", "list"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("Garage door") && stdout.contains("Home"),
        "{stdout}"
    );
    let (ok, stdout, stderr) =
        console(&["user", "invite", "new-admin@example.org", &h.root, "admin"]);
    assert!(ok, "{stderr}");
    let code = stdout
        .lines()
        .find_map(|l| l.strip_prefix("invite_code: "))
        .expect("an invite code")
        .to_owned();
    let accepted = h.api.post(
        "/invites/accept",
        None,
        serde_json::json!({ "code": code, "password": PASSWORD }),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let token = accepted.body["token"].as_str().unwrap();
    let me = h.api.get("/me", Some(token));
    assert_eq!(me.body["memberships"][0]["role_name"], "Admin");

    // Only root and the hub's own user reach the socket.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(state.join("admin.sock"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    if std::process::Command::new("setpriv")
        .arg("--help")
        .output()
        .is_ok()
        && nix_euid_is_root()
    {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_hearth"))
            .args(["--console", "--state-dir"])
            .arg(&state)
            .args(["device", "list"])
            .env("XDG_CONFIG_HOME", &config)
            .output()
            .unwrap();
        assert!(!out.status.success(), "nobody must not reach the console");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("ermission denied"), "{stderr}");
    }
}

fn nix_euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
