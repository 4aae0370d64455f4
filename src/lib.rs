//! Hearth: a local-first home hub.
//!
//! The crate root owns only the module list and the helpers every layer may use (`random_hex`;
//! `replay_fuzz_corpus` in tests). It never holds state or starts anything itself.
//!
//! # Layout
//! The modules follow the picture in `DESIGN.md` §1, in layers: a module
//! uses only those below it (the test in `layering.rs` fails on an import
//! the other way, and lists the order):
//!
//! ```text
//!   cli                       the `hearth` command line; main.rs only calls it
//!   hub · cloud               the two roles: bind, serve, advertise, own a runtime
//!   runtime                   one shutdown token, named parts, drain, runtime file
//!   node                      one household's parts, opened and closed in one place
//!   api                       the HTTPS API (axum), its TLS identity, the console,
//!                             browser sessions, the embedded household app
//!   blynk · mqtt · sync       transports; links to the cloud and other hubs
//!   ble · accounts            BLE adoption and decoding; passwords, sessions, throttling
//!   devices                   live values, history, outbox, commands, online links
//!   tenancy                   the household's sharing state (Automerge), access, audit
//!   store                     SQLite, owned by one thread; backup/restore
//!   mdns · client · listener · config · limiter · clock · backoff · tasks ·
//!   state_dir · service
//!                             foundations: no household knowledge
//! ```
//!
//! - [`hub`]: [`hub::Hub`], the handle that starts and owns every part.
//! - [`cloud`]: `hearth cloud`, the many-tenant cloud endpoint (a [`node::Node`]
//!   per tenant).
//! - [`runtime`]: what both run under ([`runtime::Runtime`]) and why a start
//!   fails ([`runtime::StartError`]).
//! - [`node`]: [`node::Node`], one household's parts (store, replica,
//!   accounts, devices, BLE, sync, retention), and the schema they share.
//! - [`api`]: the HTTPS API (axum), its TLS identity, the browser's session
//!   cookie and security headers, and the household app's embedded files
//!   (built from `app/` into `app/dist`).
//! - [`blynk`], [`mqtt`]: the device protocols; [`sync`]: links to the
//!   cloud and other hubs, replication grants.
//! - [`accounts`]: setup code, passwords, sessions, login throttling.
//! - [`ble`]: BLE bridges' sensors, the adoption inbox.
//! - [`devices`]: live values, history, events, commands, online links.
//! - [`tenancy`]: the household's sharing state (Automerge), access, audit.
//! - [`store`]: SQLite, owned by one thread; batched writes; backup/restore.
//! - [`mdns`]: advertising `_hearth._tcp.local.` and browsing for hubs.
//! - [`client`]: the API client the CLI and sync links use.
//! - [`listener`]: binding, address keys and the one accept loop (per-address
//!   and global caps) every listener shares.
//! - [`config`]: the TOML configuration, its built-in default, validation.
//! - [`limiter`], [`clock`], [`tasks`], [`backoff`]: failure throttling,
//!   the node's one wall clock (manual in tests), owned long-lived tasks
//!   and the loops that restart, retry waits.
//! - [`state_dir`]: where state lives and the lock that gives one hub sole use.
//! - [`service`]: sd_notify, logging to the journal or stderr, signals.

pub mod accounts;
pub mod api;
pub mod backoff;
pub mod ble;
pub mod blynk;
pub mod cli;
pub mod client;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod devices;
pub mod hub;
pub mod limiter;
pub mod listener;
pub mod mdns;
pub mod memory;
pub mod mqtt;
pub mod node;
pub mod runtime;
pub mod service;
pub mod state_dir;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod tenancy;

#[cfg(test)]
mod layering;

/// `bytes` random bytes from the OS, as lower-case hex.
///
/// # Panics
/// When the OS has no randomness to give, which leaves nothing safe to do.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random number generator failed");
    hex::encode(buf)
}

/// Replays the committed corpus of fuzz target `target` through `check`
/// (on stable, in every test run).
#[cfg(test)]
pub(crate) fn replay_fuzz_corpus(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus is committed") {
        check(&std::fs::read(entry.unwrap().path()).unwrap());
        replayed += 1;
    }
    assert!(
        replayed >= 5,
        "only {replayed} corpus inputs in {}",
        dir.display()
    );
}
