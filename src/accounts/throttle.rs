//! Throttling of password guesses that slows the guesser without locking
//! the owner out (DESIGN §5).
//!
//! Each attempt is counted *before* its password is checked, so a storm of
//! concurrent guesses is refused before it costs a hash; an attempt that
//! succeeds is refunded. Three counters decide:
//! - **address and account**: 5 failures in 15 minutes and that address may
//!   not try that account again until the oldest leaves the window;
//! - **address**: 20 failures in 15 minutes across accounts, and that
//!   address may not try any account (and at most 4 of its attempts are
//!   checked at once);
//! - **account**: once an account has 10 failures in 15 minutes from
//!   anywhere, it is *under attack*: addresses that failed on it are refused,
//!   and other addresses may try it at most once every 2 s between them.
//!   An address that logged in to the account successfully in the last 30
//!   days is never slowed by the account's counter.
//!
//! So a neighbour who knows the admin's email can make the admin's phone
//! wait at most a couple of seconds, and never stops the admin's own
//! addresses. An IPv6 address counts by its /64 (one host holds a whole
//! prefix). In memory: a restart forgets, which only helps the owner.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::limiter::Limiter;
use crate::listener::source_key;

const PAIR_FAILURES: usize = 5;
const SOURCE_FAILURES: usize = 20;
const ACCOUNT_FAILURES: usize = 10;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// One attempt on an account under attack per this, from fresh addresses.
pub const ACCOUNT_SLOWDOWN: Duration = Duration::from_secs(2);
/// Password checks of one address running at once.
const SOURCE_IN_FLIGHT: usize = 4;
/// How long a successful login keeps its address trusted for the account.
const TRUSTED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
const MAX_TRUSTED: usize = 10_000;

pub struct LoginThrottle {
    pairs: Limiter,
    sources: Limiter,
    accounts: Limiter,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    in_flight: HashMap<String, usize>,
    /// When an account under attack last let a fresh address try.
    last_fresh: HashMap<String, Instant>,
    /// (account, address) → when it last logged in.
    trusted: HashMap<(String, String), Instant>,
}

/// One counted attempt. Dropped without [`Attempt::succeeded`], it stays
/// counted as a failure.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    account: String,
    source: String,
    at: Instant,
}

impl LoginThrottle {
    pub fn new() -> Self {
        LoginThrottle {
            pairs: Limiter::new(PAIR_FAILURES, WINDOW),
            sources: Limiter::new(SOURCE_FAILURES, WINDOW),
            accounts: Limiter::new(ACCOUNT_FAILURES, WINDOW),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Counts an attempt on `account` from `source`, or says how long to wait.
    ///
    /// # Errors
    /// The wait, when this attempt may not be made now.
    pub fn begin(
        &self,
        account: &str,
        source: IpAddr,
        now: Instant,
    ) -> Result<Attempt<'_>, Duration> {
        let source = source_key(source);
        let pair = pair_key(account, &source);
        self.sources.check(&source, now)?;
        self.pairs.check(&pair, now)?;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let running = inner.in_flight.get(&source).copied().unwrap_or(0);
        if running >= SOURCE_IN_FLIGHT {
            return Err(Duration::from_secs(1));
        }
        let trusted = inner
            .trusted
            .get(&(account.to_owned(), source.clone()))
            .is_some_and(|t| now.duration_since(*t) < TRUSTED_FOR);
        if !trusted && self.accounts.check(account, now).is_err() {
            let (failed, last) = self.pairs.recent(&pair, now);
            if let Some(last) = last {
                // This address already guessed wrong here: it waits twice as
                // long after each failure (2, 4, 8, 16 s; then the window).
                let wait = ACCOUNT_SLOWDOWN * (1 << failed.min(8));
                let since = now.duration_since(last);
                if since < wait {
                    return Err(wait - since);
                }
            }
            if let Some(last) = inner.last_fresh.get(account)
                && now.duration_since(*last) < ACCOUNT_SLOWDOWN
            {
                return Err(ACCOUNT_SLOWDOWN - now.duration_since(*last));
            }
            if inner.last_fresh.len() > MAX_TRUSTED {
                inner
                    .last_fresh
                    .retain(|_, t| now.duration_since(*t) < ACCOUNT_SLOWDOWN);
            }
            inner.last_fresh.insert(account.to_owned(), now);
        }
        *inner.in_flight.entry(source.clone()).or_default() += 1;
        drop(inner);
        self.pairs.fail(&pair, now);
        self.sources.fail(&source, now);
        self.accounts.fail(account, now);
        Ok(Attempt {
            throttle: self,
            account: account.to_owned(),
            source,
            at: now,
        })
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

impl Attempt<'_> {
    /// The password was right: the attempt is refunded, and the address
    /// trusted for the account.
    pub fn succeeded(self) {
        let t = self.throttle;
        let pair = pair_key(&self.account, &self.source);
        t.pairs.clear(&pair);
        t.sources.refund(&self.source, self.at);
        t.accounts.refund(&self.account, self.at);
        let mut inner = t.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.trusted.len() >= MAX_TRUSTED {
            let now = self.at;
            inner
                .trusted
                .retain(|_, when| now.duration_since(*when) < TRUSTED_FOR);
            if inner.trusted.len() >= MAX_TRUSTED {
                inner.trusted.clear();
            }
        }
        inner
            .trusted
            .insert((self.account.clone(), self.source.clone()), self.at);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut inner = self
            .throttle
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(running) = inner.in_flight.get_mut(&self.source) {
            *running = running.saturating_sub(1);
            if *running == 0 {
                inner.in_flight.remove(&self.source);
            }
        }
    }
}

fn pair_key(account: &str, source: &str) -> String {
    format!("{source} {account}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_guesser_is_stopped_but_the_owner_gets_in_from_elsewhere() {
        let t = LoginThrottle::new();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // The owner logged in from .1 once.
        t.begin("ann", ip(1), t0).unwrap().succeeded();
        // Neighbours at .66 and .67 guess five times each, then are refused.
        for last in [66, 67] {
            for _ in 0..PAIR_FAILURES {
                drop(t.begin("ann", ip(last), t0).unwrap());
            }
            assert!(t.begin("ann", ip(last), at(60)).is_err());
        }
        // Ten failures: the account is under attack. A guesser who failed
        // here waits the window, not just the slowdown.
        let wait = t.begin("ann", ip(67), at(60)).err().unwrap();
        assert!(wait > Duration::from_secs(600), "{wait:?}");
        // The owner's own address is never slowed by the account's counter.
        t.begin("ann", ip(1), at(60)).unwrap().succeeded();
        // A fresh address gets one try per slowdown between them.
        drop(t.begin("ann", ip(20), at(60)).unwrap());
        assert!(t.begin("ann", ip(21), at(61)).is_err(), "one per slowdown");
        // An address that failed once under attack waits twice as long.
        let wait = t.begin("ann", ip(20), at(62)).err().unwrap();
        assert_eq!(wait, ACCOUNT_SLOWDOWN * 2 - Duration::from_secs(2));
        // The owner on a new phone gets in once the slowdown passed.
        t.begin("ann", ip(21), at(62)).unwrap().succeeded();
        // Other accounts are not affected.
        assert!(t.begin("ben", ip(11), t0).is_ok());
    }

    #[test]
    fn attempts_count_before_the_check_and_per_address_at_once() {
        let t = LoginThrottle::new();
        let t0 = Instant::now();
        let running: Vec<_> = (0..SOURCE_IN_FLIGHT)
            .map(|i| t.begin(&format!("u{i}"), ip(5), t0).unwrap())
            .collect();
        assert!(t.begin("other", ip(5), t0).is_err(), "in flight bounded");
        assert!(t.begin("other", ip(6), t0).is_ok(), "per address");
        drop(running);
        for i in 0..SOURCE_FAILURES - SOURCE_IN_FLIGHT {
            drop(t.begin(&format!("v{i}"), ip(5), t0).unwrap());
        }
        assert!(t.begin("new", ip(5), t0).is_err(), "address throttled");
    }

    #[test]
    fn ipv6_counts_by_prefix() {
        let a: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(source_key(mapped), "10.0.0.1");
    }
}
