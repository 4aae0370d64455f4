//! Logging: the journal with structured fields when systemd started us with
//! stderr connected to it, human-readable stderr otherwise.
//!
//! `RUST_LOG` overrides the configured level. Both are a [`filter`]: a
//! default level and `target=level` pairs (`hearth::mqtt=debug,info`), as
//! `tracing_subscriber`'s `Targets` reads them. (Its `EnvFilter`, which
//! also filters by span and field values, linked a regex engine: 0.33 MiB of
//! the binary a hub does not need.) Nothing here may log a secret; callers
//! must not pass one.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(level: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| filter(&v).ok())
        .or_else(|| filter(level).ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    if stderr_is_journal() {
        match tracing_journald::layer() {
            Ok(journald) => {
                let journald = journald
                    .with_syslog_identifier("hearth".into())
                    .with_priority_mappings(syslog_priorities());
                let _ = registry.with(journald).try_init();
                return;
            }
            Err(e) => eprintln!("hearth: journal unavailable ({e}); logging to stderr"),
        }
    }
    // Colours only for a person at a terminal: a pipe or a file gets
    // plain text (escape codes made logs unreadable and ungreppable).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = registry
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(colour)
                .with_writer(std::io::stderr),
        )
        .try_init();
}

/// The log filter `spec` says.
///
/// # Errors
/// Says what in `spec` is not a level or `target=level`.
pub fn filter(spec: &str) -> Result<Targets, String> {
    for directive in spec.split(',').filter(|d| !d.is_empty()) {
        let target = directive.split_once('=').map_or(directive, |(t, _)| t);
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.');
        if !target.chars().all(plain) {
            return Err(format!(
                "`{directive}`: a directive is a level or `target=level` \
                 (span and field filters are not supported)"
            ));
        }
    }
    spec.parse::<Targets>().map_err(|e| e.to_string())
}

/// The usual syslog levels (tracing-journald 0.3 maps INFO to "notice" by
/// default, which `journalctl -p notice` would then show as if important).
fn syslog_priorities() -> tracing_journald::PriorityMappings {
    use tracing_journald::Priority;
    tracing_journald::PriorityMappings {
        error: Priority::Error,
        warn: Priority::Warning,
        info: Priority::Informational,
        debug: Priority::Debug,
        trace: Priority::Debug,
    }
}

/// systemd sets `$JOURNAL_STREAM` to `<dev>:<inode>` of the stream it
/// connected stderr to; if stderr is still that stream, log natively.
/// (A child whose stderr was redirected inherits the variable, hence the check.)
pub fn stderr_is_journal() -> bool {
    let Some(expected) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    stderr_identity()
        .is_some_and(|(dev, ino)| journal_stream_matches(&expected.to_string_lossy(), dev, ino))
}

fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

fn journal_stream_matches(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_a_level_and_target_levels() {
        let f = filter("hearth::mqtt=debug,warn").unwrap();
        assert!(f.would_enable("hearth::mqtt::listener", &tracing::Level::DEBUG));
        assert!(!f.would_enable("hearth::api", &tracing::Level::INFO));
        assert!(f.would_enable("hearth::api", &tracing::Level::WARN));
        assert!(
            filter("info")
                .unwrap()
                .would_enable("samod", &tracing::Level::INFO)
        );
        assert!(filter("hearth=loud").is_err());
        assert!(filter("info,hearth[conn]=debug").is_err());
    }

    #[test]
    fn journal_stream_is_matched_on_device_and_inode() {
        assert!(journal_stream_matches("8:1234", 8, 1234));
        assert!(!journal_stream_matches("8:1234", 8, 1235));
        assert!(!journal_stream_matches("garbage", 8, 1234));
    }

    #[test]
    fn our_own_stderr_identity_matches_itself() {
        let (dev, ino) = stderr_identity().unwrap();
        assert!(journal_stream_matches(&format!("{dev}:{ino}"), dev, ino));
    }
}
