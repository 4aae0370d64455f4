//! The allocator's part of the memory budget (glibc's malloc, which the
//! release binaries link on every target, armv7 included). Measured in
//! `benches/memory.rs` on the 2-core build machine: a storm of 2,000
//! connections took the hub from 17 to 51 MiB and it stayed at 53 MiB
//! (the next storm: 66 MiB), because glibc keeps freed memory in its
//! arenas and returns only the top of a heap by itself. Every few seconds
//! the hub now asks malloc to give back the free pages of every arena
//! (`malloc_trim`, which also releases free pages inside a heap): after a
//! storm it is back at 22-23 MiB within 5-10 s, storm after storm. It also
//! keeps to two arenas (fewer half-empty heaps): measured alone that is
//! worth under 1 MiB (22.3 against 23.0 MiB after a storm), kept because a
//! Pi has more cores, and so more arenas by default, than this machine.
//! Elsewhere (musl, other systems) both are no-ops.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often free memory is given back: a storm is over within a minute
/// (issue 18's target) with room to spare; an idle hub's trim of a small
/// heap takes well under a millisecond.
pub const GIVE_BACK_EVERY: Duration = Duration::from_secs(10);

/// At most two malloc arenas: called before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable; called before other threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Gives free memory back to the system every [`GIVE_BACK_EVERY`] until
/// `shutdown`.
pub async fn give_back(shutdown: CancellationToken) {
    let mut every = tokio::time::interval(GIVE_BACK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            // A trim walks the heap: off the runtime's threads, so a big
            // heap's trim never holds up a connection's task.
            _ = every.tick() => {
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    }
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe; 0 keeps no padding.
    unsafe {
        libc::malloc_trim(0);
    }
}
