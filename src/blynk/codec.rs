//! The Blynk device protocol's framing (`../shared/reference/protocols.md`
//! §1): a 5-byte header — command (u8), message id (u16 BE), length
//! (u16 BE) — then `length` bytes of body; for RESPONSE (command 0) the
//! length field is the status code and no body follows. The same bytes
//! travel over TCP, TLS and serial lines.
//!
//! Decoding never panics and never waits for more than a frame's worth of
//! bytes: a frame with message id 0 or a body longer than the limit is an
//! error naming what was wrong, after which the connection is dropped (the
//! protocol has no way to resynchronise a byte stream).

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

pub const HEADER_LEN: usize = 5;
/// Bodies longer than this are refused unless configured otherwise.
pub const DEFAULT_MAX_BODY: usize = crate::config::DEFAULT_BLYNK_MAX_BODY;

/// Command codes the hub knows.
pub mod command {
    pub const RESPONSE: u8 = 0;
    pub const LOGIN: u8 = 2;
    pub const PING: u8 = 6;
    pub const BRIDGE: u8 = 15;
    pub const HARDWARE_SYNC: u8 = 16;
    pub const INTERNAL: u8 = 17;
    pub const PROPERTY: u8 = 19;
    pub const HARDWARE: u8 = 20;
    pub const GROUP: u8 = 21;
    pub const HW_LOGIN: u8 = 29;
    pub const REDIRECT: u8 = 41;
    pub const DEBUG_PRINT: u8 = 55;
    pub const EVENT_LOG: u8 = 64;
    pub const EVENT_CLEAR: u8 = 65;
}

/// Status codes carried by RESPONSE.
pub mod status {
    pub const OK: u16 = 200;
    pub const QUOTA_LIMIT: u16 = 1;
    pub const ILLEGAL_COMMAND: u16 = 2;
    pub const NOT_AUTHENTICATED: u16 = 5;
    pub const NOT_ALLOWED: u16 = 6;
    pub const INVALID_TOKEN: u16 = 9;
    pub const ILLEGAL_COMMAND_BODY: u16 = 11;
    pub const NO_DATA: u16 = 17;
    pub const DEVICE_WENT_OFFLINE: u16 = 18;
    pub const SERVER_EXCEPTION: u16 = 19;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// RESPONSE: the answer to message `id`.
    Response { id: u16, status: u16 },
    /// Any other command, its body as sent (NUL-separated tokens).
    Message { command: u8, id: u16, body: Vec<u8> },
}

impl Frame {
    pub fn id(&self) -> u16 {
        match self {
            Frame::Response { id, .. } | Frame::Message { id, .. } => *id,
        }
    }

    /// A message whose body is `tokens` joined by NUL.
    pub fn message(command: u8, id: u16, tokens: &[&str]) -> Frame {
        Frame::Message {
            command,
            id,
            body: tokens.join("\0").into_bytes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message id 0 is invalid (command {command})")]
    ZeroId { command: u8 },
    #[error("a body of {len} bytes is over the limit of {max} (command {command}, id {id})")]
    Oversized {
        command: u8,
        id: u16,
        len: usize,
        max: usize,
    },
}

/// What went wrong reading a stream: a bad frame, or the stream itself.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The tokio codec for one connection.
#[derive(Debug, Clone)]
pub struct BlynkCodec {
    max_body: usize,
}

impl Default for BlynkCodec {
    fn default() -> Self {
        BlynkCodec {
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

impl BlynkCodec {
    pub fn with_max_body(max_body: usize) -> Self {
        BlynkCodec { max_body }
    }
}

/// Decodes one frame from the front of `buf`, if a whole one is there.
/// Pure, for the codec, the fuzz target and tests.
///
/// # Errors
/// [`FrameError`] for a frame no valid client sends.
pub fn decode(buf: &mut BytesMut, max_body: usize) -> Result<Option<Frame>, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let command = buf[0];
    let id = u16::from_be_bytes([buf[1], buf[2]]);
    let length = u16::from_be_bytes([buf[3], buf[4]]);
    if id == 0 {
        return Err(FrameError::ZeroId { command });
    }
    if command == command::RESPONSE {
        buf.advance(HEADER_LEN);
        return Ok(Some(Frame::Response { id, status: length }));
    }
    let len = usize::from(length);
    if len > max_body {
        return Err(FrameError::Oversized {
            command,
            id,
            len,
            max: max_body,
        });
    }
    if buf.len() < HEADER_LEN + len {
        buf.reserve(HEADER_LEN + len - buf.len());
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    let body = buf.split_to(len).to_vec();
    Ok(Some(Frame::Message { command, id, body }))
}

/// Appends `frame`'s bytes to `dst`.
///
/// # Errors
/// A body over 65,535 bytes cannot be framed.
pub fn encode(frame: &Frame, dst: &mut BytesMut) -> Result<(), std::io::Error> {
    match frame {
        Frame::Response { id, status } => {
            dst.reserve(HEADER_LEN);
            dst.put_u8(command::RESPONSE);
            dst.put_u16(*id);
            dst.put_u16(*status);
        }
        Frame::Message { command, id, body } => {
            let len = u16::try_from(body.len()).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("a Blynk body of {} bytes cannot be framed", body.len()),
                )
            })?;
            dst.reserve(HEADER_LEN + body.len());
            dst.put_u8(*command);
            dst.put_u16(*id);
            dst.put_u16(len);
            dst.extend_from_slice(body);
        }
    }
    Ok(())
}

impl Decoder for BlynkCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        Ok(decode(src, self.max_body)?)
    }
}

impl Encoder<Frame> for BlynkCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode(&frame, dst)?)
    }
}

/// A body's NUL-separated tokens, which must be UTF-8.
///
/// # Errors
/// The byte offset where the body stops being UTF-8.
pub fn tokens(body: &[u8]) -> Result<Vec<&str>, usize> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let text = std::str::from_utf8(body).map_err(|e| e.valid_up_to())?;
    Ok(text.split('\0').collect())
}

#[cfg(test)]
mod tests;

/// Feeds arbitrary bytes through the decoder as a connection would, and
/// checks what any input must satisfy: no panic, every decoded frame
/// encodes back to the bytes it came from, HARDWARE bodies parse or are
/// refused cleanly. The fuzz target and the corpus replay test run this.
pub fn check_stream(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.clone();
        match decode(&mut buf, DEFAULT_MAX_BODY) {
            Ok(Some(frame)) => {
                let used = before.len() - buf.len();
                let mut again = BytesMut::new();
                encode(&frame, &mut again).expect("a decoded frame encodes");
                assert_eq!(&again[..], &before[..used], "round trip of {frame:?}");
                if let Frame::Message {
                    command: command::HARDWARE,
                    body,
                    ..
                } = &frame
                    && let Ok(hw) = super::hardware::Hardware::parse(body)
                {
                    let reparsed = super::hardware::Hardware::parse(&hw.to_body());
                    assert_eq!(reparsed.as_ref(), Ok(&hw), "HARDWARE body round trip");
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// The codec sessions use: a bad frame is an item, not the end of the
/// stream, and its first byte is skipped so the next decode starts past
/// it. A TCP session then closes the connection (the protocol's way); a
/// serial line, which has no other connection to fall back to, skips
/// ahead until frames make sense again.
#[derive(Debug, Clone)]
pub struct LinkCodec {
    pub max_body: usize,
}

impl Decoder for LinkCodec {
    type Item = Result<Frame, FrameError>;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, std::io::Error> {
        match decode(src, self.max_body) {
            Ok(frame) => Ok(frame.map(Ok)),
            Err(e) => {
                src.advance(1);
                Ok(Some(Err(e)))
            }
        }
    }
}

impl Encoder<Frame> for LinkCodec {
    type Error = std::io::Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        encode(&frame, dst)
    }
}
