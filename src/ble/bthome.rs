//! BTHome v2 service data (UUID 0xFCD2; `../shared/reference/protocols.md`
//! §4), plain and encrypted (AES-128-CCM with the device's bind key).
//!
//! Byte 0 is the device information (bit 0 encrypted, bit 2 trigger based,
//! bits 5–7 the version, 2); then objects, each an id and a little-endian
//! value of a size the id fixes. An id this decoder does not know ends
//! decoding with an error (its size, and so the rest, is unknown); every
//! reading before it is kept. Decoding never panics.

use aes::Aes128;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U4, U13};

/// AES-128-CCM as BTHome uses it: 4-byte MIC, 13-byte nonce.
type BthomeCcm = ccm::Ccm<Aes128, U4, U13>;

#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// `temperature`, `humidity`, `battery`, `door`, `button`, …
    pub name: &'static str,
    pub value: f64,
    pub unit: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Advert {
    pub encrypted: bool,
    pub trigger_based: bool,
    pub packet_id: Option<u8>,
    pub readings: Vec<Reading>,
    /// Text (0x53) and raw (0x54) objects, as sent.
    pub extra: Vec<(&'static str, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BthomeError {
    #[error("no service data")]
    Empty,
    #[error("BTHome version {0}; only version 2 is understood")]
    Version(u8),
    #[error("the advert is encrypted and no bind key is set for this device")]
    NoKey,
    #[error("the advert does not decrypt with the device's bind key")]
    WrongKey,
    #[error("the encrypted advert is too short")]
    TooShort,
    #[error("object 0x{id:02x} is cut short")]
    Truncated { id: u8 },
    #[error("unknown object id 0x{0:02x}")]
    UnknownObject(u8),
}

/// How an object's value is read: size in bytes, signed, factor, name, unit.
struct Object {
    size: usize,
    signed: bool,
    factor: f64,
    name: &'static str,
    unit: Option<&'static str>,
}

const fn obj(
    size: usize,
    signed: bool,
    factor: f64,
    name: &'static str,
    unit: Option<&'static str>,
) -> Object {
    Object {
        size,
        signed,
        factor,
        name,
        unit,
    }
}

fn object(id: u8) -> Option<Object> {
    const C: Option<&str> = Some("°C");
    const PCT: Option<&str> = Some("%");
    Some(match id {
        0x01 => obj(1, false, 1.0, "battery", PCT),
        0x02 => obj(2, true, 0.01, "temperature", C),
        0x03 => obj(2, false, 0.01, "humidity", PCT),
        0x04 => obj(3, false, 0.01, "pressure", Some("hPa")),
        0x05 => obj(3, false, 0.01, "illuminance", Some("lx")),
        0x06 => obj(2, false, 0.01, "mass", Some("kg")),
        0x07 => obj(2, false, 0.01, "mass", Some("lb")),
        0x08 => obj(2, true, 0.01, "dewpoint", C),
        0x09 => obj(1, false, 1.0, "count", None),
        0x0A => obj(3, false, 0.001, "energy", Some("kWh")),
        0x0B => obj(3, false, 0.01, "power", Some("W")),
        0x0C => obj(2, false, 0.001, "voltage", Some("V")),
        0x0D => obj(2, false, 1.0, "pm25", Some("µg/m³")),
        0x0E => obj(2, false, 1.0, "pm10", Some("µg/m³")),
        0x12 => obj(2, false, 1.0, "co2", Some("ppm")),
        0x13 => obj(2, false, 1.0, "tvoc", Some("µg/m³")),
        0x14 => obj(2, false, 0.01, "moisture", PCT),
        0x0F..=0x11 | 0x15..=0x2D => obj(1, false, 1.0, binary_name(id), None),
        0x2E => obj(1, false, 1.0, "humidity", PCT),
        0x2F => obj(1, false, 1.0, "moisture", PCT),
        0x3A => obj(1, false, 1.0, "button", None),
        0x3C => obj(2, false, 1.0, "dimmer", None),
        0x3D => obj(2, false, 1.0, "count", None),
        0x3E => obj(4, false, 1.0, "count", None),
        0x3F => obj(2, true, 0.1, "rotation", Some("°")),
        0x40 => obj(2, false, 1.0, "distance", Some("mm")),
        0x41 => obj(2, false, 0.1, "distance", Some("m")),
        0x42 => obj(3, false, 0.001, "duration", Some("s")),
        0x43 => obj(2, false, 0.001, "current", Some("A")),
        0x44 => obj(2, false, 0.01, "speed", Some("m/s")),
        0x45 => obj(2, true, 0.1, "temperature", C),
        0x46 => obj(1, false, 0.1, "uv_index", None),
        0x47 => obj(2, false, 0.1, "volume", Some("L")),
        0x48 => obj(2, false, 1.0, "volume", Some("mL")),
        0x49 => obj(2, false, 0.001, "volume_flow_rate", Some("m³/h")),
        0x4A => obj(2, false, 0.1, "voltage", Some("V")),
        0x4B => obj(3, false, 0.001, "gas", Some("m³")),
        0x4C => obj(4, false, 0.001, "gas", Some("m³")),
        0x4D => obj(4, false, 0.001, "energy", Some("kWh")),
        0x4E => obj(4, false, 0.001, "volume", Some("L")),
        0x4F => obj(4, false, 0.001, "water", Some("L")),
        0x50 => obj(4, false, 1.0, "timestamp", Some("s")),
        0x51 => obj(2, false, 0.001, "acceleration", Some("m/s²")),
        0x52 => obj(2, false, 0.001, "gyroscope", Some("°/s")),
        0x55 => obj(4, false, 0.001, "volume_storage", Some("L")),
        0x56 => obj(2, false, 1.0, "conductivity", Some("µS/cm")),
        0x57 => obj(1, true, 1.0, "temperature", C),
        0x58 => obj(1, true, 0.35, "temperature", C),
        0x59 => obj(1, true, 1.0, "count", None),
        0x5A => obj(2, true, 1.0, "count", None),
        0x5B => obj(4, true, 1.0, "count", None),
        0x5C => obj(4, true, 0.01, "power", Some("W")),
        0x5D => obj(2, true, 0.001, "current", Some("A")),
        0x5E => obj(2, false, 0.01, "direction", Some("°")),
        0x5F => obj(2, false, 0.1, "precipitation", Some("mm")),
        0x60 => obj(1, false, 1.0, "channel", None),
        0xF0 => obj(2, false, 1.0, "device_type", None),
        0xF1 => obj(4, false, 1.0, "firmware", None),
        0xF2 => obj(3, false, 1.0, "firmware", None),
        _ => return None,
    })
}

fn binary_name(id: u8) -> &'static str {
    const NAMES: [&str; 31] = [
        "generic",
        "power",
        "opening",
        "",
        "",
        "",
        "battery_low",
        "battery_charging",
        "carbon_monoxide",
        "cold",
        "connectivity",
        "door",
        "garage_door",
        "gas",
        "heat",
        "light",
        "lock",
        "moisture",
        "motion",
        "moving",
        "occupancy",
        "plug",
        "presence",
        "problem",
        "running",
        "safety",
        "smoke",
        "sound",
        "tamper",
        "vibration",
        "window",
    ];
    NAMES
        .get(usize::from(id.wrapping_sub(0x0F)))
        .copied()
        .filter(|n| !n.is_empty())
        .unwrap_or("binary")
}

/// Decodes service data of a device with `mac` (display order), decrypting
/// with `key` when the advert is encrypted.
///
/// # Errors
/// [`BthomeError`]; for an unknown or cut-short object the readings before
/// it are lost too (use [`decode_partial`] to keep them).
pub fn decode(data: &[u8], mac: [u8; 6], key: Option<&[u8; 16]>) -> Result<Advert, BthomeError> {
    let (advert, error) = decode_partial(data, mac, key)?;
    error.map_or(Ok(advert), Err)
}

/// Like [`decode`], but an unknown or cut-short object ends decoding with
/// the readings before it kept, and the error beside them.
///
/// # Errors
/// Only what makes the whole advert unreadable (version, key, length).
pub fn decode_partial(
    data: &[u8],
    mac: [u8; 6],
    key: Option<&[u8; 16]>,
) -> Result<(Advert, Option<BthomeError>), BthomeError> {
    let (&info, rest) = data.split_first().ok_or(BthomeError::Empty)?;
    let version = info >> 5;
    if version != 2 {
        return Err(BthomeError::Version(version));
    }
    let encrypted = info & 0x01 != 0;
    let mut advert = Advert {
        encrypted,
        trigger_based: info & 0x04 != 0,
        ..Advert::default()
    };
    let plain;
    let objects = if encrypted {
        let key = key.ok_or(BthomeError::NoKey)?;
        plain = decrypt(info, rest, mac, key)?;
        &plain[..]
    } else {
        rest
    };
    let mut at = 0;
    while at < objects.len() {
        let id = objects[at];
        at += 1;
        if id == 0x53 || id == 0x54 {
            let Some(&len) = objects.get(at) else {
                return Ok((advert, Some(BthomeError::Truncated { id })));
            };
            let Some(bytes) = objects.get(at + 1..at + 1 + usize::from(len)) else {
                return Ok((advert, Some(BthomeError::Truncated { id })));
            };
            advert
                .extra
                .push((if id == 0x53 { "text" } else { "raw" }, bytes.to_vec()));
            at += 1 + usize::from(len);
            continue;
        }
        if id == 0x00 {
            let Some(&packet) = objects.get(at) else {
                return Ok((advert, Some(BthomeError::Truncated { id })));
            };
            advert.packet_id = Some(packet);
            at += 1;
            continue;
        }
        let Some(o) = object(id) else {
            return Ok((advert, Some(BthomeError::UnknownObject(id))));
        };
        let Some(bytes) = objects.get(at..at + o.size) else {
            return Ok((advert, Some(BthomeError::Truncated { id })));
        };
        at += o.size;
        let mut raw: u64 = 0;
        for (i, b) in bytes.iter().enumerate() {
            raw |= u64::from(*b) << (8 * i);
        }
        let number = if o.signed {
            let shift = 64 - 8 * o.size as u32;
            (((raw << shift) as i64) >> shift) as f64
        } else {
            raw as f64
        };
        // Rounded to the factor's precision: 2500 * 0.01 is 25, not 25.000000000000004.
        let decimals = (-o.factor.log10()).ceil().max(0.0) as i32;
        let scale = 10f64.powi(decimals);
        advert.readings.push(Reading {
            name: o.name,
            value: (number * o.factor * scale).round() / scale,
            unit: o.unit,
        });
    }
    Ok((advert, None))
}

/// `ciphertext ‖ counter (4) ‖ MIC (4)` → the plain objects.
fn decrypt(info: u8, rest: &[u8], mac: [u8; 6], key: &[u8; 16]) -> Result<Vec<u8>, BthomeError> {
    if rest.len() < 8 {
        return Err(BthomeError::TooShort);
    }
    let (cipher, tail) = rest.split_at(rest.len() - 8);
    let (counter, mic) = tail.split_at(4);
    let mut nonce = [0u8; 13];
    nonce[..6].copy_from_slice(&mac);
    nonce[6..8].copy_from_slice(&[0xd2, 0xfc]);
    nonce[8] = info;
    nonce[9..].copy_from_slice(counter);
    let ccm = BthomeCcm::new(key.into());
    let mut buffer = cipher.to_vec();
    ccm.decrypt_in_place_detached((&nonce).into(), b"", &mut buffer, mic.into())
        .map_err(|_| BthomeError::WrongKey)?;
    Ok(buffer)
}

/// `54:48:E6:8F:80:A5` or `5448E68F80A5` → bytes in display order.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let hex: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    let bytes = hex::decode(hex).ok()?;
    bytes.try_into().ok()
}

/// Decodes arbitrary bytes as service data, as an advert from anyone would
/// arrive, and checks what any input must satisfy: no panic, never more
/// readings than bytes, and a plain advert decoded twice the same way.
/// Shared by the fuzz target and the corpus replay test.
pub fn check(data: &[u8]) {
    let key = [0x23u8; 16];
    let mac = [0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5];
    if let Ok((advert, _)) = decode_partial(data, mac, Some(&key)) {
        assert!(advert.readings.len() <= data.len());
        assert!(advert.readings.iter().all(|r| r.value.is_finite()));
        if !advert.encrypted {
            assert_eq!(
                decode_partial(data, mac, None).ok().map(|(a, _)| a),
                Some(advert)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5];

    fn values(advert: &Advert) -> Vec<(&'static str, f64)> {
        advert.readings.iter().map(|r| (r.name, r.value)).collect()
    }

    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        crate::replay_fuzz_corpus("bthome", check);
    }

    #[test]
    fn the_plain_test_vector_decodes() {
        let data = hex::decode("40015d02c40903bf13").unwrap();
        let advert = decode(&data, MAC, None).unwrap();
        assert!(!advert.encrypted);
        assert_eq!(
            values(&advert),
            [
                ("battery", 93.0),
                ("temperature", 25.0),
                ("humidity", 50.55)
            ]
        );
    }

    #[test]
    fn the_encrypted_test_vector_decodes_with_its_key_only() {
        let data = hex::decode("410465b2fcd1a56fe4010000006a9a1ba9").unwrap();
        let key: [u8; 16] = hex::decode("231d39c1d7cc1ab1aee224cd096db932")
            .unwrap()
            .try_into()
            .unwrap();
        let advert = decode(&data, MAC, Some(&key)).unwrap();
        assert!(advert.encrypted);
        assert_eq!(
            values(&advert),
            [
                ("battery", 93.0),
                ("temperature", 25.0),
                ("humidity", 50.55)
            ]
        );
        let mut wrong = key;
        wrong[0] ^= 1;
        assert_eq!(decode(&data, MAC, Some(&wrong)), Err(BthomeError::WrongKey));
        assert_eq!(decode(&data, MAC, None), Err(BthomeError::NoKey));
        let other_mac = [0u8; 6];
        assert_eq!(
            decode(&data, other_mac, Some(&key)),
            Err(BthomeError::WrongKey),
            "the MAC is in the nonce"
        );
    }

    #[test]
    fn bad_adverts_are_refused_by_name_and_keep_what_came_before() {
        assert_eq!(decode(&[], MAC, None), Err(BthomeError::Empty));
        assert_eq!(
            decode(&[0x20, 0x01, 0x10], MAC, None),
            Err(BthomeError::Version(1))
        );
        assert_eq!(
            decode(&[0x40, 0x02, 0xc4], MAC, None),
            Err(BthomeError::Truncated { id: 0x02 })
        );
        let (advert, error) = decode_partial(&[0x40, 0x01, 0x5d, 0xEE, 0x01], MAC, None).unwrap();
        assert_eq!(values(&advert), [("battery", 93.0)]);
        assert_eq!(error, Some(BthomeError::UnknownObject(0xEE)));
        assert_eq!(
            decode(&[0x41, 1, 2, 3], MAC, Some(&[0; 16])),
            Err(BthomeError::TooShort)
        );
    }

    #[test]
    fn signed_values_binary_sensors_events_and_text() {
        // temperature -5.5 (0x45, s16 x0.1), door open, button double press, packet id, text "hi".
        let data = [
            0x40, 0x00, 0x07, 0x1A, 0x01, 0x3A, 0x02, 0x45, 0xC9, 0xFF, 0x53, 0x02, b'h', b'i',
        ];
        let advert = decode(&data, MAC, None).unwrap();
        assert_eq!(advert.packet_id, Some(7));
        assert_eq!(
            values(&advert),
            [("door", 1.0), ("button", 2.0), ("temperature", -5.5)]
        );
        assert_eq!(advert.extra, vec![("text", b"hi".to_vec())]);
        assert_eq!(parse_mac("54:48:E6:8F:80:A5"), Some(MAC));
        assert_eq!(parse_mac("5448E68F80A5"), Some(MAC));
        assert_eq!(parse_mac("54:48"), None);
    }
}
