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
//! Elsewhere (musl, other systems) both are no-ops. And blocks of 256 KiB
//! and more are always their own mapping, unmapped when freed: glibc's
//! default raises that threshold to the size of any such block freed (up
//! to 32 MiB), after which a password hash's 19 MiB, say, came from the
//! heap and stayed there until the next trim.
//!
//! Most of an idle hub's resident memory was not heap but its own program:
//! of 14.2 MiB after READY, 8.9 MiB were pages of the binary mapped while
//! it started (opening the store, migrations, the certificate, parsing the
//! config, and the kernel's fault-around, which maps 64 KiB around each
//! page touched), of which 0.6 MiB were touched again in 12 s idle. Every
//! few seconds the hub now also drops its mappings of its own code and
//! read-only data ([`release_code_pages`]): the pages stay in the page
//! cache, and code that runs again is mapped again at the cost of a minor
//! fault, so what stays resident is the code the hub is running.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often free memory is given back: a storm is over within a minute
/// (issue 18's target) with room to spare; an idle hub's trim of a small
/// heap takes well under a millisecond.
pub const GIVE_BACK_EVERY: Duration = Duration::from_secs(10);

/// The first give-back, after the hub's start (tens of milliseconds) is
/// over: what only starting touched goes then.
const FIRST_GIVE_BACK: Duration = Duration::from_millis(500);

/// Blocks this large and larger are mapped on their own and unmapped when
/// freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const OWN_MAPPING: libc::c_int = 256 * 1024;

/// At most two malloc arenas, and large blocks always mapped on their own:
/// called before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets tunables; called before other threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING);
    }
}

/// Gives free memory back to the system [`FIRST_GIVE_BACK`] after the start,
/// then every [`GIVE_BACK_EVERY`], until `shutdown`.
pub async fn give_back(shutdown: CancellationToken) {
    let first = tokio::time::Instant::now() + FIRST_GIVE_BACK;
    let mut every = tokio::time::interval_at(first, GIVE_BACK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            // A trim walks the heap: off the runtime's threads, so a big
            // heap's trim never holds up a connection's task.
            _ = every.tick() => {
                let _ = tokio::task::spawn_blocking(|| {
                    trim();
                    release_code_pages();
                })
                .await;
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

/// Drops this process's mappings of the pages of its own binary that can
/// be mapped again from the file as they were: not writable, and never
/// written (no private copy: the relocated read-only data is one, and
/// dropping it would lose the relocations). Found once, from
/// `/proc/self/smaps`; none on failure.
pub fn release_code_pages() {
    #[cfg(target_os = "linux")]
    {
        static CLEAN: std::sync::OnceLock<Vec<(usize, usize)>> = std::sync::OnceLock::new();
        let ranges = CLEAN.get_or_init(|| {
            let exe = std::fs::read_link("/proc/self/exe").ok();
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
            match exe {
                Some(exe) => clean_ranges(&smaps, &exe.to_string_lossy()),
                None => Vec::new(),
            }
        });
        for &(start, end) in ranges {
            // SAFETY: each range is a whole read-only mapping of the binary
            // holding no private page: dropping it only unmaps pages the
            // kernel maps again from the page cache, unchanged.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// The mappings of `exe` in `smaps` that are neither writable nor hold an
/// anonymous (privately written) page.
fn clean_ranges(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            if let (Some((start, end)), Some(kib)) = (current, line.strip_prefix("Anonymous:")) {
                if kib.trim().trim_end_matches("kB").trim() == "0" {
                    ranges.push((start, end));
                }
                current = None;
            }
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let path = line.find(" /").map(|at| line[at + 1..].trim_end());
        current =
            (path == Some(exe) && perms.as_bytes().get(1) == Some(&b'-')).then_some((start, end));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::clean_ranges;

    const SMAPS: &str = "\
55d0a0000000-55d0a0272000 r--p 00000000 fe:00 5383040                    /usr/bin/hearth
Size:               2504 kB
Rss:                1448 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw sd
55d0a0272000-55d0a0a90000 r-xp 00272000 fe:00 5383040                    /usr/bin/hearth
Size:               8312 kB
Anonymous:             0 kB
55d0a0a90000-55d0a0ad4000 r--p 00a8f000 fe:00 5383040                    /usr/bin/hearth
Size:                272 kB
Anonymous:           272 kB
55d0a0ad4000-55d0a0ade000 rw-p 00ad2000 fe:00 5383040                    /usr/bin/hearth
Anonymous:            40 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:00 77                         /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Anonymous:           512 kB
";

    /// Only the binary's code and never-written read-only data: not its
    /// relocated read-only data, its data, a library or the heap.
    #[test]
    fn only_the_binarys_clean_read_only_mappings_are_released() {
        assert_eq!(
            clean_ranges(SMAPS, "/usr/bin/hearth"),
            [
                (0x55d0a0000000, 0x55d0a0272000),
                (0x55d0a0272000, 0x55d0a0a90000)
            ]
        );
        assert_eq!(clean_ranges(SMAPS, "/usr/bin/other"), []);
    }

    /// The real process: its code is among the ranges, and dropping them
    /// leaves it running (this test goes on executing that code).
    #[test]
    fn this_process_releases_its_code_and_runs_on() {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let ranges = clean_ranges(&smaps, &exe.to_string_lossy());
        let here = this_process_releases_its_code_and_runs_on as *const () as usize;
        assert!(
            ranges.iter().any(|&(s, e)| (s..e).contains(&here)),
            "{ranges:x?}"
        );
        super::release_code_pages();
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
