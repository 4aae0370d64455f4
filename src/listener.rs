//! Listening, in one place: [`bind`] for every TCP listener (the API's and
//! the devices'), with the IPv6 fallback; the address key every per-address
//! limit counts by; and the one accept loop every listener shares (the API,
//! Blynk TCP/TLS, MQTT), with one overflow policy: at most `max`
//! connections at once (the next waits in the kernel's backlog: nothing is
//! accepted only to be closed) and at most `per_address` from one address
//! (an IPv6 one by its /64; more are closed at accept, said at a bounded
//! rate); one tracked task each, in a `connection` span; no spinning when
//! accept fails (out of file descriptors and the like). It never reads or
//! writes a connection's bytes (that is the transport's `serve`), nor spawns
//! a task outside the tracker; [`framed`] is the one buffer policy the
//! device transports frame their connections with.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// What a device connection's read and write buffers start at: a Blynk
/// frame or an MQTT publish from a device is tens of bytes, and a buffer
/// grows for what arrives or waits to be sent. (At tokio-util's 8 KiB each,
/// every idle connection held a page of both.)
const FIRST_BUFFER: usize = 512;
/// Frames written go out once this much waits (or at each flush).
const WRITE_BATCH: usize = 8 * 1024;

/// `io` framed by `codec` with small first buffers.
pub fn framed<T, C>(io: T, codec: C) -> tokio_util::codec::Framed<T, C>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let mut link = tokio_util::codec::Framed::with_capacity(io, codec, FIRST_BUFFER);
    link.set_backpressure_boundary(WRITE_BATCH);
    link
}

/// How many connections a listener serves at once, and from one address,
/// with what counts against those caps. Made once per listener and cloned
/// into each run of its accept loop, so the connections an earlier run
/// accepted (still being served after it ended and was restarted) keep
/// counting.
#[derive(Clone)]
pub struct Bounds {
    per_address: usize,
    slots: Arc<Semaphore>,
    open: Arc<PerAddress>,
}

impl Bounds {
    pub fn new(max: usize, per_address: usize) -> Self {
        Self {
            per_address,
            slots: Arc::new(Semaphore::new(max.max(1))),
            open: Arc::default(),
        }
    }

    /// Connections being served now.
    pub fn in_use(&self) -> usize {
        self.open
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }
}

/// Accepts on `listener` until `shutdown`, within `bounds`, running
/// `serve(stream, peer)` for each connection in `tracker`, inside a
/// `connection{transport = name, peer, client}` span (`client` is recorded
/// by the transport once the device or bridge logs in).
pub async fn accept<F, Fut>(
    listener: Arc<TcpListener>,
    name: &'static str,
    bounds: Bounds,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Bounds {
        per_address: cap,
        slots,
        open: per_address,
    } = bounds;
    let over = crate::service::noisy::Noisy::new(name, "connections over the per-address cap");
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => return,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("{name}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(address_slot) = per_address.take(peer.ip(), cap) else {
            over.warn(
                &peer.ip().to_string(),
                format_args!("over {cap} connections from one address; closed"),
            );
            continue;
        };
        // Small answers and frames go out at once, not after an ACK.
        let _ = stream.set_nodelay(true);
        let connection = serve(stream, peer);
        let span = tracing::info_span!(
            "connection",
            transport = name,
            %peer,
            client = tracing::field::Empty
        );
        tracker.spawn(
            async move {
                let _slots = (slot, address_slot);
                connection.await;
            }
            .instrument(span),
        );
    }
}

/// Connections open per address key.
#[derive(Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`PerAddress`], given back when dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, peer: IpAddr, max: usize) -> Option<AddressSlot> {
        let key = address_key(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: self.clone(),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Binds the configured address. The default `[::]` falls back to
/// `0.0.0.0` on the same port where the kernel has no IPv6.
///
/// # Errors
/// The bind error, with the address in its message.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(e) if addr.ip().is_unspecified() && addr.is_ipv6() && no_ipv6(&e) => {
            let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, addr.port()));
            tracing::warn!("no IPv6 here ({e}); listening on {v4} instead");
            TcpListener::bind(v4).await
        }
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr}: {e}"),
        )),
    }
}

fn no_ipv6(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::AddrNotAvailable | ErrorKind::Unsupported
    ) || e.raw_os_error() == Some(97) // EAFNOSUPPORT
}

/// An address as throttling counts it ([`address_key`], as text).
pub fn source_key(ip: IpAddr) -> String {
    match address_key(ip) {
        IpAddr::V6(prefix) => format!("{prefix}/64"),
        v4 => v4.to_string(),
    }
}

/// An address as caps and throttles count it: an IPv4 one whole (a mapped
/// one as IPv4), an IPv6 one by its /64, which one host may hold whole.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Runs one accept loop on `listener` until `stop`; every connection it
    /// serves is said on `served` and held until `hold` fires.
    fn run_loop(
        listener: &Arc<TcpListener>,
        bounds: &Bounds,
        stop: &CancellationToken,
        hold: &CancellationToken,
        served: &tokio::sync::mpsc::UnboundedSender<SocketAddr>,
    ) -> tokio::task::JoinHandle<()> {
        let (served, hold) = (served.clone(), hold.clone());
        tokio::spawn(accept(
            listener.clone(),
            "test",
            bounds.clone(),
            stop.clone(),
            TaskTracker::new(),
            move |stream, peer| {
                let (served, hold) = (served.clone(), hold.clone());
                async move {
                    let _open = stream;
                    let _ = served.send(peer);
                    hold.cancelled().await;
                }
            },
        ))
    }

    #[tokio::test]
    async fn connections_from_a_loop_that_was_restarted_still_count_against_the_caps() {
        let within = Duration::from_secs(10);
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let bounds = Bounds::new(100, 2);
        let hold = CancellationToken::new();
        let (served, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let first = CancellationToken::new();
        let first_loop = run_loop(&listener, &bounds, &first, &hold, &served);
        let mut clients = Vec::new();
        for _ in 0..2 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            tokio::time::timeout(within, seen.recv()).await.unwrap();
        }
        // The loop ends (as when it panicked and is restarted); its two
        // connections are still being served.
        first.cancel();
        tokio::time::timeout(within, first_loop)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(bounds.in_use(), 2);
        let second = CancellationToken::new();
        let _second_loop = run_loop(&listener, &bounds, &second, &hold, &served);
        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(within, third.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "a third connection from the address is closed at accept: {read:?}"
        );
        assert!(seen.try_recv().is_err(), "and never served");
        hold.cancel();
        second.cancel();
    }

    #[test]
    fn an_address_holds_at_most_its_share_and_gives_it_back() {
        let table = Arc::new(PerAddress::default());
        let a: IpAddr = "10.0.0.7".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| table.take(a, 3).unwrap()).collect();
        assert!(table.take(a, 3).is_none());
        assert!(table.take("10.0.0.8".parse().unwrap(), 3).is_some());
        drop(held);
        assert!(table.take(a, 3).is_some());
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2:3".parse().unwrap();
        let _one = table.take(v6a, 1).unwrap();
        assert!(table.take(v6b, 1).is_none(), "one /64 is one address");
    }
}
