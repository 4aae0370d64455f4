//! mDNS: advertising `_hearth._tcp.local.` so apps find the hub, and browsing
//! for other hubs (`hearth mdns browse`).
//!
//! The `mdns-sd` daemon thread is the actor that owns the sockets; this module
//! owns its handle. Addresses are followed automatically (a DHCP renewal or a
//! new interface is re-announced), and shutdown sends goodbyes before the
//! daemon stops. The TXT record carries only what DESIGN §5 allows: no
//! household or person names.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};

use crate::config::MdnsConfig;

pub const SERVICE_TYPE: &str = "_hearth._tcp.local.";
/// The API path announced in TXT `api`.
pub const API_PATH: &str = "/api/v1";

#[derive(Debug, thiserror::Error)]
pub enum MdnsError {
    #[error("mDNS: {0}")]
    Daemon(#[from] mdns_sd::Error),
}

/// What the hub announces.
#[derive(Debug, Clone)]
pub struct Advertisement {
    /// Instance name, `hearth-<short id>` unless the admin chose one.
    pub instance: String,
    /// API port.
    pub port: u16,
    /// TXT key/values (`id`, `ver`, `api`, `fp`, listener ports).
    pub txt: BTreeMap<String, String>,
}

/// A running advertisement; [`Advertiser::goodbye`] withdraws it.
pub struct Advertiser {
    daemon: ServiceDaemon,
    fullname: String,
}

fn daemon(config: &MdnsConfig) -> Result<ServiceDaemon, MdnsError> {
    let daemon = ServiceDaemon::new()?;
    if !config.interfaces.is_empty() {
        daemon.disable_interface(IfKind::All)?;
        for name in &config.interfaces {
            daemon.enable_interface(IfKind::Name(name.clone()))?;
        }
    }
    Ok(daemon)
}

impl Advertiser {
    /// Starts announcing `ad` on the configured interfaces.
    ///
    /// # Errors
    /// [`MdnsError`] when the daemon cannot start or the record is invalid.
    pub fn start(config: &MdnsConfig, ad: &Advertisement) -> Result<Self, MdnsError> {
        let daemon = daemon(config)?;
        let host = format!("{}.local.", ad.instance);
        let txt: Vec<(&str, &str)> = ad
            .txt
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let info = ServiceInfo::new(SERVICE_TYPE, &ad.instance, &host, (), ad.port, &txt[..])?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        tracing::info!(name = %fullname, port = ad.port, "advertising by mDNS");
        Ok(Self { daemon, fullname })
    }

    /// Sends goodbye packets (TTL 0) and stops the daemon, within `limit`.
    pub async fn goodbye(self, limit: Duration) {
        let Self { daemon, fullname } = self;
        let work = tokio::task::spawn_blocking(move || {
            if let Ok(done) = daemon.unregister(&fullname) {
                let _ = done.recv_timeout(limit);
            }
            if let Ok(stopped) = daemon.shutdown() {
                let _ = stopped.recv_timeout(limit);
            }
        });
        if tokio::time::timeout(limit * 2, work).await.is_err() {
            tracing::warn!("mDNS goodbye did not finish in time");
        }
    }
}

/// A hub seen on the LAN.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FoundHub {
    pub instance: String,
    pub host: String,
    pub addresses: Vec<IpAddr>,
    pub port: u16,
    pub txt: BTreeMap<String, String>,
}

/// Listens for `_hearth._tcp` for `wait` and returns every hub resolved.
///
/// # Errors
/// [`MdnsError`] when the daemon cannot start.
pub fn browse(config: &MdnsConfig, wait: Duration) -> Result<Vec<FoundHub>, MdnsError> {
    let daemon = daemon(config)?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = std::time::Instant::now() + wait;
    let mut found: BTreeMap<String, FoundHub> = BTreeMap::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(info)) => {
                let instance = info
                    .get_fullname()
                    .trim_end_matches(SERVICE_TYPE)
                    .trim_end_matches('.')
                    .to_owned();
                let mut addresses: Vec<IpAddr> = info
                    .get_addresses()
                    .iter()
                    .map(|a| a.to_ip_addr())
                    .collect();
                addresses.sort();
                let txt = info
                    .get_properties()
                    .iter()
                    .map(|p| (p.key().to_owned(), p.val_str().to_owned()))
                    .collect();
                found.insert(
                    instance.clone(),
                    FoundHub {
                        instance,
                        host: info.get_hostname().to_owned(),
                        addresses,
                        port: info.get_port(),
                        txt,
                    },
                );
            }
            Ok(ServiceEvent::ServiceRemoved(_, fullname)) => {
                let instance = fullname
                    .trim_end_matches(SERVICE_TYPE)
                    .trim_end_matches('.');
                found.remove(instance);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    if let Ok(stopped) = daemon.shutdown() {
        let _ = stopped.recv_timeout(Duration::from_secs(1));
    }
    Ok(found.into_values().collect())
}
