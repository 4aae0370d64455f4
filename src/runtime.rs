//! What the hub and the cloud run under: one shutdown token, the long-lived
//! parts (each spawned with its name, so one that ends or panics is
//! reported by name), the short-lived tasks (connections) in one tracker, a
//! bounded drain, and the runtime file that tells `hearth status` and tests
//! where they listen. It knows nothing of households (see [`crate::node`])
//! and opens nothing itself but the admin socket. Shutdown never waits longer than the drain
//! time for parts and connections together; parts still running then are aborted.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api;
use crate::mdns;
use crate::node::NodeError;
use crate::state_dir::{RUNTIME_FILE, StateDir, StateDirError, write_atomic};
use crate::store::StoreError;
use crate::tasks::Parts;

/// Why the hub or the cloud did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    StateDir(#[from] StateDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Tls(#[from] api::tls::TlsError),
    #[error("API: {0}")]
    Bind(std::io::Error),
    #[error("state directory: cannot write {RUNTIME_FILE}: {0}")]
    Runtime(std::io::Error),
}

impl StartError {
    /// Whether starting again cannot help (state from a newer hearth): the
    /// service then exits with `EX_CONFIG`, which its unit does not restart.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            StartError::Store(StoreError::TooNew { .. })
                | StartError::Node(NodeError::Store(StoreError::TooNew { .. }))
        )
    }
}

/// What a running hub or cloud tells `hearth status`, tests and the READY
/// status line. Written to `runtime.json` in the state directory; removed
/// on shutdown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    pub hub_id: String,
    pub instance: String,
    pub version: String,
    pub api_addr: SocketAddr,
    pub api_scheme: String,
    /// SHA-256 of the API certificate (absent with plain HTTP).
    pub fingerprint: Option<String>,
    pub mdns: bool,
    /// Blynk device listeners (absent when off or not bound).
    pub blynk_addr: Option<SocketAddr>,
    pub blynk_tls_addr: Option<SocketAddr>,
    /// The MQTT device listener.
    pub mqtt_addr: Option<SocketAddr>,
}

impl RuntimeInfo {
    /// What this process serves as `id`/`instance` on `api_addr` (HTTPS
    /// when the certificate's `fingerprint` is given); no device listener
    /// and no mDNS until the caller says so.
    pub fn serving(
        id: &str,
        instance: &str,
        api_addr: SocketAddr,
        fingerprint: Option<String>,
    ) -> Self {
        RuntimeInfo {
            pid: std::process::id(),
            hub_id: id.to_owned(),
            instance: instance.to_owned(),
            version: env!("CARGO_PKG_VERSION").into(),
            api_addr,
            api_scheme: if fingerprint.is_some() {
                "https"
            } else {
                "http"
            }
            .into(),
            fingerprint,
            mdns: false,
            blynk_addr: None,
            blynk_tls_addr: None,
            mqtt_addr: None,
        }
    }

    pub fn api_url(&self) -> String {
        format!("{}://{}{}", self.api_scheme, self.api_addr, mdns::API_PATH)
    }
}

/// The runtime of a hub or a cloud; [`Runtime::drain`] then
/// [`Runtime::finish`] it.
pub struct Runtime {
    shutdown: CancellationToken,
    parts: Parts,
    tracker: TaskTracker,
    drain: Duration,
    state_dir: StateDir,
}

impl Runtime {
    /// A runtime over the locked `state_dir` whose drain takes at most `drain`.
    pub fn new(state_dir: StateDir, drain: Duration) -> Self {
        Runtime {
            shutdown: CancellationToken::new(),
            parts: Parts::default(),
            tracker: TaskTracker::new(),
            drain,
            state_dir,
        }
    }

    /// The one shutdown token; every part takes it or a child of it.
    pub fn token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Where short-lived tasks (connections) go; the drain waits for them.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Failures of the runtime's restarting loops (and its node's).
    pub fn restarts(&self) -> std::sync::Arc<crate::tasks::Restarts> {
        self.parts.restarts().clone()
    }

    pub fn parts(&mut self) -> &mut Parts {
        &mut self.parts
    }

    pub fn dir(&self) -> &Path {
        self.state_dir.path()
    }

    /// Serves `router` on the bound `listener` (over TLS with `tls`) until
    /// shutdown, its connections drained within the drain time.
    pub fn serve_api(
        &mut self,
        listener: tokio::net::TcpListener,
        tls: Option<&api::tls::TlsIdentity>,
        router: axum::Router,
        limits: api::Limits,
    ) {
        let tls = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.server_config.clone()));
        let (shutdown, tracker, drain) = (self.shutdown.clone(), self.tracker.clone(), self.drain);
        self.parts.spawn("API server", async move {
            api::serve(listener, tls, router, limits, shutdown, tracker, drain).await;
        });
    }

    /// Binds the admin socket and serves `router` there. Without it the
    /// role still serves; only console commands are unavailable.
    pub fn serve_console(&mut self, router: axum::Router) {
        match api::console::bind(self.dir()) {
            Ok(console) => {
                let (shutdown, tracker) = (self.shutdown.clone(), self.tracker.clone());
                self.parts.spawn("admin socket", async move {
                    api::console::serve(console, router, shutdown, tracker).await;
                });
            }
            Err(e) => tracing::error!(
                "no admin socket in {}: {e}; `hearth --console` will not work",
                self.dir().display()
            ),
        }
    }

    /// Writes the runtime file: the role is up.
    ///
    /// # Errors
    /// [`StartError::Runtime`] when it cannot be written.
    pub fn publish(&self, info: &RuntimeInfo) -> Result<(), StartError> {
        let runtime = serde_json::to_vec_pretty(info).unwrap_or_default();
        write_atomic(&self.dir().join(RUNTIME_FILE), &runtime, 0o644).map_err(StartError::Runtime)
    }

    /// Resolves if a long-lived part ends on its own (it should not before
    /// shutdown), saying which and how; the caller then shuts down.
    pub async fn part_ended(&mut self) -> String {
        match self.parts.next_ended().await {
            Some((said, _)) => said,
            None => std::future::pending().await,
        }
    }

    /// Cancels the token, waits for the parts and then the connections,
    /// for at most the drain time in all, and aborts what is left.
    pub async fn drain(&mut self) {
        self.shutdown.cancel();
        let deadline = tokio::time::Instant::now() + self.drain;
        while let Ok(Some((said, panicked))) =
            tokio::time::timeout_at(deadline, self.parts.next_ended()).await
        {
            // Ending is what parts do now; only a panic is news.
            if panicked {
                tracing::error!("{said}");
            }
        }
        self.parts.abort_all();
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "connections still open after {:?}; dropping them",
                self.drain
            );
        }
    }

    /// Removes the runtime file and the admin socket and releases the
    /// state directory (after [`Runtime::drain`] and closing what it served).
    pub fn finish(self) {
        let _ = std::fs::remove_file(self.dir().join(RUNTIME_FILE));
        let _ = std::fs::remove_file(api::console::path(self.dir()));
    }
}
