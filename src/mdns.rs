//! mDNS: advertising `_hearth._tcp.local.` so apps find the hub, and browsing
//! for other hubs (`hearth mdns browse`).
//!
//! The `mdns-sd` daemon thread is the actor that owns the sockets; this module
//! owns its handle. Addresses are followed automatically (a DHCP renewal or a
//! new interface is re-announced), and shutdown sends goodbyes before the
//! daemon stops. The TXT record carries only what DESIGN §5 allows: no
//! household or person names. It never chooses that record itself (the hub hands it the TXT
//! entries), and `browse` blocks its thread, so only the command line calls it.

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
    /// What is announced, so a TXT entry can be added later.
    info: std::sync::Mutex<ServiceInfo>,
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
        daemon.register(info.clone())?;
        tracing::info!(name = %fullname, port = ad.port, "advertising by mDNS");
        Ok(Self {
            daemon,
            fullname,
            info: std::sync::Mutex::new(info),
        })
    }

    /// Announces TXT `key=value` from now on (re-registers the service).
    ///
    /// # Errors
    /// [`MdnsError`] when the daemon refuses the record.
    pub fn set_txt(&self, key: &str, value: &str) -> Result<(), MdnsError> {
        let mut info = self.info.lock().unwrap_or_else(|e| e.into_inner());
        let mut txt: BTreeMap<String, String> = info
            .get_properties()
            .iter()
            .map(|p| (p.key().to_owned(), p.val_str().to_owned()))
            .collect();
        if txt.get(key).map(String::as_str) == Some(value) {
            return Ok(());
        }
        txt.insert(key.to_owned(), value.to_owned());
        let pairs: Vec<(&str, &str)> = txt.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let updated = ServiceInfo::new(
            SERVICE_TYPE,
            self.fullname
                .trim_end_matches(SERVICE_TYPE)
                .trim_end_matches('.'),
            info.get_hostname(),
            (),
            info.get_port(),
            &pairs[..],
        )?
        .enable_addr_auto();
        self.daemon.register(updated.clone())?;
        *info = updated;
        Ok(())
    }

    /// The daemon, to browse with the same sockets.
    pub fn daemon(&self) -> ServiceDaemon {
        self.daemon.clone()
    }

    /// Sends goodbye packets (TTL 0) and stops the daemon, within `limit`.
    pub async fn goodbye(&self, limit: Duration) {
        let (daemon, fullname) = (self.daemon.clone(), self.fullname.clone());
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

impl FoundHub {
    /// What a resolved announcement says.
    pub fn of(info: &mdns_sd::ResolvedService) -> FoundHub {
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
        FoundHub {
            instance,
            host: info.get_hostname().to_owned(),
            addresses,
            port: info.get_port(),
            txt,
        }
    }
}

/// Listens for `_hearth._tcp` for `wait` and returns every hub resolved.
///
/// # Errors
/// [`MdnsError`] when the daemon cannot start.
pub fn browse(config: &MdnsConfig, wait: Duration) -> Result<Vec<FoundHub>, MdnsError> {
    browse_with(daemon(config)?, wait)
}

/// Listens for `_hearth._tcp` for `wait` on the interface named `interface`
/// alone (queries go out there, and only answers that came in there count).
///
/// # Errors
/// [`MdnsError`] when the daemon cannot start or has no such interface.
pub fn browse_on(interface: &str, wait: Duration) -> Result<Vec<FoundHub>, MdnsError> {
    let daemon = ServiceDaemon::new()?;
    daemon.disable_interface(IfKind::All)?;
    daemon.enable_interface(IfKind::Name(interface.to_owned()))?;
    browse_with(daemon, wait)
}

fn browse_with(daemon: ServiceDaemon, wait: Duration) -> Result<Vec<FoundHub>, MdnsError> {
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = std::time::Instant::now() + wait;
    let mut found: BTreeMap<String, FoundHub> = BTreeMap::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(info)) => {
                let hub = FoundHub::of(&info);
                found.insert(hub.instance.clone(), hub);
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
