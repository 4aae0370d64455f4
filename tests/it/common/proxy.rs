//! A TCP proxy the test controls, for cutting one link between two real
//! processes (everything passes through untouched, TLS included).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Proxy {
    pub port: u16,
    open: Arc<AtomicBool>,
    /// While set, bytes are swallowed: connections stay open and go silent.
    stalled: Arc<AtomicBool>,
    /// While set, bytes from the target back to the client are swallowed.
    replies_stalled: Arc<AtomicBool>,
    /// Per connection, in the order accepted: whether the target closed it.
    /// (A close while its bytes are swallowed is lost like the bytes: the
    /// client still holds the connection open.)
    target_closed: Arc<Mutex<Vec<bool>>>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Forwards `127.0.0.1:<its port>` to `127.0.0.1:target`.
    pub fn to(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let stalled = Arc::new(AtomicBool::new(false));
        let replies_stalled = Arc::new(AtomicBool::new(false));
        let (accepting, tracked) = (open.clone(), conns.clone());
        let (silent, replies_silent) = (stalled.clone(), replies_stalled.clone());
        let target_closed = Arc::new(Mutex::new(Vec::new()));
        let closed = target_closed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !accepting.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let index = {
                    let mut closed = closed.lock().unwrap();
                    closed.push(false);
                    closed.len() - 1
                };
                let mut list = tracked.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                drop(list);
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    vec![silent.clone()],
                    None,
                );
                pipe(
                    server,
                    client,
                    vec![silent.clone(), replies_silent.clone()],
                    Some((closed.clone(), index)),
                );
            }
        });
        Proxy {
            port,
            open,
            stalled,
            replies_stalled,
            target_closed,
            conns,
        }
    }

    /// Drops every connection through it and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for conn in self.conns.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    /// Stops every byte both ways without closing anything, as a link
    /// whose packets stop does (no reset, no FIN).
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// Stops only the bytes coming back from the target: requests arrive,
    /// their answers are lost.
    pub fn stall_replies(&self) {
        self.replies_stalled.store(true, Ordering::SeqCst);
    }

    /// How many connections it has accepted.
    pub fn accepted(&self) -> usize {
        self.target_closed.lock().unwrap().len()
    }

    /// Whether the target has closed each of the first `count` connections.
    pub fn target_closed_first(&self, count: usize) -> bool {
        self.target_closed.lock().unwrap()[..count]
            .iter()
            .all(|c| *c)
    }

    pub fn unstall(&self) {
        self.stalled.store(false, Ordering::SeqCst);
        self.replies_stalled.store(false, Ordering::SeqCst);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` but while any of `stalled` is set; an end of
/// stream while stalled is lost like the rest. The end of `from` is noted
/// in `ended` (list, index).
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    stalled: Vec<Arc<AtomicBool>>,
    ended: Option<(Arc<Mutex<Vec<bool>>>, usize)>,
) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let note_end = || {
            if let Some((list, index)) = &ended {
                list.lock().unwrap()[*index] = true;
            }
        };
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                note_end();
                if stalled.iter().any(|s| s.load(Ordering::SeqCst)) {
                    // `to` stays open: the proxy's list holds it.
                    return;
                }
                break;
            }
            if stalled.iter().any(|s| s.load(Ordering::SeqCst)) {
                continue;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        note_end();
        let _ = to.shutdown(Shutdown::Both);
    });
}
