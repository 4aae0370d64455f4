//! The admin socket: the same API over a Unix socket in the state
//! directory (`admin.sock`, mode 0600), for root and the hub's own service
//! user on the hub itself. Its requests act as the console
//! ([`Caller::Console`](crate::tenancy::Caller)): no login, every
//! permission — how a household that lost its last admin recovers. It never serves a peer that
//! is neither root nor the hub's user: each connection's uid is checked besides the file's mode.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub const SOCKET: &str = crate::state_dir::CONSOLE_SOCKET;

/// Marks a request as coming through the admin socket.
#[derive(Debug, Clone, Copy)]
pub struct Console;

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET)
}

/// Binds the socket (replacing a stale one from a crashed hub: the state
/// directory's lock guarantees no other hub uses it), readable by the
/// hub's user only.
///
/// # Errors
/// When the socket cannot be created.
pub fn bind(state_dir: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = path(state_dir);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves `router` as the console until `shutdown`. Besides the file's
/// mode, each peer's uid is checked: root or the hub's own user.
pub async fn serve(
    listener: UnixListener,
    router: Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let me = effective_uid();
    let router = router.layer(axum::Extension(Console));
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("admin socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let allowed = stream
            .peer_cred()
            .is_ok_and(|cred| cred.uid() == 0 || Some(cred.uid()) == me);
        if !allowed {
            tracing::warn!("admin socket: refused a peer that is neither root nor the hub's user");
            continue;
        }
        let service = TowerToHyperService::new(router.clone());
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = conn => {}
            }
        });
    }
}

/// This process's effective uid, read from `/proc/self/status` (no libc).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
