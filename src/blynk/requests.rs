//! What the hub answers to each kind of Blynk message a logged-in device
//! sends, apart from the wire: the session sends the [`Reply`]. It never touches another
//! device but through BRIDGE, as a command by the sender's owner with that person's permissions
//! (an ownerless device cannot bridge), and never reads or writes a frame itself.

use std::collections::HashMap;
use std::time::Duration;

use super::codec::{command, status, tokens};
use super::hardware::Hardware;
use crate::devices::{DeviceError, Devices, Pin};
use crate::tenancy::{Access, Caller};

/// The answer to one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Nothing (HARDWARE writes are not acknowledged in Blynk).
    None,
    Status(u16),
    /// A status, and why (logged once; the device only gets the code).
    Refused(u16, String),
    /// Messages with the request's id: `(command, body)`.
    Frames(Vec<(u8, Vec<u8>)>),
}

/// The live device a token belongs to.
pub fn device_for_token(devices: &Devices, token: &str) -> Option<String> {
    if token.is_empty() {
        return None;
    }
    let replica = devices.replica();
    let device = replica
        .with_credentials(|c| c.device_for_token(token).map(str::to_owned))
        .ok()??;
    replica
        .with_state(|s| s.devices().get(&device).is_some_and(|d| !d.deleted))
        .ok()?
        .then_some(device)
}

/// INTERNAL: time requests (`rtc`, `utc`) are answered; anything else is
/// the device's information (`ver`, `h-beat`, `buff-in`, `dev`, `tmpl`,
/// `fw`, …), kept and acknowledged with 200 at once.
pub fn internal(
    devices: &Devices,
    device: &str,
    link: u64,
    body: &[u8],
    heartbeat: &mut Duration,
) -> Reply {
    let Ok(parts) = tokens(body) else {
        return Reply::Refused(
            status::ILLEGAL_COMMAND_BODY,
            "INTERNAL body is not UTF-8".into(),
        );
    };
    let now = devices.clock().now_ms();
    match parts.first().copied() {
        Some("rtc") => {
            let text = format!("rtc\0{}", now / 1000);
            return Reply::Frames(vec![(command::INTERNAL, text.into_bytes())]);
        }
        Some("utc") => {
            let what = parts.get(1).copied().unwrap_or("time");
            let answer = match what {
                "all/json" => serde_json::json!({ "time": now, "tz": "UTC", "tz_abbr": "UTC", "tz_name": "UTC", "tz_rule": "UTC0" }).to_string(),
                "tz_rule" => "UTC0".to_owned(),
                "tz" | "tz_name" | "tz_abbr" => "UTC".to_owned(),
                _ => now.to_string(),
            };
            let text = format!("utc\0{what}\0{answer}");
            return Reply::Frames(vec![(command::INTERNAL, text.into_bytes())]);
        }
        _ => {}
    }
    let pairs: Vec<(String, String)> = parts
        .chunks(2)
        .filter(|kv| kv.len() == 2 && !kv[0].is_empty())
        .map(|kv| (kv[0].to_owned(), kv[1].to_owned()))
        .collect();
    if let Some((_, beat)) = pairs.iter().find(|(k, _)| k == "h-beat")
        && let Ok(secs) = beat.parse::<u64>()
        && (1..=3600).contains(&secs)
    {
        *heartbeat = Duration::from_secs(secs);
        devices.set_heartbeat(device, link, *heartbeat);
    }
    devices.set_info(device, pairs);
    Reply::Status(status::OK)
}

/// HARDWARE from the device.
pub async fn hardware(devices: &Devices, device: &str, hw: Hardware) -> Reply {
    let write = |pin: Pin, values: Vec<String>| async move {
        match devices.record(device, pin, &values, false).await {
            Ok(_) => Reply::None,
            Err(e) => refused(&e),
        }
    };
    let read = |pin: Pin, op: &str| match devices.values(device).get(&pin.to_string()) {
        Some(v) => {
            let number = match pin {
                Pin::Virtual(n) | Pin::Digital(n) | Pin::Analog(n) => n,
            };
            let mut body = format!("{op}\0{number}");
            for part in v.value.split('\0') {
                body.push('\0');
                body.push_str(part);
            }
            Reply::Frames(vec![(command::HARDWARE, body.into_bytes())])
        }
        None => Reply::Status(status::NO_DATA),
    };
    match hw {
        Hardware::VirtualWrite { pin, values } => write(Pin::Virtual(pin), values).await,
        Hardware::DigitalWrite { pin, value } => write(Pin::Digital(pin), vec![value]).await,
        Hardware::AnalogWrite { pin, value } => write(Pin::Analog(pin), vec![value]).await,
        Hardware::VirtualRead { pin } => read(Pin::Virtual(pin), "vw"),
        Hardware::DigitalRead { pin } => read(Pin::Digital(pin), "dw"),
        Hardware::AnalogRead { pin } => read(Pin::Analog(pin), "aw"),
        Hardware::PinModes(modes) => {
            let text = modes
                .iter()
                .map(|(p, m)| format!("{p}:{m}"))
                .collect::<Vec<_>>()
                .join(",");
            devices.set_info(device, vec![("pin-modes".into(), text)]);
            Reply::None
        }
    }
}

fn refused(e: &DeviceError) -> Reply {
    let code = match e {
        DeviceError::Invalid(_) | DeviceError::Refused(_) => status::ILLEGAL_COMMAND_BODY,
        DeviceError::NotFound(_) | DeviceError::Denied { .. } => status::NOT_ALLOWED,
        DeviceError::Offline(_) | DeviceError::Busy(_) => status::DEVICE_WENT_OFFLINE,
        DeviceError::Store(_) | DeviceError::Replica(_) => status::SERVER_EXCEPTION,
    };
    Reply::Refused(code, e.to_string())
}

/// HARDWARE_SYNC's pins: `None` (an empty body) means every virtual pin;
/// `vr`/`dr`/`ar` lists name virtual, digital or analog pins. A list where
/// nothing parses is an empty list, not "all".
pub fn sync_pins(body: &[u8]) -> Option<Vec<Pin>> {
    let parts = tokens(body).ok()?;
    let (kind, list): (fn(u8) -> Pin, &[&str]) = match parts.as_slice() {
        [] | [""] => return None,
        ["dr", rest @ ..] => (Pin::Digital, rest),
        ["ar", rest @ ..] => (Pin::Analog, rest),
        ["vr", rest @ ..] => (Pin::Virtual, rest),
        all => (Pin::Virtual, all),
    };
    Some(
        list.iter()
            .filter_map(|p| p.parse::<u8>().ok().map(kind))
            .collect(),
    )
}

/// PROPERTY: `pin\0property\0value…`.
pub async fn property(devices: &Devices, device: &str, body: &[u8]) -> Reply {
    match tokens(body).ok().as_deref() {
        Some([pin, property, values @ ..]) if !values.is_empty() && !property.is_empty() => {
            match Pin::parse(pin) {
                Some(pin) => {
                    match devices
                        .set_property(device, pin, property, &values.join("\0"))
                        .await
                    {
                        Ok(()) => Reply::None,
                        Err(e) => {
                            Reply::Refused(status::SERVER_EXCEPTION, format!("PROPERTY: {e}"))
                        }
                    }
                }
                None => Reply::Refused(
                    status::ILLEGAL_COMMAND_BODY,
                    format!("PROPERTY: bad pin {pin:?}"),
                ),
            }
        }
        _ => Reply::Refused(
            status::ILLEGAL_COMMAND_BODY,
            "PROPERTY needs pin, property and value".into(),
        ),
    }
}

/// BRIDGE: `pin\0i\0token` points a bridge pin at another device (which
/// the sending device's owner must be allowed to control); `pin\0vw\0…`
/// then writes to it, as a command by that owner.
pub async fn bridge(
    devices: &Devices,
    device: &str,
    bridges: &mut HashMap<String, String>,
    body: &[u8],
) -> Reply {
    let Ok(parts) = tokens(body) else {
        return Reply::Refused(
            status::ILLEGAL_COMMAND_BODY,
            "BRIDGE body is not UTF-8".into(),
        );
    };
    let Some(owner) = owner_of(devices, device) else {
        return Reply::Refused(
            status::NOT_ALLOWED,
            format!("device {device} has no owner to bridge on behalf of"),
        );
    };
    match parts.as_slice() {
        [pin, "i", token] => {
            let Some(target) = device_for_token(devices, token) else {
                return Reply::Refused(
                    status::INVALID_TOKEN,
                    "BRIDGE: unknown target token".into(),
                );
            };
            if bridges.len() >= 64 && !bridges.contains_key(*pin) {
                return Reply::Refused(
                    status::QUOTA_LIMIT,
                    "BRIDGE: at most 64 bridge pins".into(),
                );
            }
            bridges.insert((*pin).to_owned(), target);
            Reply::Status(status::OK)
        }
        [pin, "vw", target_pin, values @ ..] if !values.is_empty() => {
            let Some(target) = bridges.get(*pin) else {
                return Reply::Refused(
                    status::ILLEGAL_COMMAND,
                    format!("BRIDGE: pin {pin} was not initialised"),
                );
            };
            let Some(target_pin) = Pin::parse(target_pin) else {
                return Reply::Refused(
                    status::ILLEGAL_COMMAND_BODY,
                    format!("BRIDGE: bad pin {target_pin:?}"),
                );
            };
            let values = values.iter().map(|v| (*v).to_owned()).collect();
            match devices
                .command(&Caller::User(owner), target, target_pin, values)
                .await
            {
                Ok(_) => Reply::None,
                Err(e) => refused(&e),
            }
        }
        _ => Reply::Refused(
            status::ILLEGAL_COMMAND_BODY,
            "BRIDGE: expected `pin i token` or `pin vw pin value`".into(),
        ),
    }
}

/// The user who owns `device` now (its bridge writes are theirs).
fn owner_of(devices: &Devices, device: &str) -> Option<String> {
    devices
        .replica()
        .with_state(|state| {
            let d = state.devices().get(device)?;
            let access = Access::new(state, devices.clock().now_ms());
            access.effective_owner(d).map(|m| m.user.clone())
        })
        .ok()?
}

/// EVENT_LOG: `code[\0description]`.
pub async fn event_log(devices: &Devices, device: &str, body: &[u8]) -> Reply {
    match tokens(body).ok().as_deref() {
        Some([code, rest @ ..]) if !code.is_empty() => {
            let description = (!rest.is_empty()).then(|| rest.join(" "));
            match devices.log_event(device, code, description).await {
                Ok(()) => Reply::Status(status::OK),
                Err(e) => refused(&e),
            }
        }
        _ => Reply::Refused(
            status::ILLEGAL_COMMAND_BODY,
            "EVENT_LOG needs an event code".into(),
        ),
    }
}

/// EVENT_CLEAR: `code` resolves that event's open entries; none, or `all`,
/// resolves every one.
pub async fn event_clear(devices: &Devices, device: &str, body: &[u8]) -> Reply {
    let code = tokens(body)
        .ok()
        .and_then(|t| t.first().map(|c| (*c).to_owned()))
        .filter(|c| !c.is_empty() && c != "all");
    match devices.clear_events(device, code).await {
        Ok(()) => Reply::Status(status::OK),
        Err(e) => refused(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_sync_pins_are_read_as_listed() {
        assert_eq!(sync_pins(b""), None, "an empty body: every virtual pin");
        assert_eq!(
            sync_pins(b"vr\x001\x002"),
            Some(vec![Pin::Virtual(1), Pin::Virtual(2)])
        );
        assert_eq!(sync_pins(b"3"), Some(vec![Pin::Virtual(3)]));
        assert_eq!(sync_pins(b"dr\x0013"), Some(vec![Pin::Digital(13)]));
        assert_eq!(sync_pins(b"ar\x000"), Some(vec![Pin::Analog(0)]));
        assert_eq!(
            sync_pins(b"vr\x00abc"),
            Some(vec![]),
            "nothing parsed is not 'all'"
        );
    }
}
