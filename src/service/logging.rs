//! Logging: the journal with structured fields when systemd started us with
//! stderr connected to it, human-readable stderr otherwise.
//!
//! `RUST_LOG` overrides the configured level. Nothing here may log a secret;
//! callers must not pass one.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(level: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
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
