//! Devices benchmark (prints numbers; asserts nothing), against the real
//! hub process with a device simulator in its own process
//! (`support/simulator.rs`, real TCP connections):
//!
//! 1. 1,000 Blynk devices connected and heartbeating: the hub's resident
//!    memory (target under 40 MB).
//! 2. Command round trip at 1,000 commands/s: API `PUT` → hub → device →
//!    the device's echo (confirmation) seen on the WebSocket stream; p50
//!    and p99 (target p99 under 5 ms on loopback).
//! 3. Sustained `vw` updates from all devices, as fast as the hub takes
//!    them for 10 s: rows committed to history per second.
//!
//! `cargo bench --bench devices`. Generator, simulator and hub share the
//! machine's cores, so the numbers are a floor.

#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/api.rs"]
mod api;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/blynk.rs"]
mod blynk;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "support/rss.rs"]
mod rss;
#[path = "support/simulator.rs"]
mod simulator;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::ServerName;
use serde_json::json;

const DEVICES: usize = 1_000;
const COMMANDS_PER_SECOND: u64 = 1_000;
const COMMAND_SECONDS: u64 = 10;
const CONNECTIONS: usize = 16;
const FLOOD_SECONDS: u64 = 10;

fn rss_mib(pid: u32) -> f64 {
    rss::rss_kib(pid) as f64 / 1024.0
}

fn history_rows(db: &std::path::Path) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT COUNT(*) FROM history", [], |r| r.get(0))
        .unwrap()
}

fn main() {
    if let Ok(port) = std::env::var("HEARTH_DEVICE_SIMULATOR") {
        return simulator::run(port.parse().unwrap());
    }
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // Every simulated device connects from 127.0.0.1: no per-address cap.
    let config = format!(
        "{}messages_per_second = 1000000\nmax_connections_per_address = {}\n",
        common::TEST_CONFIG,
        DEVICES * 2
    );
    let h = api::household_with(&state, &config);
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Sim", "definition": { "datastreams": [
            { "pin": 1, "name": "Counter", "type": "int", "min": 0, "max": 1_000_000 },
            { "pin": 2, "name": "Command", "type": "string", "history": false, "wait_for_confirmation": true },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let (ids, tokens): (Vec<String>, Vec<String>) = (0..DEVICES)
        .map(|i| blynk::provision(&h, &h.root, &format!("sim-{i}"), &template))
        .unzip();
    println!(
        "{DEVICES} devices added with tokens in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let pid = h.hub.child.id();
    let idle = rss_mib(pid);

    let started = Instant::now();
    let mut sim = simulator::Simulator::start(h.hub.blynk_port(), &tokens);
    let ready = sim.line();
    println!(
        "simulator: {ready} in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(12)); // a heartbeat or more
    println!(
        "hub resident memory: {idle:.1} MiB before devices, {:.1} MiB with {DEVICES} devices connected and heartbeating",
        rss_mib(pid)
    );

    round_trips(&h, &ids);
    println!(
        "hub resident memory after the commands: {:.1} MiB",
        rss_mib(pid)
    );

    // Rows committed while every device writes as fast as the hub takes it.
    let db = state.join("hearth.db");
    let before = history_rows(&db);
    let started = Instant::now();
    sim.tell(&format!("flood {FLOOD_SECONDS}"));
    let sent: u64 = sim.line().trim_start_matches("sent ").parse().unwrap();
    let rows = history_rows(&db) - before;
    let took = started.elapsed().as_secs_f64();
    println!(
        "sustained vw from {DEVICES} devices at full speed: {:.0} updates/s committed to history ({rows} rows in {took:.1} s; {sent} frames written to the sockets; hub RSS {:.1} MiB)",
        rows as f64 / took,
        rss_mib(pid)
    );
    sim.quit();
}

/// Commands at a fixed rate through keep-alive HTTPS connections; each is
/// timed from the PUT until the device's echo appears on the stream.
fn round_trips(h: &api::Household, ids: &[String]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let connector = h.api.connector();
    let port = h.api.port();
    let admin: Arc<str> = Arc::from(h.admin.as_str());
    let total = (COMMANDS_PER_SECOND * COMMAND_SECONDS) as usize;
    let times = runtime.block_on(async {
        let tls = |connector: tokio_rustls::TlsConnector| async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            tcp.set_nodelay(true).unwrap();
            connector
                .connect(ServerName::try_from("hearth.local").unwrap(), tcp)
                .await
                .unwrap()
        };
        let url = format!("wss://hearth.local/api/v1/stream?access_token={admin}");
        let (mut ws, _) = tokio_tungstenite::client_async(url, tls(connector.clone()).await)
            .await
            .unwrap();
        let watcher_sent = sent.clone();
        let watcher = tokio::spawn(async move {
            let mut times = Vec::with_capacity(total);
            while times.len() < total {
                let Ok(Some(Ok(message))) =
                    tokio::time::timeout(Duration::from_secs(10), ws.next()).await
                else {
                    break;
                };
                let Ok(text) = message.into_text() else {
                    continue;
                };
                let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if value["type"] == "value" && value["pending"] == false && value["pin"] == "V2" {
                    let key = value["value"].as_str().unwrap_or_default().to_owned();
                    if let Some(at) = watcher_sent.lock().unwrap().remove(&key) {
                        times.push(at.elapsed());
                    }
                }
            }
            let _ = ws.close(None).await;
            times
        });
        let (queue_tx, queue_rx) = async_channel();
        for _ in 0..CONNECTIONS {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(
                hyper_util::rt::TokioIo::new(tls(connector.clone()).await),
            )
            .await
            .unwrap();
            tokio::spawn(conn);
            let queue = queue_rx.clone();
            let admin = admin.clone();
            let sent = sent.clone();
            tokio::spawn(async move {
                while let Ok((device, key)) = queue.recv().await {
                    let body = json!({ "value": key }).to_string();
                    let req = hyper::Request::put(format!("/api/v1/devices/{device}/values/V2"))
                        .header("host", "hearth.local")
                        .header("authorization", format!("Bearer {admin}"))
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    sent.lock().unwrap().insert(key, Instant::now());
                    let response = sender.send_request(req).await.unwrap();
                    let status = response.status();
                    let _ = response.into_body().collect().await;
                    assert_eq!(status, 200);
                }
            });
        }
        let mut tick =
            tokio::time::interval(Duration::from_micros(1_000_000 / COMMANDS_PER_SECOND));
        let started = Instant::now();
        for i in 0..total {
            tick.tick().await;
            queue_tx
                .send((ids[i % ids.len()].clone(), format!("c{i}")))
                .await
                .unwrap();
        }
        drop(queue_tx);
        let issued = started.elapsed();
        let times = watcher.await.unwrap();
        println!(
            "commands: {total} issued in {:.1} s ({:.0}/s), {} echoes seen",
            issued.as_secs_f64(),
            total as f64 / issued.as_secs_f64(),
            times.len()
        );
        times
    });
    let mut times = times;
    times.sort();
    if times.is_empty() {
        println!("command round trip: no echoes seen");
        return;
    }
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "command round trip (PUT → device → echo on the WebSocket) at {COMMANDS_PER_SECOND}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

/// A multi-consumer queue from tokio's mpsc (one receiver behind a lock).
fn async_channel<T: Send + 'static>() -> (tokio::sync::mpsc::Sender<T>, SharedReceiver<T>) {
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    (tx, SharedReceiver(Arc::new(tokio::sync::Mutex::new(rx))))
}

struct SharedReceiver<T>(Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<T>>>);

impl<T> Clone for SharedReceiver<T> {
    fn clone(&self) -> Self {
        SharedReceiver(self.0.clone())
    }
}

impl<T> SharedReceiver<T> {
    async fn recv(&self) -> Result<T, ()> {
        self.0.lock().await.recv().await.ok_or(())
    }
}
