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
    assert!(stdout.contains("invite code inv_"), "{stdout}");
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
fn a_new_hub_is_set_up_and_an_invite_accepted_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let admin_home = tmp.path().join("admin");
    let kim_home = tmp.path().join("kim");
    let _hub = common::HubProcess::start(&state, common::TEST_CONFIG);

    let (ok, _, stderr) = hearth(
        &admin_home,
        &state,
        &[
            "setup",
            "--household",
            "Home",
            "--email",
            "admin@example.org",
            "--code",
            "00000-00000",
        ],
        PASSWORD,
    );
    assert!(!ok, "a wrong code sets nothing up");
    assert!(stderr.contains("setup code"), "{stderr}");
    // As root, the code comes from the state directory.
    let (ok, stdout, stderr) = hearth(
        &admin_home,
        &state,
        &[
            "setup",
            "--household",
            "Home",
            "--email",
            "admin@example.org",
        ],
        PASSWORD,
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("set up the household \"Home\" with admin@example.org as its admin"),
        "{stdout}"
    );
    assert!(stderr.contains("asking the hub at 127.0.0.1:"), "{stderr}");
    let (ok, _, stderr) = hearth(
        &admin_home,
        &state,
        &[
            "setup",
            "--household",
            "Other",
            "--email",
            "eve@example.org",
        ],
        PASSWORD,
    );
    assert!(!ok, "a hub is set up once");
    assert!(stderr.contains("already set up"), "{stderr}");

    let admin = |args: &[&str]| hearth(&admin_home, &state, args, PASSWORD);
    let (ok, _, stderr) = admin(&["device", "add", "Home", "Garage door"]);
    assert!(ok, "the setup saved the admin's login: {stderr}");
    let (ok, stdout, stderr) = admin(&["user", "invite", "kim@example.org", "Home"]);
    assert!(ok, "{stderr}");
    let code = stdout
        .lines()
        .find_map(|l| l.strip_prefix("invite code ")?.split_whitespace().next())
        .expect("an invite code")
        .to_owned();

    let kim = |args: &[&str]| hearth(&kim_home, &state, args, "kims-own-password");
    let (ok, _, stderr) = kim(&["invite", "accept"]);
    assert!(!ok && stderr.contains("HEARTH_INVITE_CODE"), "{stderr}");
    // From the environment, out of other users' sight in /proc/*/cmdline.
    let out = common::hearth()
        .env("XDG_CONFIG_HOME", &kim_home)
        .env("HEARTH_PASSWORD", "kims-own-password")
        .env("HEARTH_INVITE_CODE", &code)
        .arg("--state-dir")
        .arg(&state)
        .args(["invite", "accept", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let ok = out.status.success();
    assert!(ok, "{stderr}");
    let welcome: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(welcome["email"], "kim@example.org", "{stdout}");
    assert_eq!(welcome["logged_in"], true, "{stdout}");
    let (ok, stdout, stderr) = kim(&["device", "list"]);
    assert!(ok, "{stderr}");
    assert!(
        !stdout.contains("Garage door"),
        "a user sees only her own: {stdout}"
    );
    assert!(stderr.contains("as kim@example.org"), "{stderr}");
    let (ok, _, stderr) = admin(&["share", "add", "Garage door", "kim@example.org"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = kim(&["device", "list"]);
    assert!(
        ok && stdout.contains("Garage door"),
        "shared with her: {stdout}"
    );
    let (ok, _, _) = kim(&["invite", "accept", &code]);
    assert!(!ok, "an invite code is used once, also as an argument");
    let (ok, stdout, stderr) = kim(&["login", "--email", "kim@example.org"]);
    assert!(
        ok && stdout.contains("logged in as kim@example.org"),
        "{stderr}"
    );
    // For scripts: the login's outcome as JSON, the token file written anew.
    let (ok, _, stderr) = kim(&["logout"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = kim(&["login", "--email", "kim@example.org", "--json"]);
    assert!(ok, "{stderr}");
    let entered: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(entered["email"], "kim@example.org", "{entered}");
    assert_eq!(entered["logged_in"], true, "{entered}");
    let file = entered["token_file"].as_str().unwrap();
    assert!(
        file.starts_with(kim_home.to_str().unwrap()) && Path::new(file).is_file(),
        "{entered}"
    );
}

#[test]
fn a_template_is_defined_and_a_device_read_and_commanded_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = tmp.path().join("config");
    let h = household(&state);
    let run = |args: &[&str]| hearth(&config, &state, args, PASSWORD);
    assert!(run(&["login", "--email", "admin@example.org"]).0);

    // The README's full thermostat; a definition the API refuses says why.
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/examples/thermostat.json"
    );
    let (ok, stdout, stderr) = run(&["template", "add", "Home", "Thermostat", "--file", example]);
    assert!(ok && stdout.starts_with("template "), "{stderr}");
    let twice = tmp.path().join("twice.json");
    std::fs::write(
        &twice,
        r#"{ "datastreams": [ { "pin": 1, "name": "A", "type": "int", "min": 0, "max": 1 },
                              { "pin": 1, "name": "B", "type": "int", "min": 0, "max": 1 } ] }"#,
    )
    .unwrap();
    let (ok, _, stderr) = run(&[
        "template",
        "add",
        "Home",
        "Twice",
        "--file",
        twice.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("pin V1"), "{stderr}");
    let (ok, _, stderr) = run(&[
        "template",
        "add",
        "Home",
        "Bad",
        "--file",
        "/nonexistent.json",
    ]);
    assert!(!ok && stderr.contains("/nonexistent.json"), "{stderr}");
    let (ok, stdout, _) = run(&["template", "list"]);
    assert!(ok && stdout.contains("V2 Set point"), "{stdout}");

    let (ok, stdout, stderr) = run(&[
        "device",
        "add",
        "Home",
        "Hall thermostat",
        "--template",
        "thermo",
    ]);
    assert!(ok, "{stderr}");
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("auth token "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    for value in ["20.5", "21", "21.5"] {
        let sent = h.api.get(
            &format!("/external/api/update?token={token}&V1={value}"),
            None,
        );
        assert_eq!(sent.status, 200, "{}", sent.body);
    }
    let (ok, stdout, stderr) = run(&["device", "values", "Hall thermostat"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("offline"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("V1 ") && l.contains("21.5")),
        "{stdout}"
    );
    let (ok, stdout, stderr) = run(&["device", "history", "Hall th", "V1"]);
    assert!(ok, "{stderr}");
    let values: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("20"))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(values, ["20.5", "21", "21.5"], "{stdout}");
    assert!(stdout.contains("3 point(s) of V1"), "{stdout}");

    // A command to an offline device waits for it; out of range is refused.
    let (ok, stdout, stderr) = run(&["device", "set", "Hall thermostat", "V2", "22.5"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("queued"), "{stdout}");
    let (ok, _, stderr) = run(&["device", "set", "Hall thermostat", "V2", "99"]);
    assert!(!ok && stderr.contains("30"), "the range is named: {stderr}");

    // A new token: the old one stops.
    let (ok, stdout, stderr) = run(&["device", "token", "Hall thermostat"]);
    assert!(
        ok && stdout.contains("the old one no longer works"),
        "{stderr}"
    );
    let old = h
        .api
        .get(&format!("/external/api/update?token={token}&V1=1"), None);
    assert_eq!(old.status, 400, "{}", old.body);

    let (ok, _, stderr) = run(&["template", "delete", "Thermostat"]);
    assert!(
        !ok && stderr.contains("Hall thermostat"),
        "in use: {stderr}"
    );
    let (ok, _, stderr) = run(&["template", "edit", "Thermostat", "--file", example]);
    assert!(ok, "{stderr}");
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
        .find_map(|l| l.strip_prefix("invite code ")?.split_whitespace().next())
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

/// Names wherever ids go, as a new user types them: quoted names with
/// spaces, any case, the start of a name only one has; an ambiguous one
/// lists the choices, an unknown one says what to run.
#[test]
fn a_person_names_devices_organizations_templates_and_people_as_they_call_them() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = tmp.path().join("config");
    let h = household(&state);
    let run = |args: &[&str]| hearth(&config, &state, args, PASSWORD);
    let (ok, _, stderr) = run(&["login", "--email", "admin@example.org"]);
    assert!(ok, "{stderr}");

    let (ok, stdout, stderr) = run(&["org", "add", "Home", "Home Upstairs"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("id: "), "{stdout}");
    assert!(
        stderr.contains(&format!("asking the hub at 127.0.0.1:{}", h.hub.api_port()))
            && stderr.contains("as admin@example.org"),
        "says which hub answered: {stderr}"
    );
    let (ok, _, stderr) = run(&["device", "add", "home upstairs", "Hall thermostat"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["device", "add", "Home", "Hall light"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["user", "invite", "kim@example.org", "Home", "User"]);
    assert!(ok, "{stderr}");

    // "Hall" is the start of two devices' names: both are listed, with ids.
    let devices = h.api.get("/devices", Some(&h.admin)).body;
    let id_of = |name: &str| {
        devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (ok, _, stderr) = run(&["device", "rename", "Hall", "Hallway"]);
    assert!(!ok);
    assert!(
        stderr.contains("could be any of these")
            && stderr.contains(&id_of("Hall thermostat"))
            && stderr.contains(&id_of("Hall light"))
            && stderr.contains("Home / Home Upstairs"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["device", "rename", "Cellar", "Basement"]);
    assert!(!ok);
    assert!(
        stderr.contains("no device \"Cellar\"") && stderr.contains("hearth device list"),
        "{stderr}"
    );
    // The whole name, quoted, and the start of one only one has.
    let (ok, _, stderr) = run(&[
        "share",
        "add",
        "Hall thermostat",
        "kim@example.org",
        "--hours",
        "48",
    ]);
    assert!(ok, "{stderr}");
    // The shares, with whom and until when; who can reach it, and why.
    let (ok, stdout, stderr) = run(&["share", "list"]);
    assert!(ok, "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.contains("Hall thermostat"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        row.contains("kim@example.org") && row.contains("view") && row.contains("Z "),
        "{row}"
    );
    let (ok, stdout, _) = run(&["share", "list", "hall thermostat", "--json"]);
    assert!(ok);
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(rows[0]["expires"].as_i64().is_some(), "{rows}");
    let (ok, stdout, _) = run(&["share", "list", "Hall light"]);
    assert!(ok && stdout.trim() == "no shares", "{stdout}");
    let (ok, stdout, stderr) = run(&["share", "who", "Hall thermostat"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("kim@example.org (view)") && stdout.contains("shared to view until 20"),
        "{stdout}"
    );
    assert!(
        stdout.contains("admin@example.org (control)")
            && stdout.contains("owns it, as Admin in Home"),
        "{stdout}"
    );

    let (ok, _, stderr) = run(&["device", "rename", "hall l", "Hall lamp"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["device", "move", "Hall lamp", "Home Upstairs"]);
    assert!(ok, "{stderr}");

    // A template by name, attached to a device that exists; `none` again.
    let made = h.api.post(
        "/templates",
        Some(&h.admin),
        serde_json::json!({ "org": h.root, "name": "Thermostat", "definition": {
            "datastreams": [{ "pin": 1, "name": "Temperature", "type": "double", "min": 5, "max": 30 }],
            "events": [],
        }}),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let (ok, _, stderr) = run(&["device", "template", "Hall thermostat", "thermostat"]);
    assert!(ok, "{stderr}");
    let thermostat = id_of("Hall thermostat");
    let detail = h
        .api
        .get(&format!("/devices/{thermostat}"), Some(&h.admin))
        .body;
    assert_eq!(detail["template"]["name"], "Thermostat", "{detail}");
    let (ok, stdout, _) = run(&["template", "list"]);
    assert!(
        ok && stdout.contains("Thermostat") && stdout.contains("V1 Temperature"),
        "{stdout}"
    );
    let (ok, _, stderr) = run(&["device", "template", "Hall thermostat", "none"]);
    assert!(ok, "{stderr}");
    let detail = h
        .api
        .get(&format!("/devices/{thermostat}"), Some(&h.admin))
        .body;
    assert!(detail["template"].is_null(), "{detail}");

    // A person by email, a role by name; the roles listed.
    let (ok, stdout, _) = run(&["role", "list"]);
    assert!(
        ok && stdout.contains("Staff") && stdout.contains("view_org_devices"),
        "{stdout}"
    );
    let (ok, _, stderr) = run(&["user", "role", "kim@example.org", "staff"]);
    assert!(ok, "{stderr}");
    let members = h.api.get("/members", Some(&h.admin)).body;
    let kim = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "kim@example.org")
        .unwrap();
    assert_eq!(kim["role"], "staff", "{members}");

    // The audit in names and UTC times, not ids and epoch milliseconds.
    let (ok, stdout, stderr) = run(&["audit"]);
    assert!(ok, "{stderr}");
    let shared = stdout
        .lines()
        .find(|l| l.contains(" share ") && l.contains("Hall thermostat"))
        .unwrap_or_else(|| panic!("the share, by name: {stdout}"));
    assert!(
        shared.contains("admin@example.org") && shared.contains("took effect"),
        "{shared}"
    );
    let year = &shared[..5];
    assert!(year.starts_with("20") && year.ends_with('-'), "{shared}");
    assert!(
        !stdout.contains(&thermostat),
        "no ids where names are known: {stdout}"
    );

    // A role of their own: defined, edited and given by name, refused
    // deletion while held, deleted once nobody holds it.
    let lodger_role = |h: &api::Household| {
        let roles = h.api.get("/roles", Some(&h.admin)).body;
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "Lodger")
            .cloned()
    };
    let (ok, stdout, stderr) = run(&[
        "role",
        "add",
        "Home",
        "Lodger",
        "view_own_devices,control_own_devices",
    ]);
    assert!(ok && stdout.starts_with("role "), "{stdout}{stderr}");
    let (ok, _, stderr) = run(&["role", "add", "Home", "Pilot", "fly"]);
    assert!(
        !ok && stderr.contains("unknown permission \"fly\""),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["role", "edit", "Lodger", "view_own_devices"]);
    assert!(ok, "{stderr}");
    let lodger = lodger_role(&h).expect("the role is defined");
    assert_eq!(
        lodger["permissions"],
        serde_json::json!(["view_own_devices"]),
        "{lodger}"
    );
    let (ok, _, stderr) = run(&["user", "role", "kim@example.org", "Lodger"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["role", "delete", "Lodger"]);
    assert!(
        !ok && stderr.contains("still held by kim@example.org"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["user", "role", "kim@example.org", "staff"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["role", "delete", "Lodger"]);
    assert!(ok, "{stderr}");
    assert!(lodger_role(&h).is_none(), "the role is gone");
}
