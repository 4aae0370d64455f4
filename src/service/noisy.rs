//! Rate-limited logging of what outsiders can cause (DESIGN §5): garbage
//! before a login, wrong device tokens, connections over a cap. Per kind
//! and per minute, the first [`FIRST_PER_ADDRESS`] lines from an address
//! are written as they come; the rest are counted and summed up once the
//! minute is over ("… and 19,999 more from 10.0.0.7 in the last minute"),
//! at most [`SUMMARY_LINES`] summary lines a minute and one line for the
//! remaining addresses. Every event is counted for `/metrics` whether it
//! was written or not. It never tracks more than 4,096 addresses of one kind in a minute (the
//! rest count as "other addresses"), so a flood from ever new addresses cannot grow it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
pub const FIRST_PER_ADDRESS: u64 = 3;
/// Lines written for one kind in one window, across addresses.
const LINES_PER_WINDOW: u64 = 20;
const SUMMARY_LINES: usize = 10;
const MAX_ADDRESSES: usize = 4096;

/// One kind of outsider-caused failure, e.g. `("blynk", "bad token")`.
pub struct Noisy {
    listener: &'static str,
    what: &'static str,
    total: Arc<AtomicU64>,
    window: Arc<Mutex<Window>>,
}

#[derive(Default)]
struct Window {
    started: Option<Instant>,
    written: u64,
    by_address: HashMap<String, u64>,
    flush_scheduled: bool,
}

/// (listener, what, count) of every kind made so far, for `/metrics`.
pub fn totals() -> Vec<(&'static str, &'static str, u64)> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(l, w, n, _)| (*l, *w, n.load(Ordering::Relaxed)))
        .collect()
}

type Kind = (
    &'static str,
    &'static str,
    Arc<AtomicU64>,
    Arc<Mutex<Window>>,
);
type Registry = Mutex<Vec<Kind>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

impl Noisy {
    /// (`listener`, `what`), its count and its minute shared by every
    /// `Noisy` of it. `what` is plural: "wrong tokens".
    pub fn new(listener: &'static str, what: &'static str) -> Self {
        let mut kinds = registry().lock().unwrap_or_else(|e| e.into_inner());
        let (total, window) = match kinds
            .iter()
            .find(|(l, w, _, _)| *l == listener && *w == what)
        {
            Some((_, _, n, window)) => (n.clone(), window.clone()),
            None => {
                let n = Arc::new(AtomicU64::new(0));
                let window = Arc::new(Mutex::new(Window::default()));
                kinds.push((listener, what, n.clone(), window.clone()));
                (n, window)
            }
        };
        Noisy {
            listener,
            what,
            total,
            window,
        }
    }

    /// Counts one event from `peer` (an address, with or without its port,
    /// or a serial port's path); writes it at WARN unless this minute has
    /// had its share of lines from there.
    pub fn warn(&self, peer: &str, detail: impl std::fmt::Display) {
        let peer = peer
            .parse::<SocketAddr>()
            .map_or_else(|_| peer.to_owned(), |a| a.ip().to_string());
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if window
            .started
            .is_some_and(|started| now.duration_since(started) >= WINDOW)
        {
            let ended = std::mem::take(&mut *window);
            summarize(self.listener, self.what, ended);
        }
        let started = *window.started.get_or_insert(now);
        // Bounded even for a flood from ever new addresses.
        let key =
            if window.by_address.len() >= MAX_ADDRESSES && !window.by_address.contains_key(&peer) {
                "other addresses".to_owned()
            } else {
                peer.clone()
            };
        let seen = window.by_address.entry(key).or_default();
        *seen += 1;
        let seen = *seen;
        if seen <= FIRST_PER_ADDRESS && window.written < LINES_PER_WINDOW {
            window.written += 1;
            drop(window);
            tracing::warn!(listener = self.listener, %peer, "{}: {peer}: {detail}", self.listener);
            return;
        }
        if !window.flush_scheduled
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            window.flush_scheduled = true;
            let (state, listener, what) = (self.window.clone(), self.listener, self.what);
            runtime.spawn(async move {
                tokio::time::sleep_until((started + WINDOW).into()).await;
                let ended = std::mem::take(&mut *state.lock().unwrap_or_else(|e| e.into_inner()));
                summarize(listener, what, ended);
            });
        }
    }
}

fn summarize(listener: &'static str, what: &'static str, ended: Window) {
    let mut unwritten: Vec<(String, u64)> = ended
        .by_address
        .into_iter()
        .map(|(ip, n)| (ip, n.saturating_sub(FIRST_PER_ADDRESS)))
        .filter(|(_, n)| *n > 0)
        .collect();
    if unwritten.is_empty() {
        return;
    }
    unwritten.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (ip, n) in unwritten.iter().take(SUMMARY_LINES) {
        tracing::warn!(listener, peer = %ip, "{listener}: … and {n} more {what} from {ip} in the last minute");
    }
    if unwritten.len() > SUMMARY_LINES {
        let rest: u64 = unwritten[SUMMARY_LINES..].iter().map(|(_, n)| n).sum();
        let addresses = unwritten.len() - SUMMARY_LINES;
        tracing::warn!(
            listener,
            "{listener}: … and {rest} more {what} from {addresses} other addresses in the last minute"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_counted_and_kinds_share_their_counter() {
        let a = Noisy::new("test", "garbage");
        let b = Noisy::new("test", "garbage");
        for port in 0..100 {
            a.warn(&format!("10.0.0.7:{port}"), "x");
        }
        b.warn("10.0.0.7", "y");
        let total = totals()
            .into_iter()
            .find(|(l, w, _)| *l == "test" && *w == "garbage")
            .unwrap()
            .2;
        assert_eq!(total, 101);
        let window = a.window.lock().unwrap();
        assert_eq!(window.written, FIRST_PER_ADDRESS, "one address's share");
        assert_eq!(window.by_address["10.0.0.7"], 101, "one address, any port");
    }
}
