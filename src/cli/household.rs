//! The household commands: `hearth login`, `device`, `org`, `user`,
//! `share`, `audit`, acting as the logged-in user through the hub's HTTPS
//! API (the token saved by `hearth login`). Output is for people; `--json`
//! prints the API's JSON for scripts. With `--console` they go through the admin socket instead.
//! It never reads the hub's database or documents: every command is an API request the hub checks.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::login::{self, SavedLogin};
use crate::client::{Client, Target};
use crate::runtime::RuntimeInfo;
use crate::state_dir::RUNTIME_FILE;

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Every device you may see, across all your organizations and shares.
    List,
    /// Add a device to an organization; prints its auth token, once.
    Add {
        org: String,
        name: String,
        /// The template (datastreams, events) it follows.
        #[arg(long)]
        template: Option<String>,
    },
    /// Transfer a device to a member (email or user id).
    Transfer {
        device: String,
        to: String,
        /// Destination organization, when they belong to several.
        #[arg(long)]
        org: Option<String>,
    },
    /// Move a device to another organization.
    Move {
        device: String,
        org: String,
    },
    Rename {
        device: String,
        name: String,
    },
    Delete {
        device: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Organizations you may see.
    List,
    /// Create a sub-organization.
    Add {
        parent: String,
        name: String,
    },
    Rename {
        org: String,
        name: String,
    },
    Delete {
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Members of the organizations you may see.
    List,
    /// Invite someone (prints their invite code if they need one).
    Invite {
        email: String,
        org: String,
        #[arg(default_value = "user")]
        role: String,
    },
    /// Change a membership's role.
    Role { membership: String, role: String },
    /// Remove a membership.
    Remove { membership: String },
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a device with a member (email or user id).
    Add {
        device: String,
        with: String,
        /// Let them control it, not only see it.
        #[arg(long)]
        control: bool,
        /// Hours until the share ends.
        #[arg(long)]
        hours: Option<u32>,
    },
    /// Revoke a share.
    Remove { share: String },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Each peer this hub syncs with and whether it is connected.
    Status,
    /// Issue a read-only replication grant (for admin tooling): its token
    /// and the peer id to use, shown this once.
    Grant,
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Print a one-time code (valid an hour) with which another hub joins.
    Pair,
    /// On a new hub, as its console: join the household of the hub at URL.
    Join {
        /// The household's hub, `https://host:port`.
        url: String,
        code: String,
        /// SHA-256 of that hub's certificate (its `hearth status`).
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// The household's hubs.
    List,
    /// Revoke a hub: no other hub nor the cloud accepts it again.
    Revoke { id: String },
}

/// What a household command asks of the hub.
pub enum Request {
    Device(DeviceCommand),
    Org(OrgCommand),
    User(UserCommand),
    Share(ShareCommand),
    Audit,
    Sync(SyncCommand),
    Hub(HubCommand),
    /// Link the household to the cloud at `url` with a one-time `code`.
    CloudLink {
        url: String,
        code: String,
        fingerprint: Option<String>,
    },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("hearth: {message}");
    ExitCode::FAILURE
}

/// `hearth login`: asks the hub for a token and saves it. The hub is
/// `addr` with `fingerprint`, or else the one running on this machine.
pub fn login(
    state_dir: &Path,
    email: &str,
    addr: Option<String>,
    fingerprint: Option<String>,
) -> ExitCode {
    let (addr, fingerprint) = match (addr, fingerprint) {
        (Some(addr), Some(fp)) => (addr, fp),
        (None, None) => match local_hub(state_dir) {
            Some(found) => found,
            None => {
                return fail(format!(
                    "no hub runs on {}; give --addr HOST:PORT and --fingerprint (from `hearth status` or `hearth mdns browse`)",
                    state_dir.display()
                ));
            }
        },
        _ => return fail("--addr and --fingerprint go together"),
    };
    let password = match read_password() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let client = Client {
        target: Target::Https {
            addr: addr.clone(),
            fingerprint: fingerprint.clone(),
        },
        token: None,
    };
    let body = json!({ "email": email, "password": password, "label": "hearth command line" });
    let reply = match run(client.call("POST", "/login", Some(body))) {
        Ok(reply) => reply,
        Err(e) => return fail(e),
    };
    let answer = match reply.ok() {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let saved = SavedLogin {
        addr,
        fingerprint,
        token: answer["token"].as_str().unwrap_or_default().to_owned(),
        email: email.to_owned(),
    };
    match login::save(&saved) {
        Ok(path) => {
            println!("logged in as {email}; token saved in {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot save the login: {e}")),
    }
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
pub fn request(request: Request, json_out: bool, console: bool, state_dir: &Path) -> ExitCode {
    let client = if console {
        Client {
            target: Target::Console(crate::api::console::path(state_dir)),
            token: None,
        }
    } else {
        let Some(saved) = login::load() else {
            return fail(
                "not logged in; run `hearth login --email YOU` first (or, on the hub, use --console)",
            );
        };
        client_of(&saved)
    };
    let (method, path, body) = route(&request);
    let reply = match run(client.call(method, &path, body)) {
        Ok(reply) => reply,
        Err(e) => return fail(e),
    };
    if reply.status == 401 {
        return fail("the saved login is no longer valid; run `hearth login` again");
    }
    match reply.ok() {
        Ok(value) if json_out => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(value) => {
            print_human(&request, &value);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn route(request: &Request) -> (&'static str, String, Option<Value>) {
    use DeviceCommand as D;
    match request {
        Request::Device(D::List) => ("GET", "/devices".into(), None),
        Request::Device(D::Add {
            org,
            name,
            template,
        }) => (
            "POST",
            "/devices".into(),
            Some(json!({ "org": org, "name": name, "template": template })),
        ),
        Request::Device(D::Transfer { device, to, org }) => (
            "POST",
            format!("/devices/{device}/transfer"),
            Some(json!({ "to": to, "org": org })),
        ),
        Request::Device(D::Move { device, org }) => (
            "POST",
            format!("/devices/{device}/move"),
            Some(json!({ "org": org })),
        ),
        Request::Device(D::Rename { device, name }) => (
            "PATCH",
            format!("/devices/{device}"),
            Some(json!({ "name": name })),
        ),
        Request::Device(D::Delete { device }) => ("DELETE", format!("/devices/{device}"), None),
        Request::Org(OrgCommand::List) => ("GET", "/orgs".into(), None),
        Request::Org(OrgCommand::Add { parent, name }) => (
            "POST",
            "/orgs".into(),
            Some(json!({ "parent": parent, "name": name })),
        ),
        Request::Org(OrgCommand::Rename { org, name }) => (
            "PATCH",
            format!("/orgs/{org}"),
            Some(json!({ "name": name })),
        ),
        Request::Org(OrgCommand::Delete { org }) => ("DELETE", format!("/orgs/{org}"), None),
        Request::User(UserCommand::List) => ("GET", "/members".into(), None),
        Request::User(UserCommand::Invite { email, org, role }) => (
            "POST",
            "/members".into(),
            Some(json!({ "email": email, "org": org, "role": role })),
        ),
        Request::User(UserCommand::Role { membership, role }) => (
            "PATCH",
            format!("/members/{membership}"),
            Some(json!({ "role": role })),
        ),
        Request::User(UserCommand::Remove { membership }) => {
            ("DELETE", format!("/members/{membership}"), None)
        }
        Request::Share(ShareCommand::Add {
            device,
            with,
            control,
            hours,
        }) => {
            let expires =
                hours.map(|h| crate::clock::Clock::system().now_ms() + i64::from(h) * 3_600_000);
            let level = if *control { "control" } else { "view" };
            (
                "POST",
                format!("/devices/{device}/shares"),
                Some(json!({ "with": with, "level": level, "expires": expires })),
            )
        }
        Request::Share(ShareCommand::Remove { share }) => {
            ("DELETE", format!("/shares/{share}"), None)
        }
        Request::Audit => ("GET", "/audit".into(), None),
        Request::Sync(SyncCommand::Status) => ("GET", "/sync/status".into(), None),
        Request::Sync(SyncCommand::Grant) => ("POST", "/sync/grants".into(), None),
        Request::Hub(HubCommand::Pair) => ("POST", "/hubs/pairing".into(), None),
        Request::Hub(HubCommand::Join {
            url,
            code,
            fingerprint,
        }) => (
            "POST",
            "/sync/join".into(),
            Some(json!({ "url": url, "code": code, "fingerprint": fingerprint })),
        ),
        Request::Hub(HubCommand::List) => ("GET", "/hubs".into(), None),
        Request::Hub(HubCommand::Revoke { id }) => ("DELETE", format!("/hubs/{id}"), None),
        Request::CloudLink {
            url,
            code,
            fingerprint,
        } => (
            "POST",
            "/cloud/link".into(),
            Some(json!({ "url": url, "code": code, "fingerprint": fingerprint })),
        ),
    }
}

fn print_human(request: &Request, value: &Value) {
    let rows = value.as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    match request {
        Request::Device(DeviceCommand::List) => {
            println!("{:<28} {:<8} {:<28} ID", "DEVICE", "LEVEL", "ORGANIZATION");
            for d in &rows {
                let path: Vec<String> = d["org_path"]
                    .as_array()
                    .map(|p| p.iter().map(s).collect())
                    .unwrap_or_default();
                let org = if path.is_empty() {
                    "(shared with you)".to_owned()
                } else {
                    path.join(" / ")
                };
                let owned = if d["owned"] == true { " (yours)" } else { "" };
                println!(
                    "{:<28} {:<8} {:<28} {}",
                    format!("{}{owned}", s(&d["name"])),
                    s(&d["level"]),
                    org,
                    s(&d["id"])
                );
            }
        }
        Request::Org(OrgCommand::List) => {
            for o in &rows {
                println!("{:<28} {}", s(&o["name"]), s(&o["id"]));
            }
        }
        Request::User(UserCommand::List) => {
            for m in &rows {
                println!(
                    "{:<32} {:<12} org {} membership {}",
                    s(&m["email"]),
                    s(&m["role_name"]),
                    s(&m["org"]),
                    s(&m["membership"])
                );
            }
        }
        Request::Audit => {
            for e in &rows {
                println!(
                    "{} {:<16} {:<18} by {:<18} {}",
                    e["at"],
                    s(&e["kind"]),
                    s(&e["subject"]),
                    s(&e["by"]),
                    s(&e["outcome"])
                );
            }
        }
        Request::Sync(SyncCommand::Status) => {
            let peers = value["peers"].as_array().cloned().unwrap_or_default();
            if peers.is_empty() {
                println!("no sync peers: link the household with `hearth cloud link URL CODE`");
            }
            for p in &peers {
                let state = if p["connected"] == true {
                    "connected"
                } else {
                    "not connected"
                };
                println!("{:<10} {:<40} {state}", s(&p["peer"]), s(&p["url"]));
                for d in p["docs"].as_array().into_iter().flatten() {
                    println!(
                        "    {:<12} theirs lacking {:<6} ours lacking {}",
                        s(&d["kind"]),
                        d["theirs_lacking"],
                        d["ours_lacking"]
                    );
                }
                if let Some(error) = p["last_error"].as_str() {
                    println!("    last error: {error}");
                }
            }
            let outbox = &value["outbox"];
            if !outbox.is_null() {
                println!(
                    "outbox: {} values waiting, {} dropped when full",
                    outbox["depth"], outbox["dropped"]
                );
            }
            for c in value["conflicts_lost"].as_array().into_iter().flatten() {
                println!(
                    "lost: {} {} by {} ({} {})",
                    s(&c["kind"]),
                    s(&c["subject"]),
                    s(&c["by"]),
                    s(&c["outcome"]),
                    c["to"].as_str().or(c["reason"].as_str()).unwrap_or("-")
                );
            }
        }
        Request::Device(DeviceCommand::Add { .. }) => {
            println!("device {}", s(&value["id"]));
            println!(
                "auth token {} (shown this once; give it to the device's firmware)",
                s(&value["token"])
            );
        }
        _ => match value {
            Value::Null => println!("done"),
            Value::Object(map) => {
                for (k, v) in map {
                    if !v.is_null() {
                        println!(
                            "{k}: {}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        );
                    }
                }
            }
            other => println!("{other}"),
        },
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

/// `HEARTH_PASSWORD`, else one line of standard input (not echoed when it
/// is a terminal).
fn read_password() -> Result<String, String> {
    if let Ok(p) = std::env::var("HEARTH_PASSWORD") {
        return Ok(p);
    }
    eprint!("password: ");
    let mut line = String::new();
    let read = {
        let _quiet = EchoOff::on_stdin();
        std::io::stdin().lock().read_line(&mut line)
    };
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!();
    }
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err("no password given".into());
    }
    Ok(line)
}

/// Turns the terminal's echo off while alive (nothing when standard input
/// is not a terminal); restores it when dropped, also on error.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn on_stdin() -> Self {
        // SAFETY: termios is plain data; tcgetattr/tcsetattr get fd 0 and a
        // pointer to it, and their results are checked.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::isatty(0) != 1 || libc::tcgetattr(0, &mut saved) != 0 {
                return EchoOff(None);
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(0, libc::TCSANOW, &quiet) != 0 {
                return EchoOff(None);
            }
            EchoOff(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = self.0 {
            // SAFETY: restores the settings read in `on_stdin`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &saved);
            }
        }
    }
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}
