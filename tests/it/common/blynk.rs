//! Real Blynk clients (PyPI `blynklib`, `blynk-library-python`, npm
//! `blynk-library`) run as child processes and driven over their stdin,
//! reporting what they see as JSON lines (`tests/support/blynk_*_client.*`).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{Event, Household, Stream};

/// How long a client may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PyPI blynklib==0.2.6
    Blynklib,
    /// PyPI blynk-library-python==0.2.0 (`import BlynkLib`)
    BlynkLib,
    /// npm blynk-library@0.5.4
    Node,
}

/// A client program driven over its stdin, reporting JSON lines: the Blynk
/// clients here, the paho-mqtt device of `mqtt.rs`.
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    pub lines: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
}

fn support(name: &str) -> String {
    format!("{}/tests/support/{name}", env!("CARGO_MANIFEST_DIR"))
}

impl Client {
    /// Starts a client of `kind` against `127.0.0.1:port` (or `host`).
    pub fn start(kind: Kind, host: &str, port: u16, token: &str, ca_file: Option<&Path>) -> Client {
        let mut command = match kind {
            Kind::Node => {
                let mut c = Command::new("node");
                c.arg(support("blynk_node_client.js"));
                c
            }
            Kind::Blynklib | Kind::BlynkLib => {
                let mut c = Command::new("python3");
                c.arg("-u").arg(support("blynk_py_client.py"));
                c.arg(if kind == Kind::Blynklib {
                    "blynklib"
                } else {
                    "BlynkLib"
                });
                c
            }
        };
        command.arg(host).arg(port.to_string()).arg(token);
        if let Some(ca) = ca_file {
            command.arg(ca);
        }
        Client::spawn(command)
    }

    /// Starts `command` with piped stdin/stdout; its lines become events
    /// (non-JSON ones as `{"event":"print","text":…}`).
    pub fn spawn(mut command: Command) -> Client {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the client (scripts/test-deps.sh installs them)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({ "event": "print", "text": line }));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Client {
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

    /// Waits for a line `wanted` accepts; panics with everything seen.
    pub fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("the client never showed {what}; it said: {:#?}", self.seen),
            }
        }
    }

    pub fn wait_connected(&mut self) {
        self.wait_for("connected", |l| l["event"] == "connected");
    }

    /// Waits until the device gets `values` written to virtual pin `pin`.
    pub fn wait_write(&mut self, pin: u8, values: &[&str]) {
        let want = json!(values);
        self.wait_for(&format!("a write of {values:?} to V{pin}"), |l| {
            l["event"] == "write" && l["pin"] == pin && l["values"] == want
        });
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A template for the tests' devices: V1 temperature (int 0..100), V2 a
/// label (string), V3 a switch kept for the next connection, V4 a relay
/// whose commands wait for the device's confirmation; event `overheat`.
pub fn thermostat_template(h: &Household) -> String {
    let created = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({
            "org": h.root,
            "name": "Thermostat",
            "definition": {
                "datastreams": [
                    { "pin": 1, "name": "Temperature", "type": "int", "min": 0, "max": 100 },
                    { "pin": 2, "name": "Label", "type": "string" },
                    { "pin": 3, "name": "Switch", "type": "int", "min": 0, "max": 1, "sync_on_connect": true },
                    { "pin": 4, "name": "Relay", "type": "int", "min": 0, "max": 1, "wait_for_confirmation": true },
                ],
                "events": [{ "code": "overheat", "name": "Too hot" }],
            },
        }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// Adds a device on `template` in `org`; returns its id and the auth token
/// shown with it.
pub fn provision(h: &Household, org: &str, name: &str, template: &str) -> (String, String) {
    let added = h.api.post(
        "/devices",
        Some(&h.admin),
        json!({ "org": org, "name": name, "template": template }),
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let token = added.body["token"].as_str().expect("the token, shown once");
    assert_eq!(token.len(), 32);
    (
        added.body["id"].as_str().unwrap().to_owned(),
        token.to_owned(),
    )
}

/// Waits on `stream` for a message `wanted` accepts, skipping others.
pub fn wait_stream(
    h: &Household,
    stream: &mut Stream,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match h.api.next(stream) {
            Event::Json(message) if wanted(&message) => return message,
            Event::Json(message) => seen.push(message),
            Event::Closed(code) => panic!("the stream closed ({code:?}) waiting for {what}"),
        }
    }
    panic!("the stream never showed {what}; it said: {seen:#?}")
}

/// `device`'s `pin` equal to `value`: a `{"type":"value"}` update, or a
/// `{"type":"values"}` snapshot showing it (a stream that opened just as
/// the value came sees it in its first snapshot instead of as an update).
pub fn is_value(device: &str, pin: &str, value: &str) -> impl Fn(&Value) -> bool {
    let (device, pin, value) = (device.to_owned(), pin.to_owned(), value.to_owned());
    move |m| {
        (m["type"] == "value"
            && m["device"] == device.as_str()
            && m["pin"] == pin.as_str()
            && m["value"] == value.as_str())
            || (m["type"] == "values"
                && m["devices"][&device]["values"][&pin]["value"] == value.as_str())
    }
}

/// `device` online or offline: an `{"type":"online"}` update, or a
/// `{"type":"values"}` snapshot showing it.
pub fn is_online(device: &str, online: bool) -> impl Fn(&Value) -> bool {
    let device = device.to_owned();
    move |m| {
        (m["type"] == "online" && m["device"] == device.as_str() && m["online"] == online)
            || (m["type"] == "values"
                && m["devices"]
                    .get(&device)
                    .is_some_and(|d| d["online"].is_object() == online))
    }
}

/// A Blynk device written for the tests, frame by frame, over a blocking
/// socket: for what the real libraries cannot be made to do (go silent,
/// send broken frames, use BRIDGE and events).
pub struct RawDevice {
    pub stream: std::net::TcpStream,
    next_id: u16,
}

/// A frame read back: RESPONSE is `(0, id, status, [])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub command: u8,
    pub id: u16,
    pub len: u16,
    pub body: Vec<u8>,
}

impl Frame {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).replace('\0', " ")
    }
}

impl RawDevice {
    pub fn connect(port: u16) -> RawDevice {
        RawDevice::connect_from(port, std::net::Ipv4Addr::LOCALHOST)
    }

    /// Connects to the hub on 127.0.0.1 from another loopback address.
    pub fn connect_from(port: u16, from: std::net::Ipv4Addr) -> RawDevice {
        let stream = tcp_from(port, from);
        stream.set_nodelay(true).unwrap();
        RawDevice { stream, next_id: 0 }
    }

    /// Connects, logs in with `token` and announces `heartbeat` seconds.
    pub fn login(port: u16, token: &str, heartbeat: u32) -> RawDevice {
        let mut device = RawDevice::connect(port);
        let id = device.send(29, token.as_bytes());
        assert_eq!(device.status_of(id), 200, "login");
        let info = format!("ver\00.1\0h-beat\0{heartbeat}\0dev\0test");
        let id = device.send(17, info.as_bytes());
        assert_eq!(
            device.recv(),
            Frame {
                command: 0,
                id,
                len: 200,
                body: vec![]
            },
            "INTERNAL answered first"
        );
        device
    }

    /// Sends a frame with the next id; returns the id.
    pub fn send(&mut self, command: u8, body: &[u8]) -> u16 {
        self.next_id += 1;
        let id = self.next_id;
        self.send_raw(&frame(command, id, body));
        id
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next frame; panics after [`WAIT`].
    pub fn recv(&mut self) -> Frame {
        self.try_recv().expect("a frame from the hub")
    }

    /// The next frame, or `None` when the hub closed the connection.
    pub fn try_recv(&mut self) -> Option<Frame> {
        use std::io::Read;
        let mut header = [0u8; 5];
        self.stream.read_exact(&mut header).ok()?;
        let command = header[0];
        let id = u16::from_be_bytes([header[1], header[2]]);
        let len = u16::from_be_bytes([header[3], header[4]]);
        let mut body = vec![0u8; if command == 0 { 0 } else { usize::from(len) }];
        self.stream.read_exact(&mut body).ok()?;
        Some(Frame {
            command,
            id,
            len,
            body,
        })
    }

    /// Reads until a RESPONSE to `id` arrives; returns its status.
    pub fn status_of(&mut self, id: u16) -> u16 {
        loop {
            let frame = self.recv();
            if frame.command == 0 && frame.id == id {
                return frame.len;
            }
        }
    }

    /// True once the hub has closed the connection (reads to EOF).
    pub fn closed_by_hub(&mut self) -> bool {
        while self.try_recv().is_some() {}
        true
    }
}

/// A blocking connection to 127.0.0.1:`port` from the loopback address
/// `from`, its reads bounded by [`WAIT`].
pub fn tcp_from(port: u16, from: std::net::Ipv4Addr) -> std::net::TcpStream {
    // std has no bind-before-connect; tokio's socket does, then lets go.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        socket.connect(to).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// The bytes of one frame.
pub fn frame(command: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![command];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A command as the admin: `PUT /devices/{device}/values/{pin}`.
pub fn command(h: &Household, device: &str, pin: &str, value: Value) -> crate::api::Reply {
    h.api.call(
        "PUT",
        &format!("/devices/{device}/values/{pin}"),
        Some(&h.admin),
        Some(json!({ "value": value })),
    )
}

/// The raw history of `device`'s `pin` (the last day), oldest first.
pub fn history_values(h: &Household, device: &str, pin: &str) -> Vec<String> {
    let history = h.api.get(
        &format!("/devices/{device}/history?pin={pin}"),
        Some(&h.admin),
    );
    assert_eq!(history.status, 200, "{}", history.body);
    history.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap().to_owned())
        .collect()
}
