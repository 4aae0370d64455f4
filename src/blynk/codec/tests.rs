//! Unit tests of the Blynk codec: framing, refusals and the fuzz corpus, on byte buffers only;
//! they never open a socket.

use proptest::prelude::*;

use super::*;
use crate::blynk::hardware::{Hardware, HardwareError};

fn frames(bytes: &[u8]) -> (Vec<Frame>, BytesMut) {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(frame) = decode(&mut buf, DEFAULT_MAX_BODY).unwrap() {
        out.push(frame);
    }
    (out, buf)
}

#[test]
fn the_reference_test_vector_is_a_virtual_write_of_42_to_v1() {
    let wire = b"\x14\x00\x01\x00\x07vw\x001\x0042";
    let (got, rest) = frames(wire);
    assert!(rest.is_empty());
    assert_eq!(
        got,
        vec![Frame::Message {
            command: command::HARDWARE,
            id: 1,
            body: b"vw\x001\x0042".to_vec()
        }]
    );
    let Frame::Message { body, .. } = &got[0] else {
        unreachable!()
    };
    assert_eq!(
        Hardware::parse(body),
        Ok(Hardware::VirtualWrite {
            pin: 1,
            values: vec!["42".into()]
        })
    );
    let mut out = BytesMut::new();
    encode(
        &Frame::message(command::HARDWARE, 1, &["vw", "1", "42"]),
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], &wire[..]);
}

#[test]
fn a_response_carries_its_status_in_the_length_field() {
    let (got, rest) = frames(b"\x00\x00\x01\x00\xc8");
    assert!(rest.is_empty());
    assert_eq!(got, vec![Frame::Response { id: 1, status: 200 }]);
}

#[test]
fn frames_split_across_reads_or_coalesced_in_one_decode_the_same() {
    let mut wire = Vec::new();
    let mut buf = BytesMut::new();
    encode(&Frame::message(command::HW_LOGIN, 1, &["token"]), &mut buf).unwrap();
    encode(&Frame::Response { id: 2, status: 200 }, &mut buf).unwrap();
    encode(&Frame::message(command::PING, 3, &[]), &mut buf).unwrap();
    wire.extend_from_slice(&buf);
    let (whole, _) = frames(&wire);
    assert_eq!(whole.len(), 3);
    // One byte at a time, as a slow serial line delivers them.
    let mut trickle = BytesMut::new();
    let mut seen = Vec::new();
    for byte in &wire {
        trickle.extend_from_slice(&[*byte]);
        while let Some(f) = decode(&mut trickle, DEFAULT_MAX_BODY).unwrap() {
            seen.push(f);
        }
    }
    assert_eq!(seen, whole);
}

#[test]
fn id_zero_and_oversized_bodies_are_refused_by_name() {
    let mut zero = BytesMut::from(&b"\x14\x00\x00\x00\x02vw"[..]);
    assert_eq!(
        decode(&mut zero, DEFAULT_MAX_BODY),
        Err(FrameError::ZeroId { command: 20 })
    );
    let mut big = BytesMut::from(&b"\x14\x00\x05\x10\x00"[..]);
    let err = decode(&mut big, DEFAULT_MAX_BODY).unwrap_err();
    assert_eq!(
        err,
        FrameError::Oversized {
            command: 20,
            id: 5,
            len: 4096,
            max: 1024
        }
    );
    assert!(err.to_string().contains("4096") && err.to_string().contains("1024"));
    // A short header is not an error: more bytes may come.
    let mut short = BytesMut::from(&b"\x14\x00"[..]);
    assert_eq!(decode(&mut short, DEFAULT_MAX_BODY), Ok(None));
}

#[test]
fn bad_hardware_bodies_say_what_is_wrong() {
    let cases: [(&[u8], HardwareError); 6] = [
        (b"", HardwareError::Empty),
        (
            b"vw",
            HardwareError::BadPin {
                op: "vw".into(),
                pin: String::new(),
            },
        ),
        (
            b"vw\x00300\x001",
            HardwareError::BadPin {
                op: "vw".into(),
                pin: "300".into(),
            },
        ),
        (b"vw\x001", HardwareError::MissingValue("vw".into())),
        (b"zz\x001", HardwareError::UnknownOperation("zz".into())),
        (b"vw\x001\x00\xff", HardwareError::NotUtf8(5)),
    ];
    for (body, want) in cases {
        assert_eq!(Hardware::parse(body), Err(want), "{body:?}");
    }
    assert_eq!(
        Hardware::parse(b"pm\x002\x00out\x005\x00in"),
        Ok(Hardware::PinModes(vec![
            (2, "out".into()),
            (5, "in".into())
        ]))
    );
    assert_eq!(
        Hardware::parse(b"pm\x002"),
        Err(HardwareError::UnpairedModes)
    );
}

proptest! {
    #[test]
    fn every_frame_round_trips(
        command in 1u8..=255,
        id in 1u16..,
        body in proptest::collection::vec(any::<u8>(), 0..=DEFAULT_MAX_BODY),
        status in any::<u16>(),
        response in any::<bool>(),
    ) {
        let frame = if response {
            Frame::Response { id, status }
        } else {
            Frame::Message { command, id, body }
        };
        let mut wire = BytesMut::new();
        encode(&frame, &mut wire).unwrap();
        let (got, rest) = frames(&wire);
        prop_assert!(rest.is_empty());
        prop_assert_eq!(got, vec![frame]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_stream(&data);
    }
}

/// The fuzz target's corpus, replayed on stable in every test run.
#[test]
fn the_fuzz_corpus_replays_cleanly() {
    crate::replay_fuzz_corpus("blynk_codec", check_stream);
}
