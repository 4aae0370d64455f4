//! What edits to a loaded household keep in memory. A loaded document's
//! columns are single large slabs; automerge's column storage (hexane,
//! patched in `vendor/hexane`) splits them as devices are added, and
//! upstream left every split's old allocation in place: ~150 KiB kept per
//! added device in a household of 10,000, until the hub ran out of memory.
//!
//! The measure is the process's whole heap (glibc's `mallinfo2`), so the
//! test runs itself again in a process of its own, where nothing else
//! allocates meanwhile.

use std::process::Command;

use super::*;

const ALONE: &str = "HEARTH_TEST_MEMORY_ALONE";
const LOADED_DEVICES: usize = 10_000;
const ADDED: usize = 300;
/// What an added device may keep, with room for the state's own growth
/// (measured: 6.6 KiB; upstream hexane kept 80 KiB here, ~150 KiB in the hub).
const KEPT_PER_DEVICE: usize = 24 << 10;

/// Bytes allocated and in use: in arenas and in blocks mapped on their own.
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

#[test]
fn devices_added_to_a_loaded_household_keep_memory_in_proportion_to_what_they_add() {
    const NAME: &str = "tenancy::ops::tests::memory::devices_added_to_a_loaded_household_keep_memory_in_proportion_to_what_they_add";
    if std::env::var_os(ALONE).is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--test-threads=1", "--nocapture"])
            .env(ALONE, "1")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("1 passed"), "the test ran alone: {stdout}");
        for line in stdout.lines().filter(|l| l.contains("bytes kept")) {
            println!("{line}");
        }
        return;
    }
    let h = household();
    let mut t = h.t;
    for i in 0..LOADED_DEVICES {
        t.add_device(&h.admin, &h.root, &format!("device {i}"), None, NOW)
            .unwrap();
    }
    let saved = t.doc().save();
    drop(t);
    let mut t = Tenant::from_doc(Automerge::load(&saved).unwrap(), "hub-b");
    t.state().unwrap();
    let before = heap_in_use();
    for i in 0..ADDED {
        t.add_device(&h.admin, &h.root, &format!("added {i}"), None, NOW)
            .unwrap();
    }
    t.state().unwrap();
    let kept = heap_in_use().saturating_sub(before);
    println!("{ADDED} devices added to a loaded household of {LOADED_DEVICES}: {kept} bytes kept");
    assert!(
        kept < ADDED * KEPT_PER_DEVICE,
        "{ADDED} added devices kept {} KiB, {} KiB each",
        kept >> 10,
        (kept / ADDED) >> 10
    );
}
