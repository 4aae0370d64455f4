//! Blynk over serial ports (USB-attached boards): the same frames as TCP on
//! a byte stream whose "connect" is just opening it.
//!
//! Each configured pattern (a path, or a path whose last part has `*`/`?`
//! such as `/dev/serial/by-id/*`) is watched: every matching port gets one
//! task that owns it, opens it raw at the configured baud rate, runs
//! sessions on it one after another, and when it is unplugged (the read
//! fails) reopens it with backoff while the path exists. A port that
//! reappears later is picked up by the next scan. A port never has two tasks at once, and its
//! reads and writes never block the runtime (the descriptor is non-blocking, under `AsyncFd`).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use tokio_util::task::AbortOnDropHandle;

use super::session::{self, Context, End};
use crate::backoff::Backoff;
use crate::config::SerialConfig;

/// How often patterns are matched against the file system.
const SCAN: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Watches `ports` until shutdown, one task per present port. If the
/// supervisor itself ends early (it is restarted), its port tasks end with
/// it, so the next one never opens a port twice; at shutdown they are left
/// to end by themselves (each watches the token).
pub async fn supervise(ports: Vec<SerialConfig>, ctx: Arc<Context>, tracker: TaskTracker) {
    let mut running: HashMap<PathBuf, AbortOnDropHandle<()>> = HashMap::new();
    let mut tick = tokio::time::interval(SCAN);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => {
                for (_, task) in running.drain() {
                    task.detach();
                }
                return;
            }
            _ = tick.tick() => {}
        }
        running.retain(|_, task| !task.is_finished());
        for port in &ports {
            for path in matching(&port.path) {
                if let std::collections::hash_map::Entry::Vacant(slot) = running.entry(path) {
                    let path = slot.key().clone();
                    let task = tracker.spawn(own_port(path, port.baud, ctx.clone()));
                    slot.insert(AbortOnDropHandle::new(task));
                }
            }
        }
    }
}

/// Paths matching `pattern`, whose wildcards may only be in its last part.
pub fn matching(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return if pattern.exists() {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        };
    }
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| wildcard(name.as_bytes(), e.file_name().as_bytes()))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Owns one port while its path exists: open, serve, reopen with backoff.
async fn own_port(path: PathBuf, baud: u32, ctx: Arc<Context>) {
    let label = path.display().to_string();
    let mut backoff = Backoff::new(Duration::from_millis(100), MAX_BACKOFF);
    let mut last_error = String::new();
    while !ctx.shutdown.is_cancelled() && path.exists() {
        match SerialStream::open(&path, baud) {
            Ok(stream) => {
                tracing::info!("serial: {label} opened at {baud} baud");
                last_error.clear();
                let opened = std::time::Instant::now();
                let span = tracing::info_span!(
                    "connection",
                    transport = "serial",
                    peer = %label,
                    client = tracing::field::Empty
                );
                serve_port(stream, &ctx, &label).instrument(span).await;
                // A port that fails right after opening backs off like one
                // that cannot be opened; one that served a while starts over.
                if opened.elapsed() > Duration::from_secs(10) {
                    backoff.reset();
                }
                tracing::info!("serial: {label} closed (unplugged?); reopening");
            }
            Err(e) => {
                let text = e.to_string();
                if text != last_error {
                    tracing::warn!("serial: cannot open {label}: {text}; retrying");
                    last_error = text;
                }
            }
        }
        if !backoff.wait(&ctx.shutdown).await {
            return;
        }
    }
}

async fn serve_port(stream: SerialStream, ctx: &Context, label: &str) {
    let mut link = session::link(stream, ctx.max_body);
    let mut first = None;
    let mut bucket = session::Bucket::new(ctx.per_second);
    loop {
        match session::run(&mut link, first.take(), ctx, label, "serial", &mut bucket).await {
            End::Closed => return,
            End::Relogin(frame) => first = Some(frame),
            End::Over | End::Garbage => {}
        }
    }
}

/// A serial port (or pseudo-terminal) opened raw and non-blocking.
pub struct SerialStream {
    fd: AsyncFd<OwnedFd>,
}

impl SerialStream {
    /// Opens `path` as a raw 8N1 line at `baud`.
    ///
    /// # Errors
    /// When it cannot be opened or is not a terminal.
    pub fn open(path: &Path, baud: u32) -> io::Result<Self> {
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
        // SAFETY: a valid C string; the result is checked before use.
        let raw = unsafe {
            libc::open(
                c_path.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just opened and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        configure(&fd, baud)?;
        // SAFETY: we own `fd` and it stays open as long as the AsyncFd
        // (it is dropped with it), which is what `register` requires.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?;
        Ok(SerialStream { fd })
    }
}

fn speed(baud: u32) -> io::Result<libc::speed_t> {
    Ok(match baud {
        1200 => libc::B1200,
        2400 => libc::B2400,
        4800 => libc::B4800,
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        115_200 => libc::B115200,
        230_400 => libc::B230400,
        460_800 => libc::B460800,
        921_600 => libc::B921600,
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsupported baud rate {other}"),
            ));
        }
    })
}

fn configure(fd: &OwnedFd, baud: u32) -> io::Result<()> {
    let speed = speed(baud)?;
    // SAFETY: termios is plain data; the calls get a live descriptor and
    // a pointer to it, and every result is checked.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd.as_raw_fd(), &mut tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut tio);
        tio.c_cflag |= libc::CLOCAL | libc::CREAD;
        tio.c_cc[libc::VMIN] = 1;
        tio.c_cc[libc::VTIME] = 0;
        if libc::cfsetispeed(&mut tio, speed) != 0 || libc::cfsetospeed(&mut tio, speed) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::tcflush(fd.as_raw_fd(), libc::TCIOFLUSH);
    }
    Ok(())
}

impl AsyncRead for SerialStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let result = guard.try_io(|inner| {
                // SAFETY: reads into a buffer we own, at most its length.
                let n = unsafe {
                    libc::read(
                        inner.as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // A pseudo-terminal whose other end closed says EIO: unplugged.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => {}
            }
        }
    }
}

impl AsyncWrite for SerialStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            let result = guard.try_io(|inner| {
                // SAFETY: writes from a buffer we borrow, at most its length.
                let n = unsafe { libc::write(inner.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(written) => return Poll::Ready(written),
                Err(_would_block) => {}
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_the_last_part() {
        assert!(wildcard(b"*", b"usb-Arduino_123-if00"));
        assert!(wildcard(b"ttyUSB?", b"ttyUSB0"));
        assert!(!wildcard(b"ttyUSB?", b"ttyUSB10"));
        assert!(wildcard(b"tty*0", b"ttyACM10"));
        assert!(!wildcard(b"ttyACM*", b"ttyUSB0"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ttyX1"), b"").unwrap();
        std::fs::write(dir.path().join("other"), b"").unwrap();
        assert_eq!(
            matching(&dir.path().join("ttyX*")),
            vec![dir.path().join("ttyX1")]
        );
        assert_eq!(
            matching(&dir.path().join("other")),
            vec![dir.path().join("other")]
        );
        assert!(matching(&dir.path().join("absent")).is_empty());
    }

    #[test]
    fn a_file_that_is_not_a_terminal_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        assert!(SerialStream::open(file.path(), 115_200).is_err());
        assert!(speed(12345).is_err());
    }
}
