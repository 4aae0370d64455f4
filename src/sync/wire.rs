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
/// counts as life. One writer task sends samod's messages and the pings; it
/// ends when samod lets go of the connection or the socket fails.
macro_rules! transport {
    ($stream:expr, $sink:expr, $message:ident) => {{
        let every = keepalive();
        let mut sink = $sink;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        tokio::spawn(async move {
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
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
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
        Transport::new(stream, Box::pin(sink))
    }};
}

/// A client WebSocket (after the upgrade) as a transport.
pub fn from_tungstenite<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> Transport
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tokio_tungstenite::tungstenite::Message;
    let (sink, stream) = ws.split();
    transport!(stream, sink, Message)
}

/// A WebSocket accepted by axum as a transport, which ends when `stop`
/// fires (the peer's credential was revoked).
pub fn from_axum(
    ws: axum::extract::ws::WebSocket,
    stop: tokio_util::sync::CancellationToken,
) -> Transport {
    use axum::extract::ws::Message;
    let (sink, stream) = ws.split();
    transport!(
        stream.take_until(stop.cancelled_owned()).boxed(),
        sink,
        Message
    )
}
