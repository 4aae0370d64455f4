//! WebSockets as samod transports: one automerge-repo message per binary
//! frame (protocols.md §3), for the client side (tokio-tungstenite) and the
//! server side (axum). samod's own helpers for this sit behind features
//! that pull OpenSSL (`tungstenite`) or pin another axum, so the few lines
//! are here.
//!
//! Every sync connection is kept alive by pings, both ways: each side pings
//! every [`keepalive`], and a connection on which nothing at all (a message,
//! a ping, a pong) arrived for three of those ends, so a link whose packets
//! stop without a reset is found dead within about 30 s, shown down and
//! redialed, instead of looking connected for as long as TCP takes. It never authenticates or
//! decides what a peer may sync (the upgrade and samod's `SharePolicy` do), and a text frame is
//! never taken for a sync message: it ends the connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, Stream, StreamExt, future};
use samod::Transport;

use crate::tenancy::replica::RepoTasks;

/// Why a WebSocket stopped carrying sync messages.
#[derive(Debug, thiserror::Error)]
#[error("sync connection: {0}")]
pub struct WireError(String);

static KEEPALIVE_MS: AtomicU64 = AtomicU64::new(10_000);

/// How often each side pings (`[sync] keepalive_secs`); set once at start.
pub fn set_keepalive(every: Duration) {
    let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
    KEEPALIVE_MS.store(ms, Ordering::Relaxed);
}

pub fn keepalive() -> Duration {
    Duration::from_millis(KEEPALIVE_MS.load(Ordering::Relaxed))
}

/// `stream`, ending with an error once nothing arrived for `silence`.
fn silence_limited<S, T, E>(
    stream: S,
    silence: Duration,
) -> impl Stream<Item = Result<T, WireError>>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: std::fmt::Display,
{
    futures_util::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(silence, stream.next()).await {
            Ok(Some(Ok(item))) => Some((Ok(item), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(WireError(e.to_string())), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(WireError(format!(
                    "nothing heard for {silence:?}; the link is dead"
                ))),
                None,
            )),
        }
    })
}

/// A WebSocket's message stream and sink (`$message`: its library's
/// `Message` type) as a transport: binary frames are sync messages, a text
/// frame is an error, the rest (ping, pong, close) is not for samod but
/// counts as life. One writer task, one of the replica's (`$tasks`), sends
/// samod's messages and the pings; it ends when samod lets go of the
/// connection, the socket fails, a send waits longer than the silence limit
/// plus its size at 64 KiB/s or the closing handshake longer than a
/// keepalive (a peer that stopped reading), or the
/// replica shuts down.
macro_rules! transport {
    ($tasks:expr, $stream:expr, $sink:expr, $message:ident) => {{
        let every = keepalive();
        let mut sink = $sink;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        $tasks.spawn_part(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let message = tokio::select! {
                    data = rx.recv() => match data {
                        Some(data) => $message::Binary(data.into()),
                        None => break,
                    },
                    _ = tick.tick() => $message::Ping(Default::default()),
                };
                // The silence limit, plus the time a large message (a whole
                // document on first sync) takes at 64 KiB/s.
                let size = match &message {
                    $message::Binary(data) => data.len(),
                    _ => 0,
                };
                let limit = every * 3 + Duration::from_secs_f64(size as f64 / 65_536.0);
                match tokio::time::timeout(limit, sink.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => break,
                }
            }
            let _ = tokio::time::timeout(every, sink.close()).await;
        });
        let stream = silence_limited($stream, every * 3)
            .filter_map(|msg| {
                future::ready(match msg {
                    Ok($message::Binary(data)) => Some(Ok(data.to_vec())),
                    Ok($message::Text(_)) => Some(Err(WireError("a text frame".into()))),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
            })
            .boxed();
        let sink = futures_util::sink::unfold(tx, |tx, data: Vec<u8>| async move {
            tx.send(data)
                .await
                .map(|()| tx)
                .map_err(|_| WireError("the connection's writer has stopped".into()))
        });
        (stream, Box::pin(sink))
    }};
}

/// A client WebSocket (after the upgrade) as a transport, its writer one of `tasks`.
pub fn from_tungstenite<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    tasks: &RepoTasks,
) -> Transport
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tokio_tungstenite::tungstenite::Message;
    let (sink, stream) = ws.split();
    let (stream, sink) = transport!(tasks, stream, sink, Message);
    Transport::new(stream, sink)
}

/// A WebSocket accepted by axum as a transport, which ends when `stop`
/// fires (the peer's credential was revoked), its writer one of `tasks`.
pub fn from_axum(
    ws: axum::extract::ws::WebSocket,
    stop: tokio_util::sync::CancellationToken,
    tasks: &RepoTasks,
) -> Transport {
    use axum::extract::ws::Message;
    let (sink, stream) = ws.split();
    let (stream, sink) = transport!(
        tasks,
        stream.take_until(stop.cancelled_owned()).boxed(),
        sink,
        Message
    );
    Transport::new(stream, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::Role;

    type Sink = std::pin::Pin<Box<dyn futures_util::Sink<Vec<u8>, Error = WireError> + Send>>;

    /// Our transport's sink (its stream dropped) over an in-memory pipe of
    /// `buffer` bytes, the peer's WebSocket, and the tasks the writer runs in.
    async fn pair(buffer: usize) -> (Sink, WebSocketStream<tokio::io::DuplexStream>, RepoTasks) {
        use tokio_tungstenite::tungstenite::Message;
        let (ours, theirs) = tokio::io::duplex(buffer);
        let tasks = RepoTasks::default();
        let ours = WebSocketStream::from_raw_socket(ours, Role::Client, None).await;
        let theirs = WebSocketStream::from_raw_socket(theirs, Role::Server, None).await;
        let (sink, stream) = ours.split();
        let (_, sink) = transport!(tasks, stream, sink, Message);
        (sink, theirs, tasks)
    }

    #[tokio::test(start_paused = true)]
    async fn a_connections_writer_is_the_replicas_and_ends_with_it() {
        let (sink, mut theirs, tasks) = pair(64 * 1024).await;
        assert_eq!(
            tasks.running(),
            1,
            "the writer runs as one of the repo's tasks"
        );
        tasks.stop().await;
        assert_eq!(tasks.running(), 0, "shutdown ended the writer");
        drop(sink);
        let end = tokio::time::timeout(Duration::from_secs(1), theirs.next()).await;
        assert!(
            matches!(end, Ok(None | Some(Err(_)))),
            "the peer sees the connection end: {end:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_writer_stuck_behind_a_peer_that_stopped_reading_gives_up() {
        let (mut sink, _theirs, tasks) = pair(256).await;
        // The peer never reads: the first message fills the pipe and the
        // writer's send waits; samod keeps the connection (the sink).
        sink.send(vec![0u8; 4096])
            .await
            .expect("queued for the writer");
        tokio::time::sleep(keepalive() * 3 + keepalive() * 2).await;
        assert_eq!(tasks.running(), 0, "the writer gave up on the send");
        drop(sink);
    }
}
