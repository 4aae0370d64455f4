#![allow(dead_code)] // each test binary uses a part of it

//! An MQTT device on PyPI paho-mqtt (`tests/support/mqtt_device.py`),
//! driven over its stdin, reporting what it sees as JSON lines.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;

use serde_json::{Value, json};

use crate::blynk::WAIT;

/// A paho-mqtt device (`tests/support/mqtt_device.py`).
pub struct Device {
    child: Child,
    stdin: ChildStdin,
    pub lines: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
}

impl Device {
    /// A device on `127.0.0.1:port`; `prefix` goes before every topic it
    /// publishes or subscribes (`hearth/<id>/` on a household broker).
    pub fn start(port: u16, username: &str, password: &str, prefix: &str) -> Device {
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(crate::common::support("mqtt_device.py"))
            .args(["127.0.0.1", &port.to_string(), username, password, prefix])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with paho-mqtt (scripts/test-deps.sh installs it)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx
                    .send(serde_json::from_str(&line).unwrap_or(json!({ "text": line })))
                    .is_err()
                {
                    break;
                }
            }
        });
        Device {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("the device never showed {what}; it said {:#?}", self.seen),
            }
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
