//! The doctor's mDNS check: on in the configuration, announced by the hub,
//! and answered on each of this machine's network interfaces that is up —
//! one line per interface, so a firewall dropping UDP 5353 on the Wi-Fi but
//! not the wire is named for what it is.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::{Finding, Install};
use crate::mdns::FoundHub;

/// How long each interface is listened on (all at once, on threads).
const BROWSE_FOR: Duration = Duration::from_secs(3);

/// mDNS: on in the configuration, announced by the hub, answered on the LAN.
pub fn mdns(install: &Install) -> Vec<Finding> {
    if !install.config.mdns.enabled {
        return vec![Finding::warn(
            "mdns",
            format!(
                "mDNS is off in {}: phones and devices cannot find the hub by name",
                install.config_name()
            ),
            "set enabled = true under [mdns] and restart hearth (or give them its address)",
        )];
    }
    let Some(hub) = &install.hub else {
        return Vec::new();
    };
    if !hub.mdns {
        return vec![Finding::fail(
            "mdns",
            "mDNS is on in the configuration but the hub does not announce itself",
            "`journalctl -u hearth | grep -i mdns` says why (UDP port 5353 refused?)",
        )];
    }
    let chosen = &install.config.mdns.interfaces;
    let interfaces = lan_interfaces();
    if interfaces.is_empty() {
        return vec![Finding::warn(
            "mdns",
            "this machine has no network interface up but loopback: nothing on the LAN can find the hub",
            "connect it (`ip addr` lists the interfaces)",
        )];
    }
    let (asked, left_out): (Vec<_>, Vec<_>) = interfaces
        .into_iter()
        .partition(|(name, _)| chosen.is_empty() || chosen.contains(name));
    let answers = browse_each(asked.iter().map(|(name, _)| name.clone()).collect());
    let mut findings: Vec<Finding> = asked
        .iter()
        .zip(answers)
        .map(|((name, addresses), found)| on_interface(&hub.instance, name, addresses, found))
        .collect();
    findings.extend(left_out.iter().map(|(name, addresses)| {
        Finding::ok(
            "mdns",
            format!(
                "{name} ({}) is left out by [mdns] interfaces: the hub is not announced there",
                listed(addresses)
            ),
        )
    }));
    findings
}

/// What listening on `name` for the hub `instance` found.
fn on_interface(
    instance: &str,
    name: &str,
    addresses: &[IpAddr],
    found: Result<Vec<FoundHub>, String>,
) -> Finding {
    let here = format!("{name} ({})", listed(addresses));
    let hubs = match found {
        Ok(hubs) => hubs,
        Err(e) => {
            return Finding::warn(
                "mdns",
                format!("cannot listen for mDNS on {here}: {e}"),
                "is UDP port 5353 free to share (another mDNS responder without SO_REUSEPORT)?",
            );
        }
    };
    match hubs.iter().find(|h| h.instance == instance) {
        Some(answer) => {
            let mine: Vec<IpAddr> = answer
                .addresses
                .iter()
                .filter(|a| addresses.contains(a))
                .copied()
                .collect();
            if mine.is_empty() {
                Finding::warn(
                    "mdns",
                    format!(
                        "{instance}.local answers on {here} but with none of its addresses ({})",
                        listed(&answer.addresses)
                    ),
                    "devices there cannot reach the hub: restart hearth so it announces this interface",
                )
            } else {
                Finding::ok(
                    "mdns",
                    format!("{instance}.local answers on {here} with {}", listed(&mine)),
                )
            }
        }
        None => Finding::warn(
            "mdns",
            format!(
                "{instance}.local does not answer on {here} within {}s",
                BROWSE_FOR.as_secs()
            ),
            format!(
                "a firewall may drop UDP port 5353 on {name} (`sudo nft list ruleset | grep 5353`)"
            ),
        ),
    }
}

/// Listens on each interface at once: one answer (or error) per name, in
/// order.
fn browse_each(names: Vec<String>) -> Vec<Result<Vec<FoundHub>, String>> {
    let listening: Vec<_> = names
        .into_iter()
        .map(|name| {
            std::thread::spawn(move || {
                crate::mdns::browse_on(&name, BROWSE_FOR).map_err(|e| e.to_string())
            })
        })
        .collect();
    listening
        .into_iter()
        .map(|t| {
            t.join()
                .unwrap_or_else(|_| Err("the listener failed".into()))
        })
        .collect()
}

/// The interfaces that are up, other than loopback, with their addresses
/// (IPv4 first), by name.
fn lan_interfaces() -> Vec<(String, Vec<IpAddr>)> {
    let mut by_name: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for interface in if_addrs::get_if_addrs().unwrap_or_default() {
        if interface.is_loopback() || !interface.is_oper_up() {
            continue;
        }
        by_name
            .entry(interface.name.clone())
            .or_default()
            .push(interface.ip());
    }
    for addresses in by_name.values_mut() {
        addresses.sort_by_key(|a| (a.is_ipv6(), *a));
    }
    by_name.into_iter().collect()
}

/// Addresses as a person reads them: the IPv4 ones when there are any (an
/// interface's IPv6 link-local addresses are noise beside them), else all.
fn listed(addresses: &[IpAddr]) -> String {
    let v4 = addresses.iter().any(IpAddr::is_ipv4);
    let text: Vec<String> = addresses
        .iter()
        .filter(|a| a.is_ipv4() || !v4)
        .map(ToString::to_string)
        .collect();
    text.join(", ")
}
