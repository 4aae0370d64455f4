//! The household app in a real browser: Debian's Chromium, headless,
//! driven by playwright-core (`tests/support/household_app.mjs`) against
//! the real hub over TLS. The script reports what it saw; this test
//! asserts it: the first-run wizard ends logged in; the session is an
//! `HttpOnly`, `Secure`, `SameSite=Strict` cookie the page cannot read; a
//! page of another origin posting with that cookie is refused; an injected
//! inline script does not run; a device name made of HTML shows as text;
//! a real Blynk device going online and offline shows on the open page
//! without a reload; an invited person opens their link in another browser and sees only
//! what they were given; logging out and in again works; axe-core finds no
//! serious or critical violation on any page. Screenshots of every page at
//! phone and desktop size are left in `target/tmp/household_app/`. Over
//! plain HTTP the cookie goes without `Secure`, and the service worker
//! opens the app with the hub out of reach.

use std::process::Command;

use serde_json::Value;

use crate::{api, common};

pub(crate) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Asserts axe-core found nothing serious on any page the script looked at.
pub(crate) fn assert_axe_clean(facts: &Value) {
    let looked = facts["axe"]
        .as_object()
        .unwrap_or_else(|| panic!("no axe: {facts}"));
    assert!(!looked.is_empty(), "no page looked at: {facts}");
    for (page, found) in looked {
        assert_eq!(found, &serde_json::json!([]), "axe-core on {page}");
    }
}

/// Runs `script` with `args` under a time limit; the facts it printed.
pub(crate) fn facts_of(hub: &common::HubProcess, script: &str, args: &[String]) -> Value {
    facts_with_home(hub, script, args, None)
}

/// [`facts_of`] with `HOME` (where Chromium finds its certificate store) set.
fn facts_with_home(
    hub: &common::HubProcess,
    script: &str,
    args: &[String],
    home: Option<&std::path::Path>,
) -> Value {
    let mut command = Command::new("timeout");
    command
        .arg("180")
        .arg("node")
        .arg(common::support(script))
        .args(args);
    if let Some(home) = home {
        command.env("HOME", home);
    }
    let run = command.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{script} failed ({}):\n{}\n{stdout}\nhub:\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr),
        hub.stderr()
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no facts ({e}):\n{stdout}"))
}

/// Runs `script` with `args` under a time limit, answering what it asks
/// on the way: a line `{"ask": {…}}` is given to `answer`, and the script
/// told `done` once it returns. The facts it printed last.
pub(crate) fn converse(script: &str, args: &[String], mut answer: impl FnMut(&Value)) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let mut node = Command::new("timeout")
        .arg("180")
        .arg("node")
        .arg(common::support(script))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut to_script = node.stdin.take().unwrap();
    let mut said = Vec::new();
    for line in BufReader::new(node.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        match serde_json::from_str::<Value>(&line) {
            Ok(asked) if asked.get("ask").is_some() => {
                answer(&asked["ask"]);
                writeln!(to_script, "done").unwrap();
            }
            _ => said.push(line),
        }
    }
    let status = node.wait().unwrap();
    assert!(status.success(), "{script} failed ({status}): {said:?}");
    serde_json::from_str(said.last().map_or("", String::as_str))
        .unwrap_or_else(|e| panic!("no facts from {script} ({e}): {said:?}"))
}

/// The test configuration with the API on plain HTTP (`api.tls = false`):
/// at `http://localhost` the page is still a secure context.
pub(crate) fn plain_http_config() -> String {
    common::TEST_CONFIG.replace("[api]\n", "[api]\ntls = false\n")
}

pub(crate) fn output_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("household_app")
}

#[test]
fn a_household_sets_up_invites_and_logs_in_through_the_app_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hub = common::HubProcess::start(&state, common::TEST_CONFIG);
    let code = api::setup_code(&state);
    let base = format!("https://127.0.0.1:{}", hub.api_port());
    // The other origin's page is served with a certificate of its own.
    let attacker = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(tmp.path().join("cert.pem"), attacker.cert.pem()).unwrap();
    std::fs::write(
        tmp.path().join("key.pem"),
        attacker.signing_key.serialize_pem(),
    )
    .unwrap();
    let facts = facts_of(
        &hub,
        "household_app.mjs",
        &[
            base,
            code,
            tmp.path().display().to_string(),
            output_dir().display().to_string(),
            hub.blynk_port().to_string(),
        ],
    );

    // First run: the wizard, then the person's devices, logged in.
    assert_eq!(facts["first_heading"], "Set up your hub");
    assert_eq!(facts["after_wizard"], "Your devices");

    // The session is a cookie the page cannot read; nothing in storage.
    let cookies = facts["cookies"].as_array().unwrap();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert_eq!(cookie["name"], "__Host-hearth_session");
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["secure"], true);
    assert_eq!(cookie["sameSite"], "Strict");
    assert_eq!(cookie["path"], "/");
    assert_eq!(
        facts["document_cookie"], "",
        "the page cannot read the session"
    );
    assert_eq!(facts["local_storage"], serde_json::json!([]));
    assert_eq!(
        facts["bearer_login"]["has_token"], true,
        "bearer clients keep working"
    );
    for status in facts["setup_calls"].as_array().unwrap() {
        assert!(status.as_u64().unwrap() < 300, "{}", facts["setup_calls"]);
    }

    // The thermostat's page: controls from its template, a value written by
    // the real device shown live, a switch that reaches the device and waits
    // for its confirmation.
    assert_eq!(facts["template_calls"], serde_json::json!([201, 201]));
    assert_eq!(
        facts["thermostat_controls"],
        serde_json::json!(["switch", "input", "radiogroup"]),
        "a 0..1 int is a switch, a double a slider, an enum a segmented control"
    );
    assert_eq!(facts["temperature_shown"], "21.5");
    assert_eq!(facts["temperature_step"], "0.5", "the datastream's step");
    assert_eq!(facts["device_received"], serde_json::json!(["1"]));
    assert_eq!(facts["pending_shown"], true);
    assert_eq!(facts["switch_after_confirm"], "true");
    assert_eq!(
        facts["slider_received"],
        serde_json::json!(["22"]),
        "one 0.5 step up from 21.5 reached the device"
    );
    assert_eq!(facts["slider_after_confirm"], "22");
    assert_eq!(facts["chart_canvases"], 1, "the hour's history is drawn");
    let csv = facts["csv"].as_str().unwrap();
    assert!(
        csv.starts_with("time,value\n") && csv.contains(",\"21.5\"\n") && csv.contains(",\"22\"\n"),
        "{csv}"
    );
    let timeline = facts["timeline"].as_str().unwrap();
    assert!(
        timeline.contains("Overheating") && timeline.contains("Too hot in the attic"),
        "{timeline}"
    );
    assert!(
        facts["offline_notice"]
            .as_str()
            .unwrap()
            .contains("offline"),
        "{}",
        facts["offline_notice"]
    );

    // Names are text, never markup; inline script never runs.
    let names = strings(&facts["admin_devices"]);
    assert!(names.contains(&"Garage door".to_owned()), "{names:?}");
    assert!(names.contains(&"Beer machine".to_owned()), "{names:?}");
    assert!(
        names.contains(&"<img src=x onerror=\"window.__xss=1\">Attic <b>fan</b>".to_owned()),
        "the HTML name shows as typed: {names:?}"
    );
    assert_eq!(facts["injected_images"], 0);

    // A real Blynk device going online and offline shows on the open page.
    assert_eq!(facts["garage_before"], "Offline");
    assert_eq!(facts["garage_online"], "Online");
    assert!(
        facts["garage_offline"]
            .as_str()
            .unwrap()
            .starts_with("Offline, last seen"),
        "{}",
        facts["garage_offline"]
    );
    assert_eq!(facts["xss_ran"], false);
    assert_eq!(
        facts["inline_script_ran"], false,
        "CSP blocks inline script"
    );
    assert_eq!(facts["csp_violation_seen"], true);

    // Another origin's page posted a logout with the cookie: refused.
    let refusal: Value = serde_json::from_str(facts["attacker_answer"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {}", facts["attacker_answer"]));
    assert_eq!(
        refusal["code"], "cross_origin",
        "the hub saw the cookie and refused"
    );
    assert_eq!(facts["me_after_attack"], 200, "the session survived");

    // The invited person lands on their devices: only the two shared with
    // them (never the beer machine or the attic fan), both view-only.
    assert_eq!(facts["invite_heading"], "Welcome to the household");
    assert_eq!(facts["spouse_url"], "/", "the code leaves the address bar");
    let theirs = strings(&facts["spouse_devices"]);
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    assert!(theirs[0].starts_with("Garage door"), "{theirs:?}");
    assert!(theirs[1].starts_with("Thermostat"), "{theirs:?}");
    assert!(
        theirs.iter().all(|d| d.contains("You can view it")),
        "{theirs:?}"
    );

    // Shared for viewing: readings, no enabled control, and why.
    assert_eq!(facts["spouse_enabled_controls"], 0);
    let readings = strings(&facts["spouse_readings"]);
    assert!(readings.contains(&"22 °C".to_owned()), "{readings:?}");
    assert_eq!(
        facts["spouse_reason"],
        "You can see this device but not control it: Thermostat is shared with you to view only; ask its owner to share it for control.",
        "the hub's reason, in its words"
    );

    // The list's filters.
    assert_eq!(facts["by_template"], serde_json::json!(["Thermostat"]));
    assert_eq!(
        facts["online_now"],
        serde_json::json!([]),
        "both devices have gone"
    );
    assert_eq!(facts["by_name"], serde_json::json!(["Beer machine"]));

    // Account page, logging out (the cookie goes), a refusal in words, in again.
    assert!(facts["sessions_listed"].as_u64().unwrap() >= 1);
    let this = strings(&facts["this_session"]);
    assert_eq!(this.len(), 1, "one session is this browser's: {this:?}");
    assert!(this[0].contains("this browser"), "{this:?}");
    assert_eq!(facts["cookies_after_logout"], serde_json::json!([]));
    assert_eq!(facts["wrong_password"], "wrong email or password");
    assert_eq!(facts["after_login"], "Your devices");

    for (page, found) in facts["axe"].as_object().unwrap() {
        assert_eq!(found, &serde_json::json!([]), "axe-core on {page}");
    }
    let shots = strings(&facts["screenshots"]);
    assert!(shots.len() >= 10, "{shots:?}");
    for shot in shots {
        assert!(std::fs::metadata(&shot).unwrap().len() > 1000, "{shot}");
    }
}

#[test]
fn over_plain_http_the_cookie_is_not_secure_and_the_app_opens_without_the_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = plain_http_config();
    let hub = common::HubProcess::start(&state, &config);
    let code = api::setup_code(&state);
    // localhost: a secure context for the service worker without TLS.
    let base = format!("http://localhost:{}", hub.api_port());
    let facts = facts_of(
        &hub,
        "household_app_offline.mjs",
        &[base.clone(), code, output_dir().display().to_string()],
    );
    assert_eq!(facts["worker"], format!("{base}/sw.js"));
    let cookies = facts["cookies"].as_array().unwrap();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert_eq!(cookies[0]["name"], "hearth_session");
    assert_eq!(cookies[0]["httpOnly"], true);
    assert_eq!(
        cookies[0]["secure"], false,
        "plain HTTP could not keep a Secure cookie"
    );
    assert_eq!(cookies[0]["sameSite"], "Strict");
    // Offline: the shell came from the worker, the API did not.
    assert_eq!(facts["offline_title"], "Hearth");
    assert_eq!(
        facts["offline_problem"],
        "The hub cannot be reached. Check that you are on its network."
    );
    assert_eq!(facts["api_offline"], "failed", "no API answer is ever kept");
    assert_eq!(facts["back_online"], "Your devices");
    assert_eq!(facts["axe"]["offline"], serde_json::json!([]));
}

/// A home whose NSS store (what Chromium on Linux trusts beyond its own
/// roots) holds `authority`, or nothing when it is `None`.
fn home_trusting(dir: &std::path::Path, authority: Option<&std::path::Path>) -> std::path::PathBuf {
    let db = dir.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let store = format!("sql:{}", db.display());
    let made = Command::new("certutil")
        .args(["-N", "--empty-password", "-d", &store])
        .output()
        .expect("certutil (libnss3-tools) runs");
    assert!(made.status.success(), "{made:?}");
    if let Some(authority) = authority {
        let added = Command::new("certutil")
            .args(["-A", "-t", "C,,", "-n", "Hearth hub", "-d", &store, "-i"])
            .arg(authority)
            .output()
            .unwrap();
        assert!(added.status.success(), "{added:?}");
    }
    dir.to_owned()
}

/// The trust page's promise: with the hub's authority trusted once,
/// `https://<instance>.local:<port>/` opens with no certificate warning
/// (errors are not ignored here), is a secure context and registers the
/// service worker; the page's fingerprint is the authority's, and its
/// download is the authority. Without the authority the same browser
/// refuses the page (so the trust is what made the difference).
#[test]
fn with_the_hubs_authority_trusted_chromium_opens_the_hub_by_its_local_name() {
    use hearth::api::tls::authority::{Authority, CA_CERT_FILE};
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = format!("[hub]\nname = \"hearth-trust\"\n\n{}", common::TEST_CONFIG);
    let hub = common::HubProcess::start(&state, &config);
    let name = "hearth-trust.local";
    let url = format!("https://{name}:{}/trust", hub.api_port());
    let authority = Authority::load_or_create(&state).unwrap();
    let args = [
        url.clone(),
        output_dir().display().to_string(),
        name.to_owned(),
    ];

    let untrusted = home_trusting(&tmp.path().join("untrusted"), None);
    let facts = facts_with_home(&hub, "household_app_trust.mjs", &args, Some(&untrusted));
    let refused = facts["refused"].as_str().unwrap_or_default();
    assert!(
        refused.contains("ERR_CERT_AUTHORITY_INVALID"),
        "without the authority the page is refused: {facts}"
    );

    let trusted = home_trusting(&tmp.path().join("trusted"), Some(&state.join(CA_CERT_FILE)));
    let facts = facts_with_home(&hub, "household_app_trust.mjs", &args, Some(&trusted));
    assert_eq!(facts["opened"], 200, "{facts}");
    assert_eq!(facts["secure_context"], true);
    assert_eq!(
        facts["worker"],
        format!("https://{name}:{}/sw.js", hub.api_port())
    );
    assert_eq!(
        facts["trusted_notice"],
        "This browser trusts the hub: the connection is encrypted and it is the hub."
    );
    assert_eq!(facts["fingerprint"], authority.fingerprint());
    assert_eq!(
        facts["download_name"],
        format!("hearth-hub-ca-{}.crt", &authority.fingerprint()[..8])
    );
    assert_eq!(facts["download_bytes"], authority.der().len());
    assert_eq!(
        strings(&facts["platforms"]),
        [
            "Android",
            "iPhone and iPad",
            "Mac",
            "Windows",
            "Linux: Chromium and Chrome",
            "Firefox (every system)"
        ]
    );
    assert_eq!(facts["axe"]["trust"], serde_json::json!([]));
}

/// The connection-lost banner and the resync: a page open on the device
/// list while the hub is killed (kill -9, so it tells no one its devices
/// are gone) shows the banner and keeps the last state it knew; when the
/// hub is back on the same port the banner goes and the device shows
/// offline, which only the new hub's full state can say.
#[test]
fn the_app_says_when_the_hub_is_lost_and_resyncs_when_it_is_back() {
    use std::io::{BufRead, Write};
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = plain_http_config();
    let mut hub = common::HubProcess::start(&state, &config);
    let port = hub.api_port();
    let code = api::setup_code(&state);
    let mut script = Command::new("timeout")
        .arg("180")
        .arg("node")
        .arg(common::support("household_app_reconnect.mjs"))
        .args([
            format!("http://localhost:{port}"),
            code,
            hub.blynk_port().to_string(),
            output_dir().display().to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut tell = script.stdin.take().unwrap();
    let mut last = String::new();
    let again = config.replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
        1,
    );
    assert_ne!(again, config, "the restarted hub listens on the same port");
    for line in std::io::BufReader::new(script.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        match line.as_str() {
            "kill-hub" => {
                hub.signal("KILL");
                hub.wait_exit(common::TIMEOUT);
                writeln!(tell, "killed").unwrap();
            }
            "start-hub" => {
                hub = common::HubProcess::start(&state, &again);
                writeln!(tell, "started").unwrap();
            }
            _ => last = line,
        }
    }
    let status = script.wait().unwrap();
    assert!(
        status.success(),
        "the script failed ({status}): {last}\nhub:\n{}",
        hub.stderr()
    );
    let facts: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"));
    assert_eq!(facts["before"], "Online");
    assert_eq!(
        facts["banner"],
        "Connection to the hub lost. Reconnecting… What you see may be out of date."
    );
    assert_eq!(
        facts["while_lost"], "Online",
        "the last state known, under the banner"
    );
    assert!(
        facts["after"].as_str().unwrap().starts_with("Offline"),
        "resynced from the new hub: {facts}"
    );
    assert_eq!(facts["axe"]["connection-lost"], serde_json::json!([]));
}

/// A long list is windowed: with 300 devices only the rows on screen (and
/// a few either side) are in the page, each saying its place in the whole;
/// scrolled to the end, the last device is there; search finds one that
/// was not in the page.
#[test]
fn a_long_device_list_is_windowed_and_still_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = plain_http_config();
    let hub = common::HubProcess::start(&state, &config);
    let code = api::setup_code(&state);
    let facts = facts_of(
        &hub,
        "household_app_long_list.mjs",
        &[
            format!("http://localhost:{}", hub.api_port()),
            code,
            output_dir().display().to_string(),
        ],
    );
    assert_eq!(facts["created"], 300);
    assert_eq!(facts["label"], "Devices (300)");
    let places = |rows: &Value| -> Vec<(u64, u64, String)> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["at"].as_u64().unwrap(),
                    r["of"].as_u64().unwrap(),
                    r["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let top = places(&facts["top"]);
    assert!(top.len() < 60, "only what is on screen: {} rows", top.len());
    assert_eq!(top[0], (1, 300, "Sensor 001".to_owned()));
    assert!(top.iter().all(|(_, of, _)| *of == 300));
    let bottom = places(&facts["bottom"]);
    assert!(bottom.len() < 60, "{} rows", bottom.len());
    assert_eq!(bottom.last().unwrap(), &(300, 300, "Sensor 300".to_owned()));
    assert!(
        bottom.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "consecutive rows: {bottom:?}"
    );
    assert_eq!(places(&facts["found"]), [(1, 1, "Sensor 250".to_owned())]);
    assert_eq!(facts["axe"]["long-list-end"], serde_json::json!([]));
}
