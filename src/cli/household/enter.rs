//! Becoming someone on a hub: `hearth setup` (the household and its first
//! admin, with the hub's one-time code), `hearth invite accept` (a password
//! for an invite or reset code) and `hearth login`. Each saves the session's
//! token for the household commands; passwords come from `$HEARTH_PASSWORD`
//! or standard input, never from the command line.

use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::{fail, local_hub, read_password, run};
use crate::client::login::{self, SavedLogin};
use crate::client::{Client, Target};

/// The label the hub shows for sessions the command line made.
const LABEL: &str = "hearth command line";

/// Which hub: `addr` with `fingerprint`, or else the one running on `state_dir`.
fn hub(
    state_dir: &Path,
    addr: Option<String>,
    fingerprint: Option<String>,
) -> Result<(String, String), String> {
    match (addr, fingerprint) {
        (Some(addr), Some(fp)) => Ok((addr, fp)),
        (None, None) => local_hub(state_dir).ok_or_else(|| {
            format!(
                "no hub runs on {}; give --addr HOST:PORT and --fingerprint (from `hearth status` \
                 or `hearth mdns browse`)",
                state_dir.display()
            )
        }),
        _ => Err("--addr and --fingerprint go together".into()),
    }
}

/// POSTs `body` to `path` on the hub and saves the token it answers with.
/// `email` is whose session it is (asked of the hub when `None`).
fn enter(
    (addr, fingerprint): (String, String),
    path: &str,
    body: Value,
    email: Option<&str>,
) -> Result<(String, std::path::PathBuf), String> {
    let mut client = Client {
        target: Target::Https {
            addr: addr.clone(),
            fingerprint: fingerprint.clone(),
        },
        token: None,
    };
    eprintln!("hearth: asking the hub at {addr}");
    let answer = run(client.call("POST", path, Some(body)))
        .map_err(|e| e.to_string())?
        .ok()?;
    let token = answer["token"].as_str().unwrap_or_default().to_owned();
    client.token = Some(token.clone());
    let email = match email {
        Some(email) => email.to_owned(),
        None => run(client.call("GET", "/me", None))
            .map_err(|e| e.to_string())?
            .ok()?["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    let saved = SavedLogin {
        addr,
        fingerprint,
        token,
        email: email.clone(),
    };
    let file = login::save(&saved).map_err(|e| format!("cannot save the login: {e}"))?;
    Ok((email, file))
}

/// `hearth login`: asks the hub for a token and saves it.
pub fn login(
    state_dir: &Path,
    email: &str,
    addr: Option<String>,
    fingerprint: Option<String>,
    json: bool,
) -> ExitCode {
    let result = hub(state_dir, addr, fingerprint).and_then(|hub| {
        let password = read_password()?;
        let body = json!({ "email": email, "password": password, "label": LABEL });
        enter(hub, "/login", body, Some(email))
    });
    match result {
        Ok((email, file)) if json => entered(json!({ "email": email }), &file),
        Ok((email, file)) => {
            println!("logged in as {email}; token saved in {}", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `hearth setup`: makes the household `household` with `email` as its
/// first admin on the hub running on `state_dir`, with `code` or the hub's
/// own setup code (readable by root and the service user), and logs in.
pub fn setup(
    state_dir: &Path,
    household: &str,
    email: &str,
    code: Option<String>,
    json: bool,
) -> ExitCode {
    let code = match code {
        Some(code) => code,
        None => {
            let now = crate::clock::Clock::system().unix_now();
            match crate::accounts::setup::read_or_why(state_dir, now) {
                Ok(found) => found.code,
                Err(why) => return fail(crate::cli::no_setup_code(state_dir, &why)),
            }
        }
    };
    let result = hub(state_dir, None, None).and_then(|hub| {
        let password = read_password()?;
        let body = json!({
            "code": code, "household": household, "email": email,
            "password": password, "label": LABEL,
        });
        enter(hub, "/setup", body, Some(email))
    });
    match result {
        Ok((email, file)) if json => {
            entered(json!({ "household": household, "email": email }), &file)
        }
        Ok((email, file)) => {
            println!(
                "set up the household \"{household}\" with {email} as its admin; logged in, \
                 token saved in {}",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `hearth invite accept CODE`: sets the invited person's password and
/// logs them in.
pub fn accept_invite(
    state_dir: &Path,
    code: &str,
    addr: Option<String>,
    fingerprint: Option<String>,
    json: bool,
) -> ExitCode {
    let result = hub(state_dir, addr, fingerprint).and_then(|hub| {
        let password = read_password()?;
        let body = json!({ "code": code, "password": password, "label": LABEL });
        enter(hub, "/invites/accept", body, None)
    });
    match result {
        Ok((email, file)) if json => entered(json!({ "email": email }), &file),
        Ok((email, file)) => {
            println!(
                "welcome, {email}: logged in, token saved in {}",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// A login's outcome for scripts: `fields` and where the token was saved.
fn entered(mut fields: serde_json::Value, file: &Path) -> ExitCode {
    fields["logged_in"] = json!(true);
    fields["token_file"] = json!(file.display().to_string());
    println!("{fields}");
    ExitCode::SUCCESS
}
