//! Living as a service: systemd notifications, logging, signals.
//!
//! Owns the process's conversation with its supervisor. It decides nothing
//! about the hub; the hub tells it when it is ready, alive and stopping. It never starts,
//! stops or knows any part of Hearth: a signal is only reported to whoever waits for it.

pub mod logging;
pub mod noisy;
pub mod notify;

/// SIGTERM (how systemd stops a service) and SIGINT, caught from the moment
/// [`ShutdownSignals::install`] returns. Install them before anything starts:
/// a signal that arrives before its handler exists kills the process outright
/// (systemd may well send SIGTERM right after READY=1).
pub struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Must be called inside the tokio runtime.
    ///
    /// # Errors
    /// When the handlers cannot be installed.
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the first of them received since `install`, naming it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
