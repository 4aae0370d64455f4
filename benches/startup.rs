//! Service benchmark (prints numbers; asserts nothing): start-to-READY time,
//! idle resident memory after READY, and the size of the release binaries.
//!
//! `cargo bench --bench startup`. Targets from the service issue: READY under
//! 100 ms, idle RSS under 10 MB, stripped aarch64 binary under 12 MB.
//! Runs the hub on loopback with mDNS off, and again inside a private network
//! namespace with mDNS on (root only), so multicast never leaves this machine.

#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/api.rs"]
mod api;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mod.rs"]
mod common;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/netns.rs"]
mod netns;
#[path = "support/rss.rs"]
mod rss;

use rss::rss_kib;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{HubProcess, TEST_CONFIG, hearth, hearth_run};

const RUNS: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(label: &str, mut times: Vec<Duration>, rss: &[u64]) {
    times.sort();
    println!(
        "{label}: start-to-READY over {} runs: min {:.1} ms, median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        times.len(),
        times[0].as_secs_f64() * 1e3,
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    let max = rss.iter().max().copied().unwrap_or(0);
    let mut sorted = rss.to_vec();
    sorted.sort();
    println!(
        "{label}: idle RSS 1 s after READY: median {:.1} MiB, max {:.1} MiB",
        sorted[sorted.len() / 2] as f64 / 1024.0,
        max as f64 / 1024.0
    );
}

/// Starts `make()` RUNS times on one state directory (the first run also
/// creates the database and certificate, and is reported on its own).
fn measure(label: &str, state: &Path, make: impl Fn() -> std::process::Command) {
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for run in 0..RUNS {
        let start = Instant::now();
        let mut hub = HubProcess::start_command(make(), state);
        let ready = start.elapsed();
        std::thread::sleep(Duration::from_secs(1));
        let kib = rss_kib(hub.child.id());
        assert!(hub.terminate().0.success());
        if run == 0 {
            println!(
                "{label}: first start (creates database + TLS certificate): {:.1} ms, RSS {:.1} MiB",
                ready.as_secs_f64() * 1e3,
                kib as f64 / 1024.0
            );
        } else {
            times.push(ready);
            rss.push(kib);
        }
    }
    report(label, times, &rss);
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("hearth.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();
    let state = tmp.path().join("loopback");
    measure("loopback, mDNS off", &state, || hearth_run(&config, &state));

    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root {
        let gateway = netns::NetNs::new();
        let peer = netns::NetNs::new();
        netns::link(&gateway, &peer, 79);
        let state = tmp.path().join("lan");
        measure("veth LAN, mDNS on, embedded defaults", &state, || {
            let mut cmd = gateway.hearth(hearth());
            cmd.arg("run").env("STATE_DIRECTORY", &state);
            cmd
        });
    } else {
        println!("veth LAN, mDNS on: not measured (needs root for network namespaces)");
    }

    large_history(tmp.path());

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    for target in [
        "release",
        "aarch64-unknown-linux-gnu/release",
        "armv7-unknown-linux-gnueabihf/release",
    ] {
        let bin = root.join(target).join("hearth");
        match std::fs::metadata(&bin) {
            Ok(m) => println!(
                "binary {target}/hearth: {:.2} MiB ({} bytes, stripped)",
                m.len() as f64 / 1048576.0,
                m.len()
            ),
            Err(_) => println!(
                "binary {target}/hearth: not built (scripts/build-release.sh builds the release ones)"
            ),
        }
    }
}

/// Rows of history for the large-history restart, half of them past the
/// 30-day retention (the worst case for a purge at start).
const HISTORY_ROWS: usize = 3_000_000;

/// Issue 13's stall: a hub with 3 million history rows killed with -9, then
/// started again: start-to-READY, and how long the first acknowledged
/// change (a durable API write) takes after it.
fn large_history(tmp: &Path) {
    let state = tmp.join("large");
    let h = api::household_with(&state, TEST_CONFIG);
    drop(h);
    let day = 86_400_000i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let filled = Instant::now();
    {
        let conn = rusqlite::Connection::open(state.join("hearth.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; BEGIN;")
            .unwrap();
        let mut row = conn
            .prepare("INSERT INTO history (device, pin, at, value) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        let mut live = conn
            .prepare("INSERT OR REPLACE INTO live_values (device, pin, value, at) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        let pins = 100;
        for i in 0..HISTORY_ROWS {
            let device = format!("bench-{}", i % pins);
            // Spread over 60 days back from now, one pin's rows in time order.
            let at = now - 60 * day + (i / pins) as i64 * (60 * day / (HISTORY_ROWS / pins) as i64);
            row.execute(rusqlite::params![device, "V1", at, "21.5"])
                .unwrap();
            if i + pins >= HISTORY_ROWS {
                live.execute(rusqlite::params![device, "V1", "21.5", at])
                    .unwrap();
            }
        }
        drop((row, live));
        conn.execute_batch("COMMIT;").unwrap();
    }
    println!(
        "large history: {HISTORY_ROWS} rows written in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    // Killed with -9 once, as in the report, then started again.
    let mut hub = HubProcess::start(&state, TEST_CONFIG);
    hub.child.kill().unwrap();
    let _ = hub.child.wait();
    drop(hub);
    for run in 0..3 {
        let start = Instant::now();
        let mut hub = HubProcess::start(&state, TEST_CONFIG);
        let ready = start.elapsed();
        let api = api::Api::new(hub.api_port(), &hub.fingerprint());
        let login = api.post(
            "/login",
            None,
            serde_json::json!({ "email": "admin@example.org", "password": api::PASSWORD }),
        );
        let token = login.body["token"].as_str().unwrap_or_default().to_owned();
        let root = api.get("/me", Some(&token)).body["memberships"][0]["org"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let asked = Instant::now();
        let made = api.post(
            "/orgs",
            Some(&token),
            serde_json::json!({ "parent": root, "name": format!("Bench {run}") }),
        );
        let acked = asked.elapsed();
        println!(
            "large history restart {}: READY in {:.1} ms; first acknowledged change ({}) {:.1} ms after",
            run + 1,
            ready.as_secs_f64() * 1e3,
            made.status,
            acked.as_secs_f64() * 1e3,
        );
        assert!(hub.terminate().0.success());
    }
}
