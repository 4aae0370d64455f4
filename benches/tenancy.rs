//! Tenancy benchmark (prints numbers; asserts nothing).
//!
//! Builds, through the real operations, a tenant of 200 organizations,
//! 1,000 users and 10,000 devices, then keeps operating on it (renames,
//! transfers, moves, shares, role changes) up to 100,000 operations of
//! history. At each checkpoint a fresh child process loads the tenant from
//! a hub state directory (SQLite + samod, the hub's own start path) and
//! measures: load from disk to ready, resident memory, the access check
//! `can(user, control, device)` (p50/p99 over 200,000 random pairs), and
//! the device list of an admin who sees every device and of a member.
//!
//! `cargo bench --bench tenancy`; `-- --quick` builds a tenth of the size,
//! `-- --keep` keeps the generated documents and state directories.
//! Targets from the tenancy issue: check p99 < 2 µs, admin list < 20 ms,
//! load < 300 ms, RSS < 50 MB fresh (and report growth with history).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use automerge::Automerge;
use hearth::node::SCHEMA;
use hearth::store::Store;
use hearth::tenancy::{Access, Action, Replica, Target};

#[path = "support/tenant.rs"]
mod tenant;

use tenant::{Builder, NOW, Rng, Size};

fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Writes `doc` into a fresh hub state directory through the replica.
async fn prepare(doc_file: &Path, dir: &Path) {
    let doc = Automerge::load(&std::fs::read(doc_file).unwrap()).unwrap();
    let (store, thread, identity) = Store::open(dir, 512, SCHEMA).unwrap();
    let replica = Replica::open(store.clone(), &identity.hub_id)
        .await
        .unwrap();
    replica.install(doc).await.unwrap();
    replica.shutdown().await;
    store.close().await;
    thread.join().await;
}

/// Opens the state directory as the hub does and measures; prints one line.
async fn measure(dir: &Path, admin: &str) {
    let started = Instant::now();
    let (store, _thread, identity) = Store::open(dir, 512, SCHEMA).unwrap();
    let opened = started.elapsed();
    let replica = Replica::open(store.clone(), &identity.hub_id)
        .await
        .unwrap();
    let devices = replica.with_state(|s| s.devices().len()).unwrap();
    let ready = started.elapsed();
    eprintln!("  (store open {:.1} ms)", opened.as_secs_f64() * 1e3);
    let (rss, peak) = rss_kib();
    replica
        .with_state(|state| {
            let access = Access::new(state, NOW);
            let users: Vec<&String> = state.users().keys().collect();
            let mut ids: Vec<&String> = state.devices().keys().collect();
            ids.sort();
            let mut rng = Rng(42);
            let mut samples = Vec::with_capacity(200_000);
            let mut allowed = 0;
            for _ in 0..200_000 {
                let user = users[rng.below(users.len())];
                let device = ids[rng.below(ids.len())];
                let t = Instant::now();
                let yes = access.can(user, Action::Control, Target::Device(device));
                samples.push(t.elapsed());
                allowed += usize::from(std::hint::black_box(yes));
            }
            samples.sort();
            let list = |user: &str| {
                let mut times: Vec<Duration> = (0..20)
                    .map(|_| {
                        let t = Instant::now();
                        std::hint::black_box(access.devices_of(user));
                        t.elapsed()
                    })
                    .collect();
                times.sort();
                (percentile(&times, 0.5), access.devices_of(user).len())
            };
            let (admin_list, admin_sees) = list(admin);
            let member = users
                .iter()
                .find(|u| access.devices_of(u).len() > 3)
                .copied()
                .unwrap_or(users[0]);
            let (member_list, member_sees) = list(member);
            println!(
                "  ready {:.0} ms ({devices} devices) | RSS {:.1} MiB (peak {:.1}) | can() p50 {:.2} µs p99 {:.2} µs max {:.0} µs ({allowed} of 200000 allowed) | admin list {:.2} ms ({admin_sees} devices) | member list {:.3} ms ({member_sees})",
                ready.as_secs_f64() * 1e3,
                rss as f64 / 1024.0,
                peak as f64 / 1024.0,
                micros(percentile(&samples, 0.5)),
                micros(percentile(&samples, 0.99)),
                micros(samples[samples.len() - 1]),
                admin_list.as_secs_f64() * 1e3,
                member_list.as_secs_f64() * 1e3,
            );
        })
        .unwrap();
    replica.shutdown().await;
    store.close().await;
}

fn child(args: &[&str]) {
    let me = std::env::current_exe().unwrap();
    let status = std::process::Command::new(me).args(args).status().unwrap();
    assert!(status.success(), "{args:?} failed");
}

fn checkpoint(work: &Path, b: &mut Builder, label: &str) {
    let started = Instant::now();
    let bytes = b.t.doc().save();
    let saved = started.elapsed();
    let file = work.join(format!("{label}.automerge"));
    std::fs::write(&file, &bytes).unwrap();
    let dir = work.join(label);
    std::fs::create_dir_all(&dir).unwrap();
    let (file, dir) = (file.to_str().unwrap(), dir.to_str().unwrap());
    child(&["--prepare", file, dir]);
    let changes = b.t.doc().get_changes(&[]).len();
    let started = Instant::now();
    let doc = Automerge::load(&bytes).unwrap();
    let loaded = started.elapsed();
    let state = hearth::tenancy::TenantState::read(&doc).unwrap();
    let read = started.elapsed() - loaded;
    eprintln!(
        "  (in process: automerge load {:.0} ms, state read {:.0} ms, {} devices)",
        loaded.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3,
        state.devices().len()
    );
    println!(
        "{label}: {} operations ({changes} changes), document {:.1} MiB saved in {:.0} ms",
        b.ops,
        bytes.len() as f64 / (1024.0 * 1024.0),
        saved.as_secs_f64() * 1e3
    );
    child(&["--measure", dir, &b.admin]);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    match args.first().map(String::as_str) {
        Some("--prepare") => {
            return runtime().block_on(prepare(Path::new(&args[1]), Path::new(&args[2])));
        }
        Some("--measure") => return runtime().block_on(measure(Path::new(&args[1]), &args[2])),
        _ => {}
    }
    let quick = args.iter().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let size = Size {
        orgs: 200 / scale,
        users: 1_000 / scale,
        devices: 10_000 / scale,
        history: 100_000 / scale,
    };
    let work: PathBuf = tempfile::tempdir().unwrap().keep();
    let started = Instant::now();
    let mut b = Builder::build(&size);
    let built = started.elapsed();
    println!(
        "built {} orgs, {} memberships, {} devices in {} operations: {:.1} s ({:.0} µs per operation, validation and index refresh included)",
        b.orgs.len(),
        b.members.len(),
        b.devices.len(),
        b.ops,
        built.as_secs_f64(),
        micros(built) / b.ops as f64
    );
    checkpoint(&work, &mut b, "fresh");
    for fraction in [2, 1] {
        let target = size.history / fraction;
        let started = Instant::now();
        let before = b.ops;
        b.operate_until(target);
        println!(
            "operated up to {target}: {:.0} µs per operation",
            micros(started.elapsed()) / (b.ops - before).max(1) as f64
        );
        checkpoint(&work, &mut b, &format!("history-{target}"));
    }
    if args.iter().any(|a| a == "--keep") {
        println!("kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
}
