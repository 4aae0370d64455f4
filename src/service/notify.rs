//! `sd_notify(3)`: READY, STATUS, WATCHDOG and STOPPING for systemd.
//!
//! Every call is a no-op when `$NOTIFY_SOCKET` is unset (a hub run by hand),
//! so callers never check. A failed send is logged, never fatal: a hub that
//! cannot reach systemd still serves its devices.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("sd_notify failed: {e}");
    }
}

/// Every listener is bound and state is loaded.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A line for `systemctl status`.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// Pet the watchdog. Only the hub's core loop calls this, after proving the
/// parts it depends on answer.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// How often to pet the watchdog: half of `$WATCHDOG_USEC`, when it is set
/// for this process (`$WATCHDOG_PID` unset or ours).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}
