//! Memory given back (prints numbers; asserts nothing), against the real
//! hub process: its resident memory idle after READY, at the peak of a
//! storm of 2,000 connections opened at once (1,000 on the Blynk port,
//! 1,000 on MQTT, from 16 loopback addresses so no per-address cap
//! refuses them) that then all drop, and every 5 s for a minute after:
//! how long until it is back within 2x the baseline (target: within a
//! minute), and where it settles.
//!
//! `cargo bench --bench memory`.

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

use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const PER_PORT: usize = 1_000;
const ADDRESSES: u8 = 16;
const SETTLE: Duration = Duration::from_secs(60);

fn rss_mib(pid: u32) -> f64 {
    rss::rss_kib(pid) as f64 / 1024.0
}

/// An MQTT 3.1.1 CONNECT as a device would send it (a wrong token: the
/// hub reads it, refuses it, and closes).
fn mqtt_connect() -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0b1100_0010, 0, 60];
    for field in ["storm", "device", "0123456789abcdef0123456789abcdef"] {
        body.extend_from_slice(&(field.len() as u16).to_be_bytes());
        body.extend_from_slice(field.as_bytes());
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let h = api::household(&tmp.path().join("state"));
    let pid = h.hub.child.id();
    std::thread::sleep(Duration::from_secs(2));
    let baseline = rss_mib(pid);
    println!("hub resident memory idle after READY: {baseline:.1} MiB");

    for round in 1..=2 {
        let started = Instant::now();
        let mut open = Vec::with_capacity(2 * PER_PORT);
        for i in 0..PER_PORT {
            let from = Ipv4Addr::new(127, 0, 1, 1 + (i % ADDRESSES as usize) as u8);
            let mut blynk = blynk::tcp_from(h.hub.blynk_port(), from);
            // Half a Blynk frame: the session waits for the rest.
            let _ = blynk.write_all(&[29, 0, 1]);
            open.push(blynk);
            let mut mqtt = blynk::tcp_from(h.hub.mqtt_port(), from);
            let _ = mqtt.write_all(&mqtt_connect()[..8]);
            open.push(mqtt);
        }
        std::thread::sleep(Duration::from_secs(2));
        let peak = rss_mib(pid);
        println!(
            "storm {round}: {} connections open in {:.1} s, hub resident memory {peak:.1} MiB",
            open.len(),
            started.elapsed().as_secs_f64()
        );
        drop(open);
        let dropped = Instant::now();
        let mut back_within_2x = None;
        let mut samples = Vec::new();
        while dropped.elapsed() < SETTLE {
            std::thread::sleep(Duration::from_secs(5));
            let now = rss_mib(pid);
            samples.push(format!("{now:.1}"));
            if back_within_2x.is_none() && now <= 2.0 * baseline {
                back_within_2x = Some(dropped.elapsed());
            }
        }
        println!(
            "storm {round}: after the drop, every 5 s (MiB): {}; within 2x the baseline ({:.1} MiB): {}",
            samples.join(", "),
            2.0 * baseline,
            back_within_2x.map_or("not within a minute".to_owned(), |t| format!(
                "after {:.0} s",
                t.as_secs_f64()
            ))
        );
    }
}
