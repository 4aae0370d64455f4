//! The household commands: `hearth setup`, `login`, `invite accept`, `device`, `org`, `user`,
//! `share`, `role`, `template`, `audit`, acting as the logged-in user through the hub's HTTPS
//! API (the token saved by `hearth login`). Output is for people; `--json`
//! prints the API's JSON for scripts. With `--console` they go through the admin socket instead.
//! It never reads the hub's database or documents: every command is an API request the hub checks.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use crate::client::login::{self, SavedLogin};
use crate::client::{Client, Target};
use crate::runtime::RuntimeInfo;
use crate::state_dir::RUNTIME_FILE;

mod commands;
mod enter;
mod names;
mod password;
mod print;
mod route;
mod shares;

pub use commands::{
    DeviceCommand, HubCommand, OrgCommand, Request, RoleCommand, ShareCommand, SyncCommand,
    TemplateCommand, UserCommand,
};
pub use enter::{accept_invite, login, setup};
use password::read_password;
pub(super) use print::utc;
use print::{print_audit, print_human};
use route::route;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("hearth: {message}");
    ExitCode::FAILURE
}

/// `hearth logout`: ends the session on the hub and forgets the token.
pub fn logout() -> ExitCode {
    let Some(saved) = login::load() else {
        println!("not logged in");
        return ExitCode::SUCCESS;
    };
    let client = client_of(&saved);
    let _ = run(client.call("POST", "/logout", None));
    login::forget();
    println!("logged out");
    ExitCode::SUCCESS
}

/// Runs a household command as the logged-in user, or with `console`
/// through the hub's admin socket in `state_dir` (root and the hub's user).
pub fn request(mut request: Request, json_out: bool, console: bool, state_dir: &Path) -> ExitCode {
    let (client, hub) = if console {
        let socket = crate::api::console::path(state_dir);
        let hub = format!(
            "the hub of {} (its admin socket {})",
            state_dir.display(),
            socket.display()
        );
        let client = Client {
            target: Target::Console(socket),
            token: None,
        };
        (client, hub)
    } else {
        let Some(saved) = login::load() else {
            return fail(
                "not logged in; run `hearth login --email YOU` first (or, on the hub, use --console)",
            );
        };
        let hub = format!("the hub at {} as {}", saved.addr, saved.email);
        (client_of(&saved), hub)
    };
    // Which hub answers, on stderr: what is printed stays the answer.
    if !json_out {
        eprintln!("hearth: asking {hub}");
    }
    let reply = run(async {
        names::resolve(&client, &mut request).await?;
        let (method, path, body) = route(&request);
        client
            .call(method, &path, body)
            .await
            .map_err(|e| e.to_string())
    });
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => return fail(e),
    };
    if reply.status == 401 {
        return fail("the saved login is no longer valid; run `hearth login` again");
    }
    let value = match (&request, reply.ok()) {
        (Request::Share(ShareCommand::List { device }), Ok(devices)) => Ok(Value::Array(run(
            shares::shares(&client, &devices, device.as_deref()),
        ))),
        (_, answer) => answer,
    };
    match value {
        Ok(value) if json_out => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(value) if matches!(request, Request::Audit) => {
            print_audit(&value, &run(names::directory(&client)));
            ExitCode::SUCCESS
        }
        Ok(value) => {
            print_human(&request, &value);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn client_of(saved: &SavedLogin) -> Client {
    Client {
        target: Target::Https {
            addr: saved.addr.clone(),
            fingerprint: saved.fingerprint.clone(),
        },
        token: Some(saved.token.clone()),
    }
}

/// The hub running on this machine: loopback address and fingerprint.
fn local_hub(state_dir: &Path) -> Option<(String, String)> {
    let bytes = std::fs::read(state_dir.join(RUNTIME_FILE)).ok()?;
    let info: RuntimeInfo = serde_json::from_slice(&bytes).ok()?;
    let port = info.api_addr.port();
    Some((format!("127.0.0.1:{port}"), info.fingerprint?))
}

pub(super) fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}
