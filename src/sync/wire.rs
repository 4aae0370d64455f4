//! WebSockets as samod transports: one automerge-repo message per binary
//! frame (protocols.md §3), for the client side (tokio-tungstenite) and the
//! server side (axum). samod's own helpers for this sit behind features
//! that pull OpenSSL (`tungstenite`) or pin another axum, so the few lines
//! are here.

use futures_util::{SinkExt, StreamExt, future};
use samod::Transport;

/// Why a WebSocket stopped carrying sync messages.
#[derive(Debug, thiserror::Error)]
#[error("sync connection: {0}")]
pub struct WireError(String);

/// A WebSocket's message stream and sink (`$message`: its library's
/// `Message` type) as a transport: binary frames are sync messages, a text
/// frame is an error, the rest (ping, pong, close) is not for samod.
macro_rules! transport {
    ($stream:expr, $sink:expr, $message:ident) => {{
        let stream = $stream
            .filter_map(|msg| {
                future::ready(match msg {
                    Ok($message::Binary(data)) => Some(Ok(data.to_vec())),
                    Ok($message::Text(_)) => Some(Err(WireError("a text frame".into()))),
                    Ok(_) => None,
                    Err(e) => Some(Err(WireError(e.to_string()))),
                })
            })
            .boxed();
        let sink = $sink
            .sink_map_err(|e| WireError(e.to_string()))
            .with(|data: Vec<u8>| future::ready(Ok::<_, WireError>($message::Binary(data.into()))));
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
    transport!(stream.take_until(stop.cancelled_owned()), sink, Message)
}
