//! The `hearth` command line: `run` and the admin and diagnostic subcommands.
//!
//! Owns argument parsing, exit codes and what a person reads on the terminal.
//! Configuration errors exit with 78 before anything is bound; other failures
//! exit with 1. The work itself is done by the library modules. It never changes household
//! state by itself: household commands are requests to a hub's API or admin socket, and only
//! `restore` writes the state directory, through the store, and only while no hub holds it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod docs;
mod doctor;
mod household;
mod serve;
use household::{
    DeviceCommand, HubCommand, OrgCommand, Request, RoleCommand, ShareCommand, SyncCommand,
    TemplateCommand, UserCommand,
};

use crate::config::{self, Config, EX_CONFIG};
use crate::hub::Hub;
use crate::runtime::RuntimeInfo;
use crate::state_dir::{self, RUNTIME_FILE, StateDir};
use crate::{mdns, store};

#[derive(Debug, Parser)]
#[command(name = "hearth", version, about = "Hearth: a local-first home hub")]
struct Cli {
    /// Configuration file [default: $CONFIGURATION_DIRECTORY/hearth.toml,
    /// else /etc/hearth/hearth.toml, else built-in defaults]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State directory [default: $STATE_DIRECTORY, else hub.state_dir, else
    /// /var/lib/hearth for root, ~/.local/state/hearth otherwise]
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Household commands through the hub's admin socket, as its console
    /// (root or the hub's service user, on the hub): no login needed.
    #[arg(long, global = true)]
    console: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub (what the systemd service runs).
    Run,
    /// Print or check configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show whether a hub runs on the state directory, and where it listens.
    Status {
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent snapshot of the state directory to FILE (online).
    Backup { file: PathBuf },
    /// Replace the state directory with a backup (the hub must be stopped).
    Restore { file: PathBuf },
    /// mDNS diagnostics.
    #[command(subcommand)]
    Mdns(MdnsCommand),
    /// Print the one-time code that sets up a new hub (root and the service
    /// user only: it is readable only by them).
    SetupCode {
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Log in to a hub and save the token for the household commands (the
    /// password comes from $HEARTH_PASSWORD or standard input).
    Login {
        #[arg(long)]
        email: String,
        /// HOST:PORT of the hub [default: the hub running on this machine].
        #[arg(long, requires = "fingerprint")]
        addr: Option<String>,
        /// SHA-256 of the hub's certificate (`hearth status`, `hearth mdns browse`).
        #[arg(long, requires = "addr")]
        fingerprint: Option<String>,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// End the saved login.
    Logout,
    /// Check this install and say what is wrong and what to do: the service,
    /// listeners, mDNS, clock, disk, database, state directory, serial ports,
    /// certificate, household, sync links. Exit status 0: nothing wrong,
    /// 1: a problem, 2: only warnings.
    Doctor {
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Set up a new hub: make the household and its first admin (you), and
    /// log in. The password comes from $HEARTH_PASSWORD or standard input;
    /// the one-time code is read from the state directory (as root or the
    /// service user) unless given.
    Setup {
        /// The household's name, as its people call it ("Home").
        #[arg(long)]
        household: String,
        /// The first admin's email.
        #[arg(long)]
        email: String,
        /// The code `hearth setup-code` prints (or the hub logged); also
        /// read from `$HEARTH_SETUP_CODE`, out of other users' sight. By
        /// default, the hub's own (readable by root and its user).
        #[arg(long)]
        code: Option<String>,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Invites: accept one (set your password and log in).
    Invite {
        #[command(subcommand)]
        command: InviteCommand,
    },
    /// Devices: list, add, transfer, move, rename, template, delete.
    /// Devices, organizations, templates, roles and members go by id or
    /// by name (or the start of one that only one has).
    Device {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Organizations: list, add, rename, delete.
    Org {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Members: list, invite, change role, remove.
    User {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Shares of single devices: add, remove.
    Share {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: ShareCommand,
    },
    /// Roles: list, add, edit, delete.
    Role {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// Templates: list.
    Template {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// The audit log as you may see it.
    Audit {
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The household's hubs: pair a new one, join, list, revoke.
    Hub {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: HubCommand,
    },
    /// This hub's sync with the cloud and other hubs.
    Sync {
        /// Print the answer as JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// The cloud tenancy endpoint: with no subcommand, run it (many
    /// tenants, no device transports); `link` links this hub to one.
    #[command(args_conflicts_with_subcommands = true)]
    Cloud {
        #[command(subcommand)]
        command: Option<CloudCommand>,
    },
}

/// `hearth invite`.
#[derive(Debug, Subcommand)]
enum InviteCommand {
    /// Accept an invite (or a password reset): the code from the link you
    /// were sent; your new password from $HEARTH_PASSWORD or standard input.
    Accept {
        /// The code [default: $HEARTH_INVITE_CODE, which, unlike an
        /// argument, other users of this machine cannot read].
        code: Option<String>,
        /// HOST:PORT of the hub [default: the hub running on this machine].
        #[arg(long, requires = "fingerprint")]
        addr: Option<String>,
        /// SHA-256 of the hub's certificate (`hearth status`, `hearth mdns browse`).
        #[arg(long, requires = "addr")]
        fingerprint: Option<String>,
        /// Print the outcome as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CloudCommand {
    /// Run the cloud endpoint (the same as `hearth cloud`).
    Run,
    /// On the cloud: print a one-time code that links one hub (valid 24 h).
    Code,
    /// On the cloud: the hubs it accepts, with their tenants.
    Hubs,
    /// On the cloud: revoke a hub's credential (it must be linked again).
    Revoke { hub: String },
    /// On a hub: link this household to the cloud at URL with CODE.
    Link {
        /// The cloud's address, `https://host:port` (or `http://`).
        url: String,
        code: String,
        /// SHA-256 of the cloud's certificate (its `hearth status`), for https.
        #[arg(long)]
        fingerprint: Option<String>,
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the built-in default configuration (config/hearth.toml).
    Default,
    /// Validate a configuration file; exit 78 naming the key if it is bad.
    Check { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum MdnsCommand {
    /// List the hubs announcing themselves on the LAN.
    Browse {
        /// How long to listen, in seconds.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
        /// Print the answer as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    crate::accounts::password::return_memory_after_hashing();
    let cli = Cli::parse();
    match cli.command {
        Command::Config(ConfigCommand::Default) => {
            print!("{}", config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Command::Config(ConfigCommand::Check { file }) => match Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => config_failure(&e),
        },
        command => {
            let (config, config_path) = match config::load(cli.config.as_deref()) {
                Ok(loaded) => loaded,
                Err(e) => return config_failure(&e),
            };
            let state_dir =
                match state_dir::resolve(cli.state_dir.as_deref(), config.hub.state_dir.as_deref())
                {
                    Ok(dir) => dir,
                    Err(e) => return failure(&e),
                };
            match command {
                Command::Run => run(config, state_dir),
                Command::Status { json } => status(&state_dir, json),
                Command::Doctor { json } => {
                    doctor::doctor(&config, config_path.as_deref(), &state_dir, json)
                }
                Command::Backup { file } => match store::backup(&state_dir, &file) {
                    Ok(bytes) => {
                        println!(
                            "backed up {} to {} ({bytes} bytes)",
                            state_dir.display(),
                            file.display()
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => failure(&e),
                },
                Command::Restore { file } => {
                    match store::restore(&state_dir, &file, crate::node::SCHEMA) {
                        Ok(()) => {
                            println!("restored {} from {}", state_dir.display(), file.display());
                            ExitCode::SUCCESS
                        }
                        Err(e) => failure(&e),
                    }
                }
                Command::Mdns(MdnsCommand::Browse { timeout, json }) => {
                    browse(&config, Duration::from_secs(timeout), json)
                }
                Command::SetupCode { json } => setup_code(&state_dir, json),
                Command::Login {
                    email,
                    addr,
                    fingerprint,
                    json,
                } => household::login(&state_dir, &email, addr, fingerprint, json),
                Command::Logout => household::logout(),
                Command::Setup {
                    household,
                    email,
                    code,
                    json,
                } => household::setup(
                    &state_dir,
                    &household,
                    &email,
                    code.or_else(|| std::env::var("HEARTH_SETUP_CODE").ok()),
                    json,
                ),
                Command::Invite {
                    command:
                        InviteCommand::Accept {
                            code,
                            addr,
                            fingerprint,
                            json,
                        },
                } => match code.or_else(|| std::env::var("HEARTH_INVITE_CODE").ok()) {
                    Some(code) => {
                        household::accept_invite(&state_dir, &code, addr, fingerprint, json)
                    }
                    None => {
                        eprintln!("hearth: give the invite code, or set $HEARTH_INVITE_CODE");
                        ExitCode::from(2)
                    }
                },
                Command::Device { json, command } => {
                    household::request(Request::Device(command), json, cli.console, &state_dir)
                }
                Command::Org { json, command } => {
                    household::request(Request::Org(command), json, cli.console, &state_dir)
                }
                Command::User { json, command } => {
                    household::request(Request::User(command), json, cli.console, &state_dir)
                }
                Command::Share { json, command } => {
                    household::request(Request::Share(command), json, cli.console, &state_dir)
                }
                Command::Role { json, command } => {
                    household::request(Request::Role(command), json, cli.console, &state_dir)
                }
                Command::Template { json, command } => {
                    household::request(Request::Template(command), json, cli.console, &state_dir)
                }
                Command::Audit { json } => {
                    household::request(Request::Audit, json, cli.console, &state_dir)
                }
                Command::Hub { json, command } => {
                    household::request(Request::Hub(command), json, cli.console, &state_dir)
                }
                Command::Sync { json, command } => {
                    household::request(Request::Sync(command), json, cli.console, &state_dir)
                }
                Command::Cloud { command } => match command {
                    None | Some(CloudCommand::Run) => run_cloud(config, state_dir),
                    Some(CloudCommand::Code) => {
                        cloud_console(&state_dir, "POST", "/cloud/v1/codes")
                    }
                    Some(CloudCommand::Hubs) => cloud_console(&state_dir, "GET", "/cloud/v1/hubs"),
                    Some(CloudCommand::Revoke { hub }) => {
                        cloud_console(&state_dir, "DELETE", &format!("/cloud/v1/hubs/{hub}"))
                    }
                    Some(CloudCommand::Link {
                        url,
                        code,
                        fingerprint,
                        json,
                    }) => household::request(
                        Request::CloudLink {
                            url,
                            code,
                            fingerprint,
                        },
                        json,
                        cli.console,
                        &state_dir,
                    ),
                },
                Command::Config(_) => unreachable!("handled above"),
            }
        }
    }
}

fn config_failure(e: &config::ConfigError) -> ExitCode {
    eprintln!("hearth: {e}");
    ExitCode::from(EX_CONFIG as u8)
}

fn failure(e: &dyn std::error::Error) -> ExitCode {
    eprintln!("hearth: {e}");
    ExitCode::FAILURE
}

/// `hearth cloud`: the cloud endpoint, started and stopped like the hub.
fn run_cloud(config: Config, state_dir: PathBuf) -> ExitCode {
    let level = config.log.level.clone();
    serve::serve(&level, None, crate::cloud::Cloud::spawn(config, state_dir))
}

/// A request to the cloud running on `state_dir`, through its admin socket.
fn cloud_console(state_dir: &Path, method: &str, path: &str) -> ExitCode {
    let client = crate::client::Client {
        target: crate::client::Target::Console(crate::api::console::path(state_dir)),
        token: None,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return failure(&e),
    };
    match runtime.block_on(client.request(method, path, None)) {
        Ok(reply) => match reply.ok() {
            Ok(value) => {
                match value["code"].as_str() {
                    Some(code) => println!("{code}"),
                    None => println!("{value:#}"),
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hearth: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("hearth: no cloud answers on {}: {e}", state_dir.display());
            ExitCode::FAILURE
        }
    }
}

/// `hearth run`: start, tell systemd, wait for a signal, shut down cleanly.
fn run(config: Config, state_dir: PathBuf) -> ExitCode {
    let level = config.log.level.clone();
    serve::serve(&level, Some(2), Hub::spawn(config, state_dir))
}

fn ready_status(info: &RuntimeInfo) -> String {
    let mut status = format!("ready: API {}", info.api_url());
    if let Some(fp) = &info.fingerprint {
        status.push_str(&format!(" (fp {}…)", &fp[..16]));
    }
    if info.mdns {
        status.push_str(&format!("; mDNS {}", info.instance));
    }
    status
}

fn status(state_dir: &Path, json: bool) -> ExitCode {
    let running = StateDir::is_locked(state_dir);
    let info: Option<RuntimeInfo> = std::fs::read(state_dir.join(RUNTIME_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(|_| running);
    if json {
        let value = serde_json::json!({ "running": running, "hub": info });
        println!("{value:#}");
    } else {
        match &info {
            Some(info) => {
                println!("hub {} running (pid {})", info.instance, info.pid);
                println!("  id          {}", info.hub_id);
                println!("  version     {}", info.version);
                println!("  api         {}", info.api_url());
                if let Some(fp) = &info.fingerprint {
                    println!("  fingerprint {fp}");
                }
                println!("  state       {}", state_dir.display());
            }
            None if running => {
                println!("a hub holds {} but is still starting", state_dir.display())
            }
            None => println!("no hub running on {}", state_dir.display()),
        }
    }
    if running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

fn setup_code(state_dir: &Path, json: bool) -> ExitCode {
    let now = crate::clock::Clock::system().unix_now();
    match crate::accounts::setup::read_or_why(state_dir, now) {
        Ok(code) if json => {
            println!(
                "{}",
                serde_json::json!({
                    "code": code.code,
                    "expires": code.expires,
                    "state_dir": state_dir.display().to_string(),
                })
            );
            ExitCode::SUCCESS
        }
        Ok(code) => {
            println!("{}", code.code);
            eprintln!(
                "the setup code of the hub on {}: valid for {} more minutes; use it once, in the \
                 app, with `hearth setup` or with POST /api/v1/setup",
                state_dir.display(),
                (code.expires - now) / 60
            );
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("hearth: {}", no_setup_code(state_dir, &why));
            if why == crate::accounts::setup::Unread::Denied {
                ExitCode::from(77)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Why the setup code of the hub on `state_dir` cannot be had, and what to do.
pub(crate) fn no_setup_code(state_dir: &Path, why: &crate::accounts::setup::Unread) -> String {
    use crate::accounts::setup::Unread;
    let dir = state_dir.display();
    match why {
        Unread::Missing => format!(
            "no setup code in {dir}: the hub is already set up, or has not started on this state \
             directory yet (start it and try again)"
        ),
        Unread::Denied => format!(
            "the setup code in {dir} is readable only by root and the hub's service user: run \
             this with sudo, or give the code"
        ),
        Unread::Expired(at) => format!(
            "the setup code in {dir} expired at {} UTC: restarting the hub \
             (`sudo systemctl restart hearth`) makes a new one",
            household::utc(*at * 1000)
        ),
        Unread::Garbled => format!(
            "{} is not a setup code: remove it and restart the hub for a new one",
            crate::accounts::setup::path(state_dir).display()
        ),
    }
}

fn browse(config: &Config, wait: Duration, json: bool) -> ExitCode {
    let hubs = match mdns::browse(&config.mdns, wait) {
        Ok(hubs) => hubs,
        Err(e) => return failure(&e),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&hubs).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if hubs.is_empty() {
        println!("no hubs answered within {wait:?}");
    }
    for hub in hubs {
        let addrs: Vec<String> = hub.addresses.iter().map(ToString::to_string).collect();
        println!(
            "{}  {}:{}  [{}]",
            hub.instance,
            hub.host,
            hub.port,
            addrs.join(", ")
        );
        for (k, v) in &hub.txt {
            println!("    {k}={v}");
        }
    }
    ExitCode::SUCCESS
}
