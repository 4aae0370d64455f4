//! Retrying, written once: exponential from a first delay to a cap, each
//! wait jittered (peers that lost the same broker or cloud do not all come
//! back at the same instant) and cut short by shutdown. Every retry loop
//! (sync delivery and command polls, the household broker's client, serial
//! ports) waits through one of these. Depends on nothing of Hearth's.
//! It never retries or spawns anything itself: it only waits, and the caller's loop decides what
//! to try again.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The waits of one retry loop.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    delay: Duration,
    max: Duration,
}

impl Backoff {
    /// Waits from `first` (capped at `max`), doubling to `max`.
    pub fn new(first: Duration, max: Duration) -> Backoff {
        let first = first.min(max);
        Backoff {
            first,
            delay: first,
            max,
        }
    }

    /// After a success: the next failure waits the shortest time again.
    pub fn reset(&mut self) {
        self.delay = self.first;
    }

    /// The next wait (jittered), doubling the one after it.
    pub fn next_delay(&mut self) -> Duration {
        let delay = jittered(self.delay);
        self.delay = (self.delay * 2).min(self.max);
        delay
    }

    /// Waits the next delay; false when `shutdown` came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

/// `delay` times a random factor in [0.5, 1).
pub fn jittered(delay: Duration) -> Duration {
    let random = getrandom::u64().unwrap_or(u64::MAX / 2);
    let factor = 0.5 + (random >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_to_whole() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(10));
            assert!(
                d >= Duration::from_secs(5) && d < Duration::from_secs(10),
                "{d:?}"
            );
        }
    }

    #[test]
    fn waits_double_to_the_cap_and_start_over_after_a_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(700));
        // Each wait is its undithered delay, dithered down: in [cap/2, cap).
        // (Checked against its own cap: the ranges of 400 and 700 overlap.)
        for cap in [100u64, 200, 400, 700, 700] {
            let d = backoff.next_delay().as_millis() as u64;
            assert!(
                d >= cap / 2 && d < cap,
                "{d} ms is not in [{}, {cap})",
                cap / 2
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() < Duration::from_millis(100));
    }

    /// Driven time: the waits pass in no real time, and shutdown ends one.
    #[tokio::test(start_paused = true)]
    async fn a_wait_takes_its_delay_and_shutdown_cuts_it_short() {
        let shutdown = CancellationToken::new();
        let mut backoff = Backoff::new(Duration::from_secs(60), Duration::from_secs(600));
        let start = tokio::time::Instant::now();
        assert!(backoff.wait(&shutdown).await);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(60),
            "{waited:?}"
        );
        shutdown.cancel();
        let start = tokio::time::Instant::now();
        assert!(!backoff.wait(&shutdown).await);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
