//! Configuration: the TOML file, its built-in default and its validation.
//!
//! Owns the rules for what a valid configuration is. Everything here runs
//! before any port is bound, so a bad file stops the hub with a message that
//! names the file, the key and the reason (exit code 78, `EX_CONFIG`, which
//! the systemd unit lists in `RestartPreventExitStatus=`). It never touches
//! the network or the state directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod devices;

pub use devices::{
    BlynkConfig, BrokerConfig, DEFAULT_BLYNK_MAX_BODY, DevicesConfig, MqttConfig, SerialConfig,
};

/// The documented built-in default, byte for byte what
/// `hearth config default` prints and what a hub without a file runs with.
pub const DEFAULT_TOML: &str = include_str!("../config/hearth.toml");

/// The file name looked for in `$CONFIGURATION_DIRECTORY` and `/etc/hearth`.
pub const FILE_NAME: &str = "hearth.toml";

/// Exit code for configuration errors (`EX_CONFIG` from `sysexits.h`).
pub const EX_CONFIG: i32 = 78;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub hub: HubConfig,
    pub log: LogConfig,
    pub api: ApiConfig,
    pub mdns: MdnsConfig,
    pub store: StoreConfig,
    pub blynk: BlynkConfig,
    pub mqtt: MqttConfig,
    pub devices: DevicesConfig,
    pub sync: SyncConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// The longest wait between attempts to reach a peer, in seconds.
    pub max_backoff_secs: u64,
    /// The most telemetry values kept for the cloud; past it the oldest go.
    pub outbox_max: u64,
    /// Seconds between pings on every sync connection, both ways; one that
    /// hears nothing for three of these is taken as dead and redialed.
    pub keepalive_secs: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            max_backoff_secs: 60,
            outbox_max: 50_000_000,
            keepalive_secs: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// mDNS instance name. `None` means `hearth-<short id>`. Whatever is set
    /// here is visible to every device on the LAN.
    pub name: Option<String>,
    /// Used only when neither `--state-dir` nor `$STATE_DIRECTORY` is given.
    pub state_dir: Option<PathBuf>,
    /// Upper bound on the drain after SIGTERM/SIGINT, in seconds.
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter (`info`, `hearth=debug,info`); `RUST_LOG` wins.
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// HTTPS when true (the default); plain HTTP only when set to false.
    pub tls: bool,
    /// A certificate chain to serve instead of the hub's own.
    pub tls_cert_file: Option<PathBuf>,
    /// Its private key: a file, so it can come from systemd's `LoadCredential=`.
    pub tls_key_file: Option<PathBuf>,
    /// Connections served at once; the next waits in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one address (an IPv6 /64) may hold; more are closed.
    pub max_connections_per_address: usize,
    /// Seconds a client has to send a request's head.
    pub header_timeout_secs: u64,
    /// Seconds a connection with nothing in flight stays open without a byte.
    pub idle_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnsConfig {
    pub enabled: bool,
    /// Interface names to advertise on; empty means every interface.
    pub interfaces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Most writes the store actor folds into one transaction.
    pub batch_max: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            name: None,
            state_dir: None,
            shutdown_timeout_secs: 5,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0u16; 8], 8443)),
            tls: true,
            tls_cert_file: None,
            tls_key_file: None,
            max_connections: 1024,
            max_connections_per_address: 32,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
        }
    }
}

impl Default for MdnsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interfaces: Vec::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { batch_max: 512 }
    }
}

/// Why a configuration was refused. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {file}: cannot read it: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {file}: {reason}")]
    Syntax { file: PathBuf, reason: String },
    #[error("config file {file}: key `{key}`: {reason}")]
    Invalid {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

impl Config {
    /// Reads and validates the file at `path`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, and the key where one is at fault.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text`; `file` is only used in messages.
    ///
    /// # Errors
    /// [`ConfigError`] naming `file`, and the key where one is at fault.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            reason: describe_toml_error(&e, text),
        })?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let reason = describe_toml_error(e.inner(), text);
            ConfigError::Invalid {
                file: file.to_owned(),
                key: e.path().to_string(),
                reason: if reason.starts_with("unknown field") {
                    format!("unknown key: {reason}")
                } else {
                    reason
                },
            }
        })?;
        config
            .validate()
            .map_err(|(key, reason)| ConfigError::Invalid {
                file: file.to_owned(),
                key: key.into(),
                reason,
            })?;
        Ok(config)
    }

    /// Checks what types alone cannot say. Returns the offending key.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(name) = &self.hub.name
            && !is_dns_label(name)
        {
            return Err((
                "hub.name",
                format!(
                    "{name:?} is not a valid DNS label: use 1 to 63 letters, digits and '-', \
                         not starting or ending with '-'"
                ),
            ));
        }
        if self.hub.shutdown_timeout_secs == 0 || self.hub.shutdown_timeout_secs > 300 {
            return Err((
                "hub.shutdown_timeout_secs",
                "must be between 1 and 300 seconds".into(),
            ));
        }
        if let Err(e) = crate::service::logging::filter(&self.log.level) {
            return Err(("log.level", format!("not a valid log filter: {e}")));
        }
        match (&self.api.tls_cert_file, &self.api.tls_key_file) {
            (Some(_), None) => {
                return Err((
                    "api.tls_key_file",
                    "must be set when api.tls_cert_file is".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "api.tls_cert_file",
                    "must be set when api.tls_key_file is".into(),
                ));
            }
            _ => {}
        }
        for (key, path) in [
            ("api.tls_cert_file", &self.api.tls_cert_file),
            ("api.tls_key_file", &self.api.tls_key_file),
        ] {
            if let Some(path) = path
                && let Err(e) = std::fs::File::open(path)
            {
                return Err((key, format!("cannot read {}: {e}", path.display())));
            }
        }
        if let Some(bad) = self.mdns.interfaces.iter().find(|i| i.trim().is_empty()) {
            return Err(("mdns.interfaces", format!("empty interface name {bad:?}")));
        }
        if !(1..=100_000).contains(&self.store.batch_max) {
            return Err(("store.batch_max", "must be between 1 and 100000".into()));
        }
        if !(1..=600).contains(&self.sync.keepalive_secs) {
            return Err((
                "sync.keepalive_secs",
                "must be between 1 and 600 seconds".into(),
            ));
        }
        if !(1..=3600).contains(&self.sync.max_backoff_secs) {
            return Err((
                "sync.max_backoff_secs",
                "must be between 1 and 3600 seconds".into(),
            ));
        }
        if self.sync.outbox_max < 1000 {
            return Err(("sync.outbox_max", "must be at least 1000 values".into()));
        }
        self.blynk.validate()?;
        self.mqtt.validate()?;
        self.devices.validate()?;
        Ok(())
    }
}

/// Where the configuration comes from: an explicit `--config`, else
/// `$CONFIGURATION_DIRECTORY/hearth.toml`, else `/etc/hearth/hearth.toml`,
/// else the built-in default. Only an explicit path must exist.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CONFIGURATION_DIRECTORY") {
        // systemd may pass several directories separated by ':'; the first is ours.
        if let Some(first) = std::env::split_paths(&dir).next() {
            candidates.push(first.join(FILE_NAME));
        }
    }
    candidates.push(Path::new("/etc/hearth").join(FILE_NAME));
    candidates.into_iter().find(|p| p.is_file())
}

/// Loads the located file, or the built-in default when there is none.
///
/// # Errors
/// [`ConfigError`] for a missing explicit file or an invalid one.
pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
    match locate(explicit) {
        Some(path) => Ok((Config::load(&path)?, Some(path))),
        None => Ok((Config::default(), None)),
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim_end().to_owned();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{message} (line {line})")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text, Path::new("/x/hearth.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn embedded_default_is_the_default() {
        let parsed = Config::parse(DEFAULT_TOML, Path::new("config/hearth.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_section() {
        let e = err("[api]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n");
        assert!(e.contains("/x/hearth.toml"), "{e}");
        assert!(e.contains("key `api.listen_port`"), "{e}");
        assert!(e.contains("unknown key"), "{e}");
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let e = err("[mdns]\n\nenabled = \"yes\"\n");
        assert!(e.contains("key `mdns.enabled`"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(err("[api]\nlisten = \"nowhere\"\n").contains("key `api.listen`"));
        assert!(err("[hub]\nname = \"-bad\"\n").contains("key `hub.name`"));
        assert!(err("[log]\nlevel = \"info,[\"\n").contains("key `log.level`"));
        assert!(err("[store]\nbatch_max = 0\n").contains("key `store.batch_max`"));
        assert!(err("[sync]\nmax_backoff_secs = 0\n").contains("key `sync.max_backoff_secs`"));
        assert!(err("[sync]\noutbox_max = 10\n").contains("key `sync.outbox_max`"));
        assert!(
            err("[api]\ntls_cert_file = \"/etc/hostname\"\n").contains("key `api.tls_key_file`")
        );
        assert!(
            err("[api]\ntls_cert_file = \"/nope\"\ntls_key_file = \"/nope\"\n")
                .contains("cannot read /nope")
        );
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let e = err("[api\n");
        assert!(e.starts_with("config file /x/hearth.toml:"), "{e}");
        assert!(e.contains("line 1"), "{e}");
    }
}
