//! The Blynk device protocol (DESIGN §4; `../shared/reference/protocols.md`
//! §1), so existing Blynk-library firmware talks to the hub over TCP, TLS
//! or a serial line: the wire format ([`codec`], [`hardware`]), one
//! device's session ([`session`], answering each message through
//! [`requests`]), and the transports that carry sessions ([`server`] for
//! TCP and TLS, [`serial`] for serial ports).

pub mod codec;
pub mod hardware;
pub mod requests;
pub mod serial;
pub mod server;
pub mod session;

pub use codec::{BlynkCodec, Frame, FrameError};
pub use hardware::{Hardware, HardwareError};
