//! Hearth: a local-first home hub.
//!
//! # Layout
//! The modules follow the picture in `DESIGN.md` §1:
//! - [`hub`]: [`hub::Hub`], the handle that starts and owns every part.
//! - [`config`]: the TOML configuration, its built-in default, validation.
//! - [`state_dir`]: where state lives and the lock that gives one hub sole use.
//! - [`store`]: SQLite, owned by one thread; batched writes; backup/restore.
//! - [`api`]: the HTTPS API (axum) and its TLS identity.
//! - [`mdns`]: advertising `_hearth._tcp.local.` and browsing for hubs.
//! - [`tenancy`]: the household's sharing state (Automerge), access, audit.
//! - [`accounts`]: setup code, passwords, sessions, login throttling.
//! - [`devices`]: live values, history, events, commands, online links.
//! - [`blynk`]: the Blynk device protocol over TCP, TLS and serial ports.
//! - [`cloud`]: `hearth cloud`, the many-tenant cloud endpoint.
//! - [`sync`]: links to the cloud and other hubs, replication grants.
//! - [`service`]: sd_notify, logging to the journal or stderr, signals.
//! - [`cli`]: the `hearth` command line; `main.rs` only calls it.

pub mod accounts;
pub mod api;
pub mod ble;
pub mod blynk;
pub mod cli;
pub mod client;
pub mod cloud;
pub mod config;
pub mod devices;
pub mod hub;
pub mod listener;
pub mod mdns;
pub mod mqtt;
pub mod service;
pub mod state_dir;
pub mod store;
pub mod sync;
pub mod tenancy;

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
