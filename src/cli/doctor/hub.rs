//! The doctor's checks of the running hub: is it running, is every
//! configured listener bound and reachable, its certificate, its household,
//! its sync links.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use serde_json::Value;

use super::{Finding, Install};
use crate::cli::household::{run, utc};
use crate::client::{Client, Target};

const CONNECT_WITHIN: Duration = Duration::from_secs(2);
const ASK_WITHIN: Duration = Duration::from_secs(5);
/// A serving certificate with less left than this is worth a warning (the
/// hub renews 30 days before the end).
const CERT_WARN_DAYS: i64 = 21;

/// Whether a hub runs on the state directory.
pub fn running(install: &Install) -> Finding {
    match &install.hub {
        Some(hub) => Finding::ok(
            "hub",
            format!(
                "{} {} runs (pid {}) on {}",
                hub.instance,
                hub.version,
                hub.pid,
                install.state_dir.display()
            ),
        ),
        None => Finding::fail(
            "hub",
            format!("no hub runs on {}", install.state_dir.display()),
            "start it: `sudo systemctl start hearth` (or give the --state-dir it uses)",
        ),
    }
}

/// Where to connect to reach a listener bound to `bound`.
fn reachable_at(bound: SocketAddr) -> SocketAddr {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bound.port())
}

fn reachable(bound: SocketAddr) -> bool {
    let first = reachable_at(bound);
    let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port());
    TcpStream::connect_timeout(&first, CONNECT_WITHIN).is_ok()
        || (bound.ip().is_unspecified() && TcpStream::connect_timeout(&v4, CONNECT_WITHIN).is_ok())
}

/// Whether another socket holds `addr` (a test bind says so).
fn in_use(addr: SocketAddr) -> bool {
    TcpListener::bind(addr).is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse)
}

/// Every configured listener: bound by the hub and reachable, or (no hub
/// running) free for it.
pub fn listeners(install: &Install) -> Vec<Finding> {
    let config = install.config;
    let hub = install.hub.as_ref();
    let listed = [
        (
            "API",
            "api.listen",
            Some(config.api.listen),
            hub.map(|h| h.api_addr),
        ),
        (
            "Blynk TCP",
            "blynk.listen",
            config.blynk.listen,
            hub.and_then(|h| h.blynk_addr),
        ),
        (
            "Blynk TLS",
            "blynk.tls_listen",
            config.blynk.tls_listen,
            hub.and_then(|h| h.blynk_tls_addr),
        ),
        (
            "MQTT",
            "mqtt.listen",
            config.mqtt.listen,
            hub.and_then(|h| h.mqtt_addr),
        ),
    ];
    let taken = |label: &str, key: &str, port: u16, what: String| {
        Finding::fail(
            "listeners",
            what,
            format!(
                "`sudo ss -ltnp 'sport = :{port}'` names the program holding port {port}: stop \
                 it, or give the {label} listener another port ({key} in {}), then restart hearth",
                install.config_name()
            ),
        )
    };
    let mut findings = Vec::new();
    for (label, key, configured, bound) in listed {
        let Some(configured) = configured else {
            continue;
        };
        let port = configured.port();
        match (hub, bound) {
            (Some(_), Some(bound)) if reachable(bound) => {
                findings.push(Finding::ok(
                    "listeners",
                    format!("{label} listens on {bound}"),
                ));
            }
            (Some(_), Some(bound)) => findings.push(Finding::fail(
                "listeners",
                format!("{label} is bound to {bound} but nothing answers there"),
                "a firewall on this machine? `sudo nft list ruleset`",
            )),
            (Some(_), None) => findings.push(if in_use(configured) {
                taken(
                    label,
                    key,
                    port,
                    format!("{label} {configured} is configured but not bound: port {port} is taken"),
                )
            } else {
                Finding::fail(
                    "listeners",
                    format!("{label} {configured} is configured but the running hub does not listen there"),
                    "the configuration changed since it started? `sudo systemctl restart hearth`",
                )
            }),
            (None, _) => {
                if in_use(configured) {
                    findings.push(taken(
                        label,
                        key,
                        port,
                        format!("port {port} ({label}) is taken by another program"),
                    ));
                }
            }
        }
    }
    findings
}

/// The public API of the running hub, pinned to its certificate.
fn public(install: &Install) -> Option<Client> {
    let hub = install.hub.as_ref()?;
    let addr = reachable_at(hub.api_addr).to_string();
    let target = match &hub.fingerprint {
        Some(fp) => Target::Https {
            addr,
            fingerprint: fp.clone(),
        },
        None => Target::Http { addr },
    };
    Some(Client {
        target,
        token: None,
    })
}

fn ask(client: &Client, path: &str) -> Result<Value, String> {
    run(client.request_within(ASK_WITHIN, "GET", &format!("/api/v1{path}"), None))
        .map_err(|e| e.to_string())?
        .ok()
}

/// The HTTPS certificate: when it ends and what it names.
pub fn certificate(install: &Install) -> Option<Finding> {
    let client = public(install)?;
    let trust = match ask(&client, "/trust") {
        Ok(trust) => trust,
        Err(e) => {
            return Some(Finding::fail(
                "certificate",
                format!("cannot ask the hub: {e}"),
                "is the API reachable?",
            ));
        }
    };
    let names: Vec<&str> = trust["names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let Some(ends) = trust["not_after_ms"].as_i64() else {
        return Some(Finding::ok(
            "certificate",
            format!(
                "{} (its expiry is not checked here)",
                trust["issuer"].as_str().unwrap_or("none")
            ),
        ));
    };
    let days = (ends - install.now_ms) / 86_400_000;
    let what = format!(
        "valid until {} ({days} days) for {}",
        utc(ends),
        names.join(", ")
    );
    Some(if ends < install.now_ms {
        Finding::fail("certificate", what, "restart hearth: it issues a new one")
    } else if days < CERT_WARN_DAYS {
        Finding::warn(
            "certificate",
            what,
            "the hub renews it within a day; if not, `journalctl -u hearth | grep tls`",
        )
    } else {
        Finding::ok("certificate", what)
    })
}

/// Whether the hub has a household.
pub fn household(install: &Install) -> Option<Finding> {
    let client = public(install)?;
    Some(match ask(&client, "/health") {
        Ok(health) if health["set_up"] == true => Finding::ok("household", "set up"),
        Ok(_) => Finding::warn(
            "household",
            "no household yet",
            format!(
                "open https://{}.local:{}/ and use the code from `sudo hearth setup-code`, or run \
                 `sudo hearth setup --household NAME --email YOU`",
                install
                    .hub
                    .as_ref()
                    .map_or("hearth", |h| h.instance.as_str()),
                install.hub.as_ref().map_or(8443, |h| h.api_addr.port())
            ),
        ),
        Err(e) => Finding::fail(
            "household",
            format!("cannot ask the hub: {e}"),
            "is the API reachable?",
        ),
    })
}

/// The hub's links to the cloud and the household's other hubs, through
/// the admin socket (root and the service user).
pub fn links(install: &Install) -> Vec<Finding> {
    install.hub.as_ref().map_or_else(Vec::new, |_| {
        let console = Client {
            target: Target::Console(crate::api::console::path(install.state_dir)),
            token: None,
        };
        let status = match ask(&console, "/sync/status") {
            Ok(status) => status,
            Err(e) => {
                return vec![Finding::warn(
                    "links",
                    format!("cannot read the sync links: {e}"),
                    "run the doctor as root or as the hub's user",
                )];
            }
        };
        let peers = status["peers"].as_array().cloned().unwrap_or_default();
        if peers.is_empty() {
            return vec![Finding::ok("links", "no cloud or other hub linked")];
        }
        peers
            .iter()
            .map(|peer| {
                let url = peer["url"].as_str().unwrap_or("?");
                if peer["connected"] == true {
                    let since = peer["connected_since"].as_i64().map_or_else(String::new, |t| format!(" since {}", utc(t)));
                    Finding::ok("links", format!("{url} connected{since}"))
                } else {
                    let since = peer["down_since"].as_i64().map_or_else(String::new, |t| format!(" since {}", utc(t)));
                    let why = peer["last_error"].as_str().unwrap_or("no attempt has answered yet");
                    Finding::warn(
                        "links",
                        format!("{url} is not connected{since}: {why}"),
                        "changes wait and are sent once it is back; check the network, or `hearth sync status`",
                    )
                }
            })
            .collect()
    })
}
