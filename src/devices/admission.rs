//! Admitting a device's (or bridge's) token: wrong tokens are counted per
//! source address on every transport, and past [`TOKEN_FAILURES`] in
//! [`TOKEN_WINDOW`] an address is refused unchecked. It never checks the
//! token itself; the transport's `lookup` does, and never throttles a
//! serial port (no address).

use super::Devices;

/// Wrong tokens one address may present in [`TOKEN_WINDOW`] before its
/// logins are refused unchecked until the oldest leaves the window.
pub(super) const TOKEN_FAILURES: usize = 20;
pub(super) const TOKEN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Why [`Devices::admit`] did not take a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Too many wrong tokens from the address: not even checked.
    Throttled(std::time::Duration),
    Wrong,
}

fn token_key(peer: &str) -> Option<String> {
    let addr: std::net::SocketAddr = peer.parse().ok()?;
    Some(crate::listener::source_key(addr.ip()))
}

impl Devices {
    /// Checks a token presented by a device (or bridge) at `peer`
    /// ("address:port", or a serial port's path, which is never throttled)
    /// with `lookup`. A wrong one counts against the address: after
    /// [`TOKEN_FAILURES`] in [`TOKEN_WINDOW`] its tokens are refused
    /// unchecked. Refusals are logged at a bounded rate as `listener`'s.
    ///
    /// # Errors
    /// [`TokenRefusal`]: why the token was not taken.
    pub fn admit<T>(
        &self,
        listener: &'static str,
        peer: &str,
        wrong: &str,
        lookup: impl FnOnce() -> Option<T>,
    ) -> Result<T, TokenRefusal> {
        let key = token_key(peer);
        let now = std::time::Instant::now();
        let refusals = crate::service::noisy::Noisy::new(listener, "wrong tokens");
        if let Some(key) = &key
            && let Err(wait) = self.token_failures.check(key, now)
        {
            refusals.warn(
                peer,
                format_args!(
                    "too many wrong tokens from this address; refused unchecked for {} s",
                    wait.as_secs().max(1)
                ),
            );
            return Err(TokenRefusal::Throttled(wait));
        }
        lookup().ok_or_else(|| {
            if let Some(key) = &key {
                self.token_failures.fail(key, now);
            }
            refusals.warn(peer, wrong);
            TokenRefusal::Wrong
        })
    }
}
