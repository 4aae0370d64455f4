//! Throttling of failed attempts (logins, setup codes, device tokens): after `max`
//! failures of one key (an account, a source address) within `window`, that
//! key is refused until the oldest failure leaves the window. In memory:
//! a restart forgets, which only ever helps the legitimate user. Owns only those counts: it
//! never makes a caller wait (`check` says how long; the caller refuses the attempt).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Limiter {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `key` is throttled.
    ///
    /// # Errors
    /// How long until the next attempt is allowed.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(key) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.is_empty() {
            failures.remove(key);
            return Ok(());
        }
        if times.len() >= self.max {
            let oldest = times[0];
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    pub fn fail(&self, key: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bound memory: an attacker cycling keys cannot grow this forever.
        if failures.len() > 100_000 {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        failures.entry(key.to_owned()).or_default().push_back(now);
    }

    /// Failures of `key` still in the window, and the newest one's time.
    pub fn recent(&self, key: &str, now: Instant) -> (usize, Option<Instant>) {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.get(key).map_or((0, None), |times| {
            let live = times
                .iter()
                .filter(|t| now.duration_since(**t) < self.window)
                .count();
            (live, times.back().copied().filter(|_| live > 0))
        })
    }

    /// Takes back one failure counted at `at` (an attempt that succeeded).
    pub fn refund(&self, key: &str, at: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = failures.get_mut(key) {
            if let Some(i) = times.iter().rposition(|t| *t == at) {
                times.remove(i);
            }
            if times.is_empty() {
                failures.remove(key);
            }
        }
    }

    pub fn clear(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_max_failures_until_the_window_passes() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("ann", t0).is_ok());
            limiter.fail("ann", t0);
        }
        let wait = limiter
            .check("ann", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(limiter.check("ben", t0).is_ok(), "keys are separate");
        assert!(limiter.check("ann", t0 + Duration::from_secs(60)).is_ok());
        limiter.fail("ann", t0);
        limiter.clear("ann");
        assert!(limiter.check("ann", t0).is_ok());
    }
}
