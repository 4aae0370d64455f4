//! The household app's benchmark (prints numbers; asserts nothing): a real
//! hub with a household whose admin sees 1,000 devices, and Debian's
//! Chromium driving the app (`app.mjs`, playwright-core from
//! `tests/support`, installed by `scripts/test-deps.sh`):
//!
//! - the app shell as transferred, compressed (target ≤ 150 KB), and its
//!   first contentful paint on loopback (target < 300 ms);
//! - all 1,000 devices on the page after a reload, a re-render of the whole
//!   list (target < 200 ms), frames while scrolling (target 60 fps);
//! - 100 live updates a second while the list is shown: frames over 25 ms;
//! - device value → pixel on its open page, p50/p99;
//! - the hub's resident memory idle, and after serving the app (target:
//!   nothing measurable; the files are in the binary's read-only data and
//!   paged in only when served), and what the embedded files weigh.
//!
//! `cargo bench --bench app`. Browser, hub and load share the machine's
//! cores, so the numbers are a floor.

#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/api.rs"]
mod api;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "support/rss.rs"]
mod rss;

use rss::rss_kib;
use std::process::Command;

use serde_json::json;

const DEVICES: usize = 1_000;

fn embedded_bytes() -> u64 {
    fn walk(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path())
                } else {
                    e.metadata().unwrap().len()
                }
            })
            .sum()
    }
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("app/dist/files"))
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // The updates of the benchmark are the devices' own: no allowance in the way.
    let config = format!("{}messages_per_second = 1000000\n", common::TEST_CONFIG);
    let h = api::household_with(&state, &config);
    let pid = h.hub.child.id();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let idle = rss_kib(pid);
    // Every app file served once (identity: inflated from the gzip).
    let (status, shell) = h.api.get_text("/index.html");
    assert_eq!(status, 200);
    for asset in shell.split('"').filter(|part| part.starts_with("/assets/")) {
        assert_eq!(h.api.get_text(asset).0, 200, "{asset}");
    }
    assert_eq!(h.api.get_text("/sw.js").0, 200);
    let after_files = rss_kib(pid);

    let template = h.api.post(
        "/templates",
        Some(&h.admin),
        json!({ "org": h.root, "name": "Sensor", "definition": { "datastreams": [
            { "pin": 1, "name": "Reading", "type": "double", "min": 0, "max": 100 },
        ] } }),
    );
    assert_eq!(template.status, 201, "{}", template.body);
    let devices: Vec<_> = (0..DEVICES)
        .map(|i| {
            let added = h.api.post(
                "/devices",
                Some(&h.admin),
                json!({ "org": h.root, "name": format!("Sensor {i:04}"), "template": template.body["id"] }),
            );
            assert_eq!(added.status, 201, "{}", added.body);
            json!({ "id": added.body["id"], "token": added.body["token"] })
        })
        .collect();
    let file = tmp.path().join("devices.json");
    std::fs::write(&file, serde_json::to_vec(&devices).unwrap()).unwrap();
    let filled = rss_kib(pid);

    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/app.mjs");
    let status = Command::new("node")
        .arg(bench)
        .arg(format!("https://127.0.0.1:{}", h.api.port()))
        .args(["admin@example.org", api::PASSWORD])
        .arg(&file)
        .status()
        .expect("node runs");
    assert!(status.success(), "app.mjs failed");
    let served = rss_kib(pid);
    println!(
        "hub RSS: {:.1} MiB idle, {:+} KiB after serving every app file once, {:.1} MiB with {DEVICES} devices, {:.1} MiB after the browser benchmark",
        idle as f64 / 1024.0,
        after_files as i64 - idle as i64,
        filled as f64 / 1024.0,
        served as f64 / 1024.0
    );
    println!(
        "embedded app files (brotli and gzip of each): {:.1} KB in the binary",
        embedded_bytes() as f64 / 1024.0
    );
}
