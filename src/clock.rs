//! The one wall clock a node reads: milliseconds for what devices, history
//! and sharing record, seconds for sessions and codes. The node owns one
//! [`Clock`] and hands a clone to every part that records or compares wall
//! time (devices, accounts, sync links, the API); tests give it a manual
//! clock and drive it (share, invite and setup-code expiry run in
//! milliseconds). Timeouts and intervals use tokio's monotonic clock (which
//! tests drive with `tokio::time::pause`); history retention guards against
//! wall-clock jumps on top of these (`devices::history::ClockCheck`).
//! Nothing here may depend on another module of Hearth's. It never panics on
//! a clock set before 1970 (it reads 0), and must never time a timeout: its
//! readings jump when the wall clock is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A node's wall clock: the system's, or a manual one a test drives. Cheap
/// to clone; clones read (and drive) the same clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Unix milliseconds of a manual clock; none reads the system's.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at `unix_ms` until [`Clock::advance`] or
    /// [`Clock::set`] moves it.
    pub fn manual(unix_ms: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(unix_ms))),
        }
    }

    /// Milliseconds since the Unix epoch (0 before it: a hub without an RTC
    /// that booted in 1970 records 0, not a panic).
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => system_ms(),
        }
    }

    /// Seconds since the Unix epoch (as [`Clock::now_ms`], rounded down).
    pub fn unix_now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves a manual clock forward by `by`.
    ///
    /// # Panics
    /// On the system's clock: only a manual clock is driven.
    pub fn advance(&self, by: Duration) {
        let ms = self.manual.as_ref().expect("only a manual clock is driven");
        ms.fetch_add(
            i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Sets a manual clock to `unix_ms`, also backwards (a clock being set).
    ///
    /// # Panics
    /// On the system's clock: only a manual clock is driven.
    pub fn set(&self, unix_ms: i64) {
        let ms = self.manual.as_ref().expect("only a manual clock is driven");
        ms.store(unix_ms, Ordering::SeqCst);
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_driven_and_its_clones_share_it() {
        let clock = Clock::manual(1_700_000_000_999);
        let clone = clock.clone();
        assert_eq!(clock.now_ms(), 1_700_000_000_999);
        assert_eq!(clock.unix_now(), 1_700_000_000);
        clone.advance(Duration::from_millis(1));
        assert_eq!(clock.now_ms(), 1_700_000_001_000);
        assert_eq!(clock.unix_now(), 1_700_000_001);
        clock.set(5);
        assert_eq!(clone.now_ms(), 5);
    }

    #[test]
    fn the_system_clock_reads_the_present() {
        let before = system_ms();
        let read = Clock::system().now_ms();
        assert!(
            read >= before && read - before < 60_000,
            "{read} vs {before}"
        );
    }
}
