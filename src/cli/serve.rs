//! Running a long-lived role (`hearth run`, `hearth cloud`): start it, tell
//! systemd it is ready, wait for SIGTERM/SIGINT or a part that ended, tell
//! systemd it is stopping, shut it down. Exit 0 on a signal, 1 otherwise. It never says READY
//! before the role's start has returned, and never starts one before the signal handlers exist.

use std::process::ExitCode;

use crate::cloud::Cloud;
use crate::hub::Hub;
use crate::runtime::{RuntimeInfo, StartError};
use crate::service::{self, notify};

/// What `serve` needs of a role.
pub trait Role: Sized {
    /// How it names itself in the ready line (`""` for the hub).
    const NAME: &'static str;
    fn info(&self) -> &RuntimeInfo;
    /// Resolves if a long-lived part ends on its own, naming it.
    fn part_ended(&mut self) -> impl Future<Output = String>;
    fn shutdown(self) -> impl Future<Output = ()>;
}

impl Role for Hub {
    const NAME: &'static str = "";
    fn info(&self) -> &RuntimeInfo {
        Hub::info(self)
    }
    fn part_ended(&mut self) -> impl Future<Output = String> {
        Hub::part_ended(self)
    }
    fn shutdown(self) -> impl Future<Output = ()> {
        Hub::shutdown(self)
    }
}

impl Role for Cloud {
    const NAME: &'static str = "cloud ";
    fn info(&self) -> &RuntimeInfo {
        Cloud::info(self)
    }
    fn part_ended(&mut self) -> impl Future<Output = String> {
        Cloud::part_ended(self)
    }
    fn shutdown(self) -> impl Future<Output = ()> {
        Cloud::shutdown(self)
    }
}

/// Runs the role `start` makes, on `workers` runtime threads (all cores
/// when `None`), logging at `log_level`.
pub fn serve<R: Role>(
    log_level: &str,
    workers: Option<usize>,
    start: impl Future<Output = Result<R, StartError>>,
) -> ExitCode {
    crate::memory::limit_arenas();
    service::logging::init(log_level);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::failure(&e),
    };
    runtime.block_on(async move {
        let mut signals = match service::ShutdownSignals::install() {
            Ok(signals) => signals,
            Err(e) => return super::failure(&e),
        };
        let mut role = match start.await {
            Ok(role) => role,
            Err(e) => {
                tracing::error!("cannot start: {e:#}");
                notify::status(&format!("failed to start: {e}"));
                if e.is_permanent() {
                    return ExitCode::from(crate::config::EX_CONFIG as u8);
                }
                return ExitCode::FAILURE;
            }
        };
        let status = super::ready_status(role.info());
        tracing::info!("{}{status}", R::NAME);
        notify::ready(&status);
        let code = tokio::select! {
            name = signals.recv() => {
                tracing::info!("{name}: shutting down");
                ExitCode::SUCCESS
            }
            why = role.part_ended() => {
                tracing::error!("{why}; shutting down");
                ExitCode::FAILURE
            }
        };
        notify::stopping("shutting down");
        role.shutdown().await;
        code
    })
}
