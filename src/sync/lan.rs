//! Hubs of one household finding each other on the LAN: each announces an
//! opaque tenant tag in its mDNS TXT record (`t`, a hash: no household
//! name), and each browses for hubs with its own tag. A hub it finds is
//! dialed only if the household's credentials know it (unrevoked), with
//! its certificate pinned to the fingerprint recorded there, never to what
//! the LAN announced: a stranger copying the tag gets nothing. Of two hubs,
//! the one with the smaller id dials (one connection per pair), unless a
//! link to the other exists already, which then follows its new address.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceEvent};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::links::SyncLinks;
use crate::mdns::{FoundHub, SERVICE_TYPE};

/// The TXT key of the tenant tag.
pub const TAG_KEY: &str = "t";

/// The opaque tag hubs of `tenant_id` announce.
pub fn tenant_tag(tenant_id: &str) -> String {
    let digest = Sha256::digest(format!("hearth tenant tag\0{tenant_id}").as_bytes());
    hex::encode(&digest[..8])
}

/// Browses until `shutdown`, handing every hub of the household found to
/// `links`. The browse runs on a blocking thread (mdns-sd's channel is
/// synchronous); its finds come over a bounded channel.
pub async fn discover(links: Arc<SyncLinks>, daemon: ServiceDaemon, shutdown: CancellationToken) {
    let events = match daemon.browse(SERVICE_TYPE) {
        Ok(events) => events,
        Err(e) => {
            tracing::error!("sync: cannot browse the LAN for the household's hubs: {e}");
            return;
        }
    };
    let (found_tx, mut found) = tokio::sync::mpsc::channel::<FoundHub>(64);
    let stop = shutdown.clone();
    let browser = tokio::task::spawn_blocking(move || {
        while !stop.is_cancelled() {
            match events.recv_timeout(Duration::from_millis(500)) {
                Ok(ServiceEvent::ServiceResolved(info)) => {
                    if found_tx.blocking_send(FoundHub::of(&info)).is_err() {
                        break;
                    }
                }
                Ok(_) | Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    loop {
        let hub = tokio::select! {
            _ = shutdown.cancelled() => break,
            hub = found.recv() => match hub {
                Some(hub) => hub,
                None => break,
            },
        };
        let Some(tag) = links.tenant_tag() else {
            continue;
        };
        if hub.txt.get(TAG_KEY) != Some(&tag) {
            continue;
        }
        let Some(id) = hub.txt.get("id") else {
            continue;
        };
        let addresses = usable(&hub.addresses);
        if addresses.is_empty() {
            continue;
        }
        if let Err(e) = links.discovered(id, &addresses, hub.port).await {
            tracing::warn!(hub = %id, "sync: a hub found on the LAN was not linked: {e}");
        }
    }
    let _ = daemon.stop_browse(SERVICE_TYPE);
    let _ = browser.await;
}

/// The announced addresses a URL can reach, IPv4 first: not loopback, not
/// link-local IPv6 (it needs a scope a URL cannot carry).
fn usable(addresses: &[IpAddr]) -> Vec<IpAddr> {
    let mut usable: Vec<IpAddr> = addresses
        .iter()
        .filter(|a| match a {
            IpAddr::V4(v4) => !v4.is_loopback(),
            IpAddr::V6(v6) => !v6.is_loopback() && (v6.segments()[0] & 0xffc0) != 0xfe80,
        })
        .copied()
        .collect();
    usable.sort_by_key(|a| a.is_ipv6());
    usable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_a_url_reaches_are_used_ipv4_first() {
        let addresses: Vec<IpAddr> = ["fe80::1", "127.0.0.1", "2001:db8::5", "169.254.79.7"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let wanted: Vec<IpAddr> = ["169.254.79.7", "2001:db8::5"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(usable(&addresses), wanted);
    }

    #[test]
    fn the_tag_is_opaque_and_stable() {
        let tag = tenant_tag("3f2a9c0d11e5b7a4");
        assert_eq!(tag, tenant_tag("3f2a9c0d11e5b7a4"));
        assert_ne!(tag, tenant_tag("3f2a9c0d11e5b7a5"));
        assert_eq!(tag.len(), 16);
        assert!(!tag.contains("3f2a9c0d"));
    }
}
