//! Debian's Mosquitto as a household's own broker, for tests.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Mosquitto(Child);

impl Mosquitto {
    /// Mosquitto on `127.0.0.1:port`, anonymous clients allowed (the ACL
    /// a household would use is in the README), ready when this returns.
    pub fn start(dir: &Path, port: u16) -> Mosquitto {
        Mosquitto::start_with(dir, port, "")
    }

    /// Mosquitto with `extra` configuration lines on a port free when it
    /// starts, and that port. (Mosquitto cannot pick one itself, and a port
    /// free a moment ago may be taken by a parallel test's port-0 bind: then
    /// it exits, and another port is tried.)
    pub fn start_free(dir: &Path, extra: &str) -> (Mosquitto, u16) {
        for _ in 0..5 {
            let port = free_port();
            if let Some(broker) = Mosquitto::try_start(dir, port, extra) {
                return (broker, port);
            }
        }
        panic!(
            "mosquitto could not listen on any of 5 free ports; its log:\n{}",
            std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default()
        );
    }

    /// [`Mosquitto::start`] with `extra` configuration lines.
    pub fn start_with(dir: &Path, port: u16, extra: &str) -> Mosquitto {
        Mosquitto::try_start(dir, port, extra)
            .unwrap_or_else(|| panic!("mosquitto did not listen on {port}"))
    }

    /// Mosquitto on `port`, once it listens; `None` when it exits first
    /// (the port is taken) or does not listen within 10 s.
    fn try_start(dir: &Path, port: u16, extra: &str) -> Option<Mosquitto> {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            // Started as root, Mosquitto would switch to its own user, which
            // cannot read the password file in the test's private (0700)
            // directory: it stays as it was started.
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\nuser root\n{extra}"
            ),
        )
        .unwrap();
        let bin = ["/usr/sbin/mosquitto", "mosquitto"]
            .into_iter()
            .find(|b| Path::new(b).exists())
            .unwrap_or("mosquitto");
        // Its log, kept for a start that fails (said by `start_free`).
        let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stderr(log)
            .spawn()
            .expect("mosquitto (scripts/test-deps.sh installs it)");
        let mut broker = Mosquitto(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if broker.0.try_wait().ok().flatten().is_some() || Instant::now() >= deadline {
                return None;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Listening, and it is Mosquitto (one that lost the port
                // exits at once).
                std::thread::sleep(Duration::from_millis(50));
                if broker.0.try_wait().ok().flatten().is_none() {
                    return Some(broker);
                }
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on now (Mosquitto cannot be told to pick one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
