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

    /// [`Mosquitto::start`] with `extra` configuration lines.
    pub fn start_with(dir: &Path, port: u16, extra: &str) -> Mosquitto {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n{extra}"),
        )
        .unwrap();
        let bin = ["/usr/sbin/mosquitto", "mosquitto"]
            .into_iter()
            .find(|b| Path::new(b).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .spawn()
            .expect("mosquitto (scripts/test-deps.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto(child)
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
