//! Wall-clock readings, in one place: milliseconds for what devices,
//! history and sharing record, seconds for sessions and codes. Timeouts and
//! intervals use tokio's monotonic clock (which tests drive with
//! `tokio::time::pause`); history retention guards against wall-clock
//! jumps on top of these (`devices::history::ClockCheck`). Nothing here may
//! depend on another module of Hearth's. It never panics on a clock set before 1970 (it reads 0),
//! and must never time a timeout: these readings jump when the wall clock is set.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 before it: a hub without an RTC
/// that booted in 1970 records 0, not a panic).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Seconds since the Unix epoch (as [`now_ms`]).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
