//! Test harness: the real `hearth` binary as a child process, a real
//! `NOTIFY_SOCKET` datagram socket standing in for systemd, and Python's ssl
//! module as an HTTPS client that pins the certificate.
//!
//! `HEARTH_BIN` runs another build of the binary (an aarch64 one in CI), and
//! `HEARTH_RUNNER` puts a command before it (`qemu-aarch64 -L …`).

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every wait in these tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Loopback, port 0, no mDNS: tests never use fixed ports or the real LAN.
pub const TEST_CONFIG: &str = "[api]\nlisten = \"127.0.0.1:0\"\n\n[mdns]\nenabled = false\n\n[mqtt]\nlisten = \"127.0.0.1:0\"\n\n[blynk]\nlisten = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\n";

pub fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

/// A `Command` for the hearth binary under test.
pub fn hearth() -> Command {
    let bin = std::env::var("HEARTH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hearth").into());
    let runner = std::env::var("HEARTH_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(first) => {
            let mut cmd = Command::new(first);
            cmd.args(words).arg(bin);
            cmd
        }
        None => Command::new(bin),
    };
    for var in [
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "JOURNAL_STREAM",
    ] {
        cmd.env_remove(var);
    }
    cmd.env_remove("STATE_DIRECTORY")
        .env_remove("CONFIGURATION_DIRECTORY")
        .env("RUST_LOG", "info");
    cmd
}

/// `hearth run --config CONFIG --state-dir STATE`.
pub fn hearth_run(config: &Path, state_dir: &Path) -> Command {
    let mut cmd = hearth();
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state_dir);
    cmd
}

/// Runs `hearth ARGS` to completion; returns (status, stdout, stderr).
pub fn hearth_output(args: &[&str]) -> (ExitStatus, String, String) {
    let out = hearth().args(args).output().expect("run hearth");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// systemd's side of `sd_notify`: a datagram socket the hub writes to.
pub struct NotifySocket {
    socket: UnixDatagram,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        Self {
            socket,
            path,
            _dir: dir,
        }
    }

    /// Next message, or `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Reads messages until one has a line equal to `line`; returns all read.
    pub fn wait_for(&self, line: &str) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(msg) = self.recv(left) else { break };
            let done = msg.lines().any(|l| l == line);
            seen.push(msg);
            if done {
                return seen;
            }
        }
        panic!("no {line:?} from the hub within {TIMEOUT:?}; got {seen:?}");
    }
}

/// A hub process. Killed on drop if a test left it running.
pub struct HubProcess {
    pub child: Child,
    pub state_dir: PathBuf,
    pub notify: NotifySocket,
    /// The first notification batch up to READY=1.
    pub ready_messages: Vec<String>,
    stderr: Arc<(Mutex<String>, std::sync::Condvar)>,
}

impl HubProcess {
    /// Starts `hearth run` on `state_dir` with `config` and waits for READY=1.
    pub fn start(state_dir: &Path, config: &str) -> Self {
        let config_path = state_dir.with_extension("toml");
        std::fs::write(&config_path, config).unwrap();
        Self::start_command(hearth_run(&config_path, state_dir), state_dir)
    }

    /// Starts `cmd` (a `hearth run` of the caller's making) and waits for READY=1.
    pub fn start_command(mut cmd: Command, state_dir: &Path) -> Self {
        let notify = NotifySocket::new();
        let mut child = cmd
            .env("NOTIFY_SOCKET", &notify.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hearth");
        let stderr = Arc::new((Mutex::new(String::new()), std::sync::Condvar::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.0
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                sink.1.notify_all();
            }
        });
        let mut hub = Self {
            child,
            state_dir: state_dir.to_owned(),
            notify,
            ready_messages: Vec::new(),
            stderr,
        };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = hub.child.try_wait().unwrap() {
                panic!("hub exited with {status} before READY:\n{}", hub.stderr());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no READY=1 within {TIMEOUT:?}:\n{}",
                hub.stderr()
            );
            if let Some(msg) = hub.notify.recv(left.min(Duration::from_millis(200))) {
                let ready = msg.lines().any(|l| l == "READY=1");
                hub.ready_messages.push(msg);
                if ready {
                    return hub;
                }
            }
        }
    }

    /// The hub's `runtime.json` (port, fingerprint, hub id).
    pub fn runtime(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.state_dir.join("runtime.json")).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    pub fn api_port(&self) -> u16 {
        let addr = self.runtime()["api_addr"].as_str().unwrap().to_owned();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The Blynk listener's port (plain TCP), from `runtime.json`.
    pub fn blynk_port(&self) -> u16 {
        let addr = self.runtime()["blynk_addr"].as_str().unwrap().to_owned();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The MQTT listener's port.
    pub fn mqtt_port(&self) -> u16 {
        let addr = self.runtime()["mqtt_addr"].as_str().unwrap().to_owned();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The Blynk TLS listener's port.
    pub fn blynk_tls_port(&self) -> u16 {
        let addr = self.runtime()["blynk_tls_addr"]
            .as_str()
            .unwrap()
            .to_owned();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn fingerprint(&self) -> String {
        self.runtime()["fingerprint"].as_str().unwrap().to_owned()
    }

    /// `GET /api/v1/health` by Python's ssl, certificate pinned.
    pub fn health(&self) -> serde_json::Value {
        health_at("127.0.0.1", self.api_port(), &self.fingerprint())
    }

    pub fn stderr(&self) -> String {
        self.stderr.0.lock().unwrap().clone()
    }

    /// Waits until the hub's log has `needle` at least `times` times.
    pub fn wait_log(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + TIMEOUT;
        let mut log = self.stderr.0.lock().unwrap();
        while log.matches(needle).count() < times {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{needle:?} not logged {times} times within {TIMEOUT:?}:\n{log}"
            );
            log = self.stderr.1.wait_timeout(log, left).unwrap().0;
        }
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit; returns its status and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < limit,
                "hub still running {limit:?} later:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait (bounded) for the exit.
    pub fn terminate(&mut self) -> (ExitStatus, Duration) {
        self.signal("TERM");
        self.wait_exit(TIMEOUT)
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET /api/v1/health` at `host:port` by Python's ssl, pinned to `fp`.
pub fn health_at(host: &str, port: u16, fp: &str) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(support("https_health.py"))
        .args([host, &port.to_string(), fp])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "health check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
