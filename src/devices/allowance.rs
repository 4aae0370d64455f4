//! What one device may cost (DESIGN §5): a message allowance on every
//! transport, and a budget of history rows a day, so a runaway or hostile
//! device can neither drown the hub nor fill its SD card.
//!
//! - [`Allowance`]: `per_second` messages, twice that in a burst (a token
//!   bucket). Blynk answers status 1 beyond it; MQTT, which has no way to
//!   refuse a PUBLISH, stops reading the connection until a message's worth
//!   is back (the client is slowed by TCP, nothing is lost).
//! - [`HistoryBudget`]: at most `rows_per_day` history rows per device in
//!   each day (by the monotonic clock). Past it the device's values stay
//!   live and reach the outbox's cloud as live values do, but are not kept
//!   in history until the day is over; every value left out is counted and
//!   shown (`/metrics`, the device's values), and said once a day.
//!
//! Both only count and answer: they never refuse, delay or drop a message themselves (each
//! transport does what "over" means for it), and they are never kept across a restart.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A message allowance: `per_second`, twice that in a burst.
pub struct Allowance {
    per_second: f64,
    tokens: f64,
    refilled: Instant,
    /// Over the allowance since the last message it let through (for
    /// saying so once per episode).
    pub throttled: bool,
}

impl Allowance {
    pub fn new(per_second: f64) -> Allowance {
        Allowance {
            per_second,
            tokens: per_second * 2.0,
            refilled: Instant::now(),
            throttled: false,
        }
    }

    fn refill(&mut self, now: Instant) {
        let refill = now.duration_since(self.refilled).as_secs_f64() * self.per_second;
        self.refilled = now;
        self.tokens = (self.tokens + refill).min(self.per_second * 2.0);
    }

    /// Takes one message's worth; false when over the rate.
    pub fn take(&mut self) -> bool {
        self.take_many(1)
    }

    /// Takes `n` messages' worth at once, or nothing when that is over the
    /// rate (a request carrying several values costs them all).
    pub fn take_many(&mut self, n: u32) -> bool {
        self.refill(Instant::now());
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            self.throttled = false;
            true
        } else {
            false
        }
    }

    /// How long until one message's worth is back (zero when it is).
    pub fn wait(&mut self) -> Duration {
        self.wait_for(1)
    }

    /// How long until `n` messages' worth is back (zero when it is; `n`
    /// beyond the burst is never back: that is said as the burst's refill).
    pub fn wait_for(&mut self, n: u32) -> Duration {
        self.refill(Instant::now());
        let n = f64::from(n).min(self.per_second * 2.0);
        if self.tokens >= n {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((n - self.tokens) / self.per_second)
        }
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }
}

/// The allowances of devices that send without a connection (Blynk's HTTP
/// device API): one per device, made at its first request; bounded by the
/// household's devices, since only a device's own token makes one.
pub struct RequestAllowances {
    per_second: f64,
    devices: Mutex<HashMap<String, Allowance>>,
}

impl RequestAllowances {
    pub fn new(per_second: f64) -> Self {
        RequestAllowances {
            per_second,
            devices: Mutex::default(),
        }
    }

    /// The most one request may take at once (twice the rate).
    pub fn burst(&self) -> f64 {
        self.per_second * 2.0
    }

    /// Takes `n` messages' worth from `device`'s allowance, or says how long
    /// until they are back.
    ///
    /// # Errors
    /// The wait, when `n` is over the allowance now.
    pub fn take(&self, device: &str, n: u32) -> Result<(), Duration> {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        let allowance = devices
            .entry(device.to_owned())
            .or_insert_with(|| Allowance::new(self.per_second));
        if allowance.take_many(n) {
            Ok(())
        } else {
            Err(allowance.wait_for(n).max(Duration::from_millis(1)))
        }
    }
}

/// Messages left out for being over an allowance where the sender cannot
/// be slowed instead: the household's broker carries every device on one
/// connection, so reading it slower for one would slow them all. By device
/// id (or bridge name), since start.
#[derive(Default)]
pub struct Dropped(Mutex<HashMap<String, u64>>);

impl Dropped {
    /// Counts one more for `who`; how many so far.
    pub fn add(&self, who: &str) -> u64 {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = all.entry(who.to_owned()).or_default();
        *n += 1;
        *n
    }

    pub fn of(&self, who: &str) -> u64 {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.get(who).copied().unwrap_or(0)
    }

    pub fn all(&self) -> Vec<(String, u64)> {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<_> = all.iter().map(|(k, v)| (k.clone(), *v)).collect();
        list.sort();
        list
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// History rows each device may add per day.
pub struct HistoryBudget {
    rows_per_day: u64,
    used: Mutex<HashMap<String, Day>>,
}

struct Day {
    started: Instant,
    rows: u64,
    /// Values left out of history since the hub started.
    dropped: u64,
}

impl HistoryBudget {
    pub fn new(rows_per_day: u64) -> Self {
        HistoryBudget {
            rows_per_day,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// May `device` add one more history row now? Counts it either way.
    pub fn allow(&self, device: &str) -> bool {
        self.allow_at(device, Instant::now())
    }

    fn allow_at(&self, device: &str, now: Instant) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let day = used.entry(device.to_owned()).or_insert(Day {
            started: now,
            rows: 0,
            dropped: 0,
        });
        if now.duration_since(day.started) >= DAY {
            day.started = now;
            day.rows = 0;
        }
        if day.rows < self.rows_per_day {
            day.rows += 1;
            return true;
        }
        if day.rows == self.rows_per_day {
            // Said once a day per device; the count says the rest.
            day.rows += 1;
            tracing::warn!(
                "device {device}: over its history budget of {} rows a day; its values stay live but are not kept in history for the rest of the day",
                self.rows_per_day
            );
        }
        day.dropped += 1;
        false
    }

    /// Values of `device` left out of history since the hub started.
    pub fn dropped(&self, device: &str) -> u64 {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.get(device).map_or(0, |d| d.dropped)
    }

    /// Every device that had values left out, with how many.
    pub fn all_dropped(&self) -> Vec<(String, u64)> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = used
            .iter()
            .filter(|(_, d)| d.dropped > 0)
            .map(|(id, d)| (id.clone(), d.dropped))
            .collect();
        out.sort();
        out
    }

    /// Forgets a deleted device.
    pub fn forget(&self, device: &str) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(device);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_past_its_budget_is_left_out_counted_and_let_in_the_next_day() {
        let budget = HistoryBudget::new(3);
        let t0 = Instant::now();
        let kept: Vec<bool> = (0..5).map(|_| budget.allow_at("runaway", t0)).collect();
        assert_eq!(kept, [true, true, true, false, false]);
        assert_eq!(budget.dropped("runaway"), 2);
        assert!(
            budget.allow_at("calm", t0),
            "devices have budgets of their own"
        );
        assert!(budget.allow_at("runaway", t0 + DAY), "a new day");
        assert_eq!(budget.all_dropped(), vec![("runaway".to_owned(), 2)]);
    }

    #[test]
    fn an_allowance_refills_at_its_rate_and_says_how_long_to_wait() {
        let mut a = Allowance::new(10.0);
        for _ in 0..20 {
            assert!(a.take());
        }
        assert!(!a.take(), "a burst is twice the rate");
        let wait = a.wait();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
    }
}
