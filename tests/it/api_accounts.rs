//! Onboarding, login and sessions over HTTPS against a real hub process:
//! the setup code works once, only health, setup and login answer without a
//! token, brute-force logins are throttled, and sessions and passwords
//! survive a restart.

use crate::{api, common};
use api::{Api, Household, PASSWORD, household, setup_code};
use common::{HubProcess, TEST_CONFIG, hearth_output};
use serde_json::json;

#[test]
fn the_setup_code_founds_the_household_once_and_its_admin_is_logged_in() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let hub = HubProcess::start(&state, TEST_CONFIG);
    let api = Api::new(hub.api_port(), &hub.fingerprint());
    let code = setup_code(&state);
    assert_eq!(code.len(), 11, "{code}");
    // The same for scripts, with when it expires.
    let (status, stdout, stderr) = hearth_output(&[
        "--state-dir",
        state.to_str().unwrap(),
        "setup-code",
        "--json",
    ]);
    assert!(status.success(), "{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(listed["code"], code.as_str(), "{listed}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires = listed["expires"].as_i64().unwrap();
    assert!(
        expires > now && expires <= now + 2 * 86_400,
        "in seconds, within two days: {listed}"
    );

    let body = |code: &str| json!({ "code": code, "household": "Home", "email": "admin@example.org", "password": PASSWORD });
    let wrong = api.post("/setup", None, body("00000-00000"));
    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.body["code"], "bad_setup_code");
    assert!(
        wrong.body["message"]
            .as_str()
            .unwrap()
            .contains("hearth setup-code")
    );
    let short = api.post(
        "/setup",
        None,
        json!({ "code": code, "household": "Home", "email": "admin@example.org", "password": "short" }),
    );
    assert_eq!(short.status, 400, "{}", short.body);
    assert!(
        short.body["message"]
            .as_str()
            .unwrap()
            .contains("at least 8")
    );

    let done = api.post("/setup", None, body(&code.to_lowercase()));
    assert_eq!(done.status, 201, "{}", done.body);
    let token = done.body["token"].as_str().unwrap();
    assert!(token.starts_with("hth_"));

    let again = api.post("/setup", None, body(&code));
    assert_eq!(again.status, 409, "the code works once");
    assert_eq!(again.body["code"], "already_set_up");
    let (status, _, stderr) =
        hearth_output(&["--state-dir", state.to_str().unwrap(), "setup-code"]);
    assert!(!status.success(), "no code once set up: {stderr}");

    let me = api.get("/me", Some(token));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["email"], "admin@example.org");
    assert_eq!(me.body["memberships"][0]["org_name"], "Home");
    assert_eq!(me.body["memberships"][0]["role_name"], "Admin");
    let devices = api.get("/devices", Some(token));
    assert_eq!(devices.status, 200);
    assert_eq!(devices.body, json!([]));
}

#[test]
fn only_health_setup_and_login_answer_without_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let s = household(&tmp.path().join("state"));
    assert_eq!(s.api.get("/health", None).status, 200);
    for (method, path) in [
        ("GET", "/me"),
        ("GET", "/devices"),
        ("GET", "/sessions"),
        ("POST", "/logout"),
    ] {
        for token in [None, Some("hth_0000"), Some("not-a-token")] {
            let reply = s.api.call(method, path, token, None);
            assert_eq!(reply.status, 401, "{method} {path} with {token:?}");
            assert_eq!(reply.body["code"], "unauthorized");
            assert_eq!(reply.headers["www-authenticate"], "Bearer");
        }
    }
    let malformed = s
        .api
        .call("POST", "/login", None, Some(json!({ "email": 5 })));
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.body["code"], "invalid");
}

#[test]
fn login_logout_and_brute_force_throttling() {
    let tmp = tempfile::tempdir().unwrap();
    let s = household(&tmp.path().join("state"));
    let login = |password: &str| {
        s.api.post(
            "/login",
            None,
            json!({ "email": " ADMIN@example.org", "password": password, "label": "test" }),
        )
    };
    let ok = login(PASSWORD);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let second = ok.body["token"].as_str().unwrap().to_owned();
    assert_ne!(second, s.admin);
    let sessions = s.api.get("/sessions", Some(&second));
    assert_eq!(
        sessions.body.as_array().unwrap().len(),
        2,
        "{}",
        sessions.body
    );
    // The list marks the session that asked, and only that one.
    let current = |token: &str| -> Vec<String> {
        let list = s.api.get("/sessions", Some(token)).body;
        list.as_array()
            .unwrap()
            .iter()
            .filter(|x| x["current"] == true)
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (by_second, by_first) = (current(&second), current(&s.admin));
    assert_eq!(by_second.len(), 1, "{}", sessions.body);
    assert_eq!(by_first.len(), 1, "{}", sessions.body);
    assert_ne!(
        by_second, by_first,
        "each token sees its own session marked"
    );

    let logout = s.api.call("POST", "/logout", Some(&second), None);
    assert_eq!(logout.status, 204);
    assert_eq!(
        s.api.get("/me", Some(&second)).status,
        401,
        "a revoked token stops"
    );
    assert_eq!(
        s.api.get("/me", Some(&s.admin)).status,
        200,
        "other sessions stay"
    );

    let unknown = s.api.post(
        "/login",
        None,
        json!({ "email": "nobody@example.org", "password": PASSWORD }),
    );
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body["code"], "invalid_credentials");
    for _ in 0..5 {
        let wrong = login("wrong password");
        assert_eq!(wrong.status, 401, "{}", wrong.body);
        assert_eq!(wrong.body["message"], "wrong email or password");
    }
    let throttled = login(PASSWORD);
    assert_eq!(throttled.status, 429, "even the right password waits now");
    assert_eq!(throttled.body["code"], "throttled");
    let wait: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 15 * 60, "{wait}");
}

#[test]
fn sessions_and_passwords_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let Household {
        mut hub,
        admin: token,
        ..
    } = household(&state);
    let (status, _) = hub.terminate();
    assert!(status.success());

    let hub = HubProcess::start(&state, TEST_CONFIG);
    let api = Api::new(hub.api_port(), &hub.fingerprint());
    assert_eq!(
        api.get("/me", Some(&token)).status,
        200,
        "the session is durable"
    );
    let login = api.post(
        "/login",
        None,
        json!({ "email": "admin@example.org", "password": PASSWORD }),
    );
    assert_eq!(
        login.status, 200,
        "the password hash is in the household's credentials"
    );
    let _ = hub;
}

#[test]
fn passwords_are_changed_by_their_owner_and_reset_only_by_who_manages_all_their_orgs() {
    let tmp = tempfile::tempdir().unwrap();
    let h = household(&tmp.path().join("state"));
    let family = h.api.post(
        "/orgs",
        Some(&h.admin),
        json!({ "parent": h.root, "name": "Family" }),
    );
    let family = family.body["id"].as_str().unwrap().to_owned();
    // The kid administers Family only; the spouse belongs to Home and Family.
    let (kid, _) = h.member("kid@example.org", &family, "admin");
    let (spouse, _) = h.member("spouse@example.org", &h.root, "user");
    let again = h.api.post(
        "/members",
        Some(&h.admin),
        json!({ "email": "spouse@example.org", "org": family, "role": "user" }),
    );
    assert_eq!(again.status, 201);
    let id_of = |token: &str| {
        h.api.get("/me", Some(token)).body["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (admin_id, spouse_id) = (id_of(&h.admin), id_of(&spouse));
    // Who administers the hubs: every permission in the root, not in a
    // sub-organization (the app offers Hubs by this).
    let hub_admin = |token: &str| h.api.get("/me", Some(token)).body["hub_admin"].clone();
    assert_eq!(hub_admin(&h.admin), true);
    assert_eq!(hub_admin(&kid), false, "Family's admin is no hub admin");
    assert_eq!(hub_admin(&spouse), false);

    let reset = |token: &str, user: &str| {
        h.api.call(
            "POST",
            &format!("/users/{user}/password-reset"),
            Some(token),
            None,
        )
    };
    assert_eq!(
        reset(&kid, &admin_id).status,
        404,
        "the root admin is beyond the kid's view"
    );
    let denied = reset(&kid, &spouse_id);
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert_eq!(denied.body["permission"], "manage_users");
    let granted = reset(&h.admin, &spouse_id);
    assert_eq!(granted.status, 201, "{}", granted.body);
    let code = granted.body["reset_code"].as_str().unwrap();
    let accepted = h.api.post(
        "/invites/accept",
        None,
        json!({ "code": code, "password": "a brand new one" }),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(
        h.api.get("/me", Some(&spouse)).status,
        401,
        "a reset ends old logins"
    );
    let reused = h.api.post(
        "/invites/accept",
        None,
        json!({ "code": code, "password": "and another one" }),
    );
    assert_eq!(reused.status, 401, "a code works once");

    // Changing one's own password: the current one is checked, other
    // sessions end, this one stays.
    let other = h.api.post(
        "/login",
        None,
        json!({ "email": "admin@example.org", "password": PASSWORD }),
    );
    let other = other.body["token"].as_str().unwrap().to_owned();
    let wrong = h.api.post(
        "/me/password",
        Some(&h.admin),
        json!({ "current": "not it", "new": "the next password" }),
    );
    assert_eq!(wrong.status, 401);
    let changed = h.api.post(
        "/me/password",
        Some(&h.admin),
        json!({ "current": PASSWORD, "new": "the next password" }),
    );
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_eq!(h.api.get("/me", Some(&other)).status, 401);
    assert_eq!(h.api.get("/me", Some(&h.admin)).status, 200);
    let relogin = h.api.post(
        "/login",
        None,
        json!({ "email": "admin@example.org", "password": "the next password" }),
    );
    assert_eq!(relogin.status, 200);

    // Ending someone else's session is not a thing one can even name.
    let kid_sessions = h.api.get("/sessions", Some(&kid));
    let kid_session = kid_sessions.body[0]["id"].as_str().unwrap();
    let probe = h.api.call(
        "DELETE",
        &format!("/sessions/{kid_session}"),
        Some(&h.admin),
        None,
    );
    assert_eq!(probe.status, 404);
    assert_eq!(h.api.get("/me", Some(&kid)).status, 200);
}
