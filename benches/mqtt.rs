//! MQTT ingest benchmark (prints numbers; asserts nothing). A load
//! generator in its own process (this binary re-executed), 1,000 MQTT
//! clients over real TCP publishing QoS 1 values with a bounded in-flight
//! window each, for 10 s:
//!
//! 1. into the hub's listener as 1,000 devices: every PUBACK means the value
//!    is committed to history (`synchronous=FULL`): updates/s and the
//!    publish-to-PUBACK (publish-to-commit) latency p50/p99; then paced at
//!    half that rate, with a second, low-rate client (a person's switch,
//!    10 publishes/s) beside them: its publish-to-PUBACK p50/p99;
//! 2. through Debian's Mosquitto to one subscriber that stores nothing: the
//!    pass-through ceiling, and the ratio of the two.
//!
//! `cargo bench --bench mqtt`. Generator, broker and hub share the machine.

#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/api.rs"]
mod api;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/blynk.rs"]
mod blynk;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mod.rs"]
mod common;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mosquitto.rs"]
mod mosquitto;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::json;

const CLIENTS: usize = 1_000;
const SECONDS: u64 = 10;
/// QoS 1 messages each client keeps in flight.
const WINDOW: u16 = 8;
/// The publishes per second of a person's switch beside a flood.
const SWITCH_PER_SECOND: u32 = 10;

fn main() {
    if let Ok(target) = std::env::var("HEARTH_MQTT_LOAD") {
        return generate(&target);
    }
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // Measured at full speed: no device allowance in the way.
    // Every client connects from 127.0.0.1: no per-address cap.
    let config = common::TEST_CONFIG.replace(
        "[mqtt]\n",
        &format!(
            "[mqtt]\nmessages_per_second = 1000000\nmax_connections_per_address = {}\n",
            2 * CLIENTS
        ),
    );
    let h = api::household_with(&state, &config);
    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Counter", "definition": { "datastreams": [
            { "pin": 1, "name": "Count", "type": "int", "min": 0, "max": 1_000_000_000 },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let mut credentials: Vec<String> = (0..CLIENTS)
        .map(|i| blynk::provision(&h, &h.root, &format!("meter-{i}"), &template).1)
        .collect();
    let switch = blynk::provision(&h, &h.root, "hall switch", &template).1;
    let target = format!("hub:{}", h.hub.mqtt_port());
    let hub = run_load(&target, &credentials, 0.0);
    println!(
        "hub listener, {CLIENTS} devices, QoS 1 into durable history (synchronous=FULL per commit batch): {:.0} updates/s committed, publish-to-PUBACK p50 {:.2} ms, p99 {:.2} ms",
        hub.rate, hub.p50, hub.p99
    );
    // Half that load, paced, and a person's switch beside it.
    credentials.push(switch);
    let half = run_load(&target, &credentials, hub.rate / 2.0);
    println!(
        "hub listener at half that load ({:.0} updates/s offered by {CLIENTS} devices): {:.0} committed/s, publish-to-PUBACK p50 {:.2} ms, p99 {:.2} ms; a second client publishing {SWITCH_PER_SECOND}/s meanwhile: p50 {:.2} ms, p99 {:.2} ms",
        hub.rate / 2.0,
        half.rate,
        half.p50,
        half.p99,
        half.switch_p50,
        half.switch_p99
    );
    drop(h);

    let port = mosquitto::free_port();
    std::fs::create_dir_all(tmp.path().join("mq")).unwrap();
    // Nothing queued for the subscriber is dropped (protocols.md §6).
    let _broker = mosquitto::Mosquitto::start_with(
        &tmp.path().join("mq"),
        port,
        "max_queued_messages 0\nmax_inflight_messages 0\n",
    );
    let mut anonymous: Vec<String> = (0..CLIENTS).map(|i| format!("meter-{i}")).collect();
    let broker = format!("mosquitto:{port}");
    let ceiling = run_load(&broker, &anonymous, 0.0);
    println!(
        "Mosquitto 2.0 pass-through, {CLIENTS} publishers at QoS 1 to one subscriber that stores nothing: {:.0} messages/s delivered (publish-to-PUBACK p50 {:.2} ms, p99 {:.2} ms)",
        ceiling.rate, ceiling.p50, ceiling.p99
    );
    // The same half load and switch through Mosquitto: what the generator
    // and this machine add to a PUBACK's time by themselves.
    anonymous.push("switch".to_owned());
    let beside = run_load(&broker, &anonymous, hub.rate / 2.0);
    println!(
        "Mosquitto at the hub's half load ({:.0} offered): {:.0} delivered/s, publish-to-PUBACK p50 {:.2} ms, p99 {:.2} ms; the {SWITCH_PER_SECOND}/s client: p50 {:.2} ms, p99 {:.2} ms",
        hub.rate / 2.0,
        beside.rate,
        beside.p50,
        beside.p99,
        beside.switch_p50,
        beside.switch_p99
    );
    println!(
        "ratio hub / Mosquitto: {:.2}",
        hub.rate / ceiling.rate.max(1.0)
    );
}

struct Numbers {
    rate: f64,
    p50: f64,
    p99: f64,
    /// The low-rate client's, when there is one.
    switch_p50: f64,
    switch_p99: f64,
}

/// Runs the generator process against `target` with one credential per
/// client, at full speed (`pace` 0) or offering `pace` messages/s in all;
/// a paced run's credential past `CLIENTS` is a low-rate client's.
fn run_load(target: &str, credentials: &[String], pace: f64) -> Numbers {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("HEARTH_MQTT_LOAD", target)
        .env("HEARTH_MQTT_PACE", pace.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", credentials.join(" ")).unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let _ = child.wait();
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    Numbers {
        rate: numbers[0],
        p50: numbers[1],
        p99: numbers[2],
        switch_p50: numbers[3],
        switch_p99: numbers[4],
    }
}

/// The generator process: `hub:PORT` (device logins) or `mosquitto:PORT`
/// (anonymous, plus a subscriber counting deliveries). Prints one line:
/// rate p50_ms p99_ms switch_p50_ms switch_p99_ms.
fn generate(target: &str) {
    let (kind, port) = target.split_once(':').unwrap();
    let port: u16 = port.parse().unwrap();
    let pace: f64 = std::env::var("HEARTH_MQTT_PACE").unwrap().parse().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let mut credentials: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let switch = (credentials.len() > CLIENTS).then(|| credentials.split_off(CLIENTS));
    // Between one client's publishes when paced.
    let every = (pace > 0.0).then(|| Duration::from_secs_f64(CLIENTS as f64 / pace));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let delivered = Arc::new(AtomicU64::new(0));
    let output = runtime.block_on(async {
        if kind == "mosquitto" {
            let mut options = MqttOptions::new("counter", "127.0.0.1", port);
            options
                .set_inflight(u16::MAX)
                .set_keep_alive(Duration::from_secs(30));
            let (client, mut eventloop) = AsyncClient::new(options, 1024);
            client.subscribe("bench/#", QoS::AtLeastOnce).await.unwrap();
            let count = delivered.clone();
            tokio::spawn(async move {
                while let Ok(event) = eventloop.poll().await {
                    if let Event::Incoming(Packet::Publish(_)) = event {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let start = Instant::now() + Duration::from_secs(2);
        let tasks: Vec<_> = credentials
            .iter()
            .enumerate()
            .map(|(i, credential)| {
                tokio::spawn(client(
                    kind == "hub",
                    port,
                    i,
                    credential.clone(),
                    every,
                    start,
                    start + Duration::from_secs(SECONDS),
                ))
            })
            .collect();
        let switch = switch.map(|c| {
            tokio::spawn(client(
                kind == "hub",
                port,
                CLIENTS,
                c[0].clone(),
                Some(Duration::from_secs(1) / SWITCH_PER_SECOND),
                start,
                start + Duration::from_secs(SECONDS),
            ))
        });
        let counted_from = delivered.load(Ordering::Relaxed);
        let mut latencies = Vec::new();
        let mut acked = 0u64;
        for t in tasks {
            let (n, times) = t.await.unwrap();
            acked += n;
            latencies.extend(times);
        }
        latencies.sort();
        let mut switched = match switch {
            Some(t) => t.await.unwrap().1,
            None => Vec::new(),
        };
        switched.sort();
        let pick = |times: &[Duration], p: f64| {
            times
                .get(((times.len().max(1) - 1) as f64 * p) as usize)
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        let rate = if kind == "mosquitto" {
            (delivered.load(Ordering::Relaxed) - counted_from) as f64 / SECONDS as f64
        } else {
            acked as f64 / SECONDS as f64
        };
        format!(
            "{rate} {} {} {} {}",
            pick(&latencies, 0.5),
            pick(&latencies, 0.99),
            pick(&switched, 0.5),
            pick(&switched, 0.99)
        )
    });
    println!("{output}");
}

/// One client: connects, then from `start` to `end` keeps `WINDOW` QoS 1
/// publishes in flight (or publishes one `every` so often); returns how many were acknowledged in the window
/// and each one's publish-to-PUBACK time.
async fn client(
    hub: bool,
    port: u16,
    index: usize,
    credential: String,
    every: Option<Duration>,
    start: Instant,
    end: Instant,
) -> (u64, Vec<Duration>) {
    let mut options = MqttOptions::new(format!("load-{index}"), "127.0.0.1", port);
    options
        .set_inflight(WINDOW)
        .set_keep_alive(Duration::from_secs(60));
    let topic = if hub {
        options.set_credentials("device", credential);
        "ds/Count".to_owned()
    } else {
        format!("bench/{credential}/ds/Count")
    };
    let (client, mut eventloop) = AsyncClient::new(options, usize::from(WINDOW) * 2);
    let mut sent_at: std::collections::HashMap<u16, Instant> = std::collections::HashMap::new();
    let mut times = Vec::new();
    let mut acked = 0u64;
    // Keep the request queue fed from a separate task.
    let feeder = {
        let client = client.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut n: u64 = 0;
            while Instant::now() < end {
                n += 1;
                if let Some(every) = every {
                    // Spread over the interval so the clients do not beat together.
                    let offset = every.mul_f64((index % 97) as f64 / 97.0);
                    tokio::time::sleep_until((start + offset + every * n as u32).into()).await;
                }
                if client
                    .publish(
                        topic.clone(),
                        QoS::AtLeastOnce,
                        false,
                        (n % 1_000_000_000).to_string(),
                    )
                    .await
                    .is_err()
                {
                    return;
                }
            }
        })
    };
    while Instant::now() < end + Duration::from_millis(500) {
        // Quiet for 2 s once publishing: the other end is gone (before the
        // start a client may well wait longer).
        let quiet = Instant::now().max(start) + Duration::from_secs(2);
        let Ok(Ok(event)) = tokio::time::timeout_at(quiet.into(), eventloop.poll()).await else {
            break;
        };
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                sent_at.insert(pkid, Instant::now());
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(at) = sent_at.remove(&ack.pkid) {
                    let now = Instant::now();
                    if now <= end {
                        acked += 1;
                        times.push(now - at);
                    }
                }
            }
            _ => {}
        }
    }
    feeder.abort();
    (acked, times)
}
