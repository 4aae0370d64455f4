//! The Blynk device protocol (DESIGN §4; `../shared/reference/protocols.md`
//! §1): so existing Blynk-library firmware talks to the hub over TCP, TLS
//! or a serial line. This first part is the wire format: framing
//! ([`codec`]) and HARDWARE bodies ([`hardware`]); the server, sessions and
//! the devices core follow.

pub mod codec;
pub mod hardware;

pub use codec::{BlynkCodec, Frame, FrameError};
pub use hardware::{Hardware, HardwareError};
