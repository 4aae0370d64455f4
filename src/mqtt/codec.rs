//! rumqttc's MQTT 3.1.1 packet codec, with one addition: a CONNECT of
//! another protocol level is recognised before it is parsed (an MQTT 5
//! CONNECT does not parse as 3.1.1), so the client can be told its version
//! is not spoken instead of being hung up on. It never acts on a packet (the session does), and
//! its size limits are rumqttc's, as the session configures them.

use bytes::BytesMut;
use rumqttc::mqttbytes::Error;
use rumqttc::mqttbytes::v4::{Codec, Packet};
use tokio_util::codec::{Decoder, Encoder};

pub struct MqttCodec(pub Codec);

impl Decoder for MqttCodec {
    type Item = Packet;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, Error> {
        match connect_level(src) {
            Some(level) if level != 4 => Err(Error::InvalidProtocolLevel(level)),
            _ => self.0.decode(src),
        }
    }
}

impl Encoder<Packet> for MqttCodec {
    type Error = Error;

    fn encode(&mut self, packet: Packet, dst: &mut BytesMut) -> Result<(), Error> {
        self.0.encode(packet, dst)
    }
}

/// The protocol level of a CONNECT at the start of `buf`, once its header
/// is there.
pub fn connect_level(buf: &[u8]) -> Option<u8> {
    if buf.first()? >> 4 != 1 {
        return None;
    }
    // The remaining length: 1 to 4 bytes, the high bit continues it.
    let len_bytes = buf.iter().skip(1).take(4).position(|b| b & 0x80 == 0)? + 1;
    let rest = buf.get(1 + len_bytes..)?;
    (rest.get(..6)? == b"\x00\x04MQTT").then(|| rest.get(6).copied())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_levels_are_read_before_parsing() {
        let v311 = [
            0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
        ];
        assert_eq!(connect_level(&v311), Some(4));
        let mut v5 = v311;
        v5[8] = 5;
        assert_eq!(connect_level(&v5), Some(5));
        assert_eq!(
            connect_level(&[0x30, 0x02, 0x00, 0x00]),
            None,
            "not a CONNECT"
        );
        assert_eq!(connect_level(&[0x10, 0x80]), None, "not all there yet");
        let mut codec = MqttCodec(Codec {
            max_incoming_size: 1024,
            max_outgoing_size: 1024,
        });
        assert!(matches!(
            codec.decode(&mut BytesMut::from(&v5[..])),
            Err(Error::InvalidProtocolLevel(5))
        ));
        assert!(matches!(
            codec.decode(&mut BytesMut::from(&v311[..])),
            Ok(Some(Packet::Connect(_)))
        ));
    }
}
