//! Living as a service: systemd notifications, logging, signals.
//!
//! Owns the process's conversation with its supervisor. It decides nothing
//! about the hub; the hub tells it when it is ready, alive and stopping.

pub mod logging;
pub mod notify;

/// Resolves on the first SIGTERM (how systemd stops a service) or SIGINT.
///
/// # Errors
/// When the signal handlers cannot be installed.
pub async fn shutdown_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
