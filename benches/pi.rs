//! A Pi-sized run (prints numbers; fails only if a value the hub
//! acknowledged is missing): the real hub under a 128 MiB memory limit
//! (a cgroup made by the benchmark when run as root: v2 `memory.max`, or
//! v1 `memory.limit_in_bytes` where memory is a v1 controller), holding the
//! generated household of 10,000 devices, with 1,000 more connected as
//! Blynk devices heartbeating (the simulator of `benches/devices.rs`) and
//! one MQTT device flooding QoS 1 values (each PUBACK after the commit)
//! while the API is asked for the admin's 10,000 devices and its health.
//! Then the hub is killed (-9): every acknowledged value must be in history.
//! Prints the cgroup's peak and OOM kills, the hub's resident memory, the
//! flood's acknowledged rate and the API's latencies.
//!
//! `cargo bench --bench pi`.

#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/api.rs"]
mod api;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/blynk.rs"]
mod blynk;
#[path = "support/cgroup.rs"]
mod cgroup;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "support/rss.rs"]
mod rss;
#[path = "support/simulator.rs"]
mod simulator;
#[path = "support/tenant.rs"]
mod tenant;

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;

/// The limit, MiB; `HEARTH_PI_LIMIT_MIB` sets another (to see how much
/// the run takes without one in the way).
const LIMIT_MIB: u64 = 128;
const CONNECTED: usize = 1_000;
const FLOOD: Duration = Duration::from_secs(20);

fn main() {
    if let Ok(port) = std::env::var("HEARTH_DEVICE_SIMULATOR") {
        return simulator::run(port.parse().unwrap());
    }
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let b = tenant::Builder::build(&tenant::HOUSEHOLD);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(tenant::install(&state, b, api::PASSWORD));

    let mib = std::env::var("HEARTH_PI_LIMIT_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LIMIT_MIB);
    let limit = cgroup::Limit::new("hearth-pi", mib << 20);
    match &limit {
        Some(l) => println!("memory limit: {mib} MiB ({})", l.describe()),
        None => println!("memory limit: none (making a cgroup needs root)"),
    }
    // The Blynk simulator's devices all connect from 127.0.0.1.
    let config_text = format!(
        "{}max_connections_per_address = {}\n",
        common::TEST_CONFIG,
        CONNECTED * 2
    );
    let config = tmp.path().join("hearth.toml");
    std::fs::write(&config, config_text).unwrap();
    let run = common::hearth_run(&config, &state);
    let cmd = match &limit {
        Some(l) => l.wrap(&run),
        None => run,
    };
    let mut hub = common::HubProcess::start_command(cmd, &state);
    let pid = hub.child.id();
    let api = api::Api::new(hub.api_port(), &hub.fingerprint());
    let login = api.post(
        "/login",
        None,
        json!({ "email": "admin@bench.test", "password": api::PASSWORD }),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let admin = login.body["token"].as_str().unwrap().to_owned();
    println!(
        "the household of 10,000 devices loaded, its admin logged in: hub RSS {:.1} MiB",
        rss_mib(pid)
    );
    let orgs = api.get("/orgs", Some(&admin));
    let root = orgs.body[0]["id"].as_str().unwrap().to_owned();
    let template = api.post(
        "/templates",
        Some(&admin),
        json!({ "org": root, "name": "Sim", "definition": { "datastreams": [
            { "pin": 1, "name": "Count", "type": "int", "min": 0, "max": 1_000_000_000 },
        ] } }),
    );
    let template = template.body["id"].as_str().unwrap().to_owned();
    let add = |name: &str| {
        let added = api.post(
            "/devices",
            Some(&admin),
            json!({ "org": root, "name": name, "template": template }),
        );
        assert_eq!(added.status, 201, "{}", added.body);
        (
            added.body["id"].as_str().unwrap().to_owned(),
            added.body["token"].as_str().unwrap().to_owned(),
        )
    };
    let tokens: Vec<String> = (0..CONNECTED).map(|i| add(&format!("sim-{i}")).1).collect();
    let (flooder, flood_token) = add("flooder");
    println!(
        "household: 10,000 devices, {CONNECTED} more to connect; hub RSS {:.1} MiB",
        rss_mib(pid)
    );

    let mut sim = simulator::Simulator::start(hub.blynk_port(), &tokens);
    let ready = sim.line();
    std::thread::sleep(Duration::from_secs(12)); // a heartbeat or more
    println!("simulator: {ready}; hub RSS {:.1} MiB", rss_mib(pid));

    let mqtt_port = hub.mqtt_port();
    let flood = std::thread::spawn(move || flood_one(mqtt_port, flood_token));
    let (mut listed, mut health, mut failed) = (Vec::new(), Vec::new(), 0);
    let mut peak_rss = 0.0f64;
    let end = Instant::now() + FLOOD;
    while Instant::now() < end {
        for (path, times) in [("/devices", &mut listed), ("/health", &mut health)] {
            let started = Instant::now();
            let reply = api.get(path, Some(&admin));
            if reply.status == 200 {
                times.push(started.elapsed());
            } else {
                failed += 1;
            }
        }
        peak_rss = peak_rss.max(rss_mib(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (acked, rate) = flood.join().unwrap();
    println!(
        "flood on one MQTT device for {} s: {acked} values acknowledged ({rate:.0}/s)",
        FLOOD.as_secs()
    );
    println!(
        "API during the flood: GET /devices (10,000+) p50 {} p99 {}, GET /health p50 {} p99 {}, {failed} failed",
        ms(&mut listed, 0.5),
        ms(&mut listed, 0.99),
        ms(&mut health, 0.5),
        ms(&mut health, 0.99)
    );
    println!("hub RSS: peak sampled {peak_rss:.1} MiB");
    if let Some(l) = &limit {
        println!("{}", l.report());
    }

    sim.quit();
    hub.child.kill().unwrap();
    let _ = hub.child.wait();
    let conn = rusqlite::Connection::open_with_flags(
        state.join("hearth.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let stored: i64 = conn
        .query_row(
            // Acknowledged values not yet folded are in the journal.
            "SELECT (SELECT COUNT(*) FROM history WHERE device = ?1)
                  + (SELECT COUNT(*) FROM value_journal WHERE device = ?1 AND kept)",
            [&flooder],
            |r| r.get(0),
        )
        .unwrap();
    let stored = stored as u64;
    println!(
        "after kill -9: {stored} of the flooder's values in history or its journal, {acked} acknowledged"
    );
    assert!(
        stored >= acked,
        "acknowledged values lost: {}",
        acked - stored
    );
    drop(limit);
}

fn rss_mib(pid: u32) -> f64 {
    rss::rss_kib(pid) as f64 / 1024.0
}

fn ms(times: &mut [Duration], p: f64) -> String {
    if times.is_empty() {
        return "-".into();
    }
    times.sort();
    let at = ((times.len() - 1) as f64 * p).round() as usize;
    format!("{:.1} ms", times[at].as_secs_f64() * 1e3)
}

/// One device publishing QoS 1 values as fast as the hub acknowledges
/// them (8 in flight) for [`FLOOD`]: how many were acknowledged, per second.
fn flood_one(port: u16, token: String) -> (u64, f64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let mut options = MqttOptions::new("flooder", "127.0.0.1", port);
        options
            .set_inflight(8)
            .set_keep_alive(Duration::from_secs(60))
            .set_credentials("device", token);
        let (client, mut eventloop) = AsyncClient::new(options, 16);
        let started = Instant::now();
        let end = started + FLOOD;
        tokio::spawn(async move {
            let mut n: u64 = 0;
            while Instant::now() < end {
                n += 1;
                if client
                    .publish("ds/Count", QoS::AtLeastOnce, false, n.to_string())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let mut acked = 0u64;
        while Instant::now() < end {
            match tokio::time::timeout(Duration::from_secs(5), eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("the flooding device lost its connection: {e}"),
                Err(_) => panic!("no answer from the hub for 5 s"),
            }
        }
        (acked, acked as f64 / started.elapsed().as_secs_f64())
    })
}
