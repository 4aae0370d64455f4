//! The body of a HARDWARE message (command 20): what a device writes or
//! asks for. `vw\0pin\0v1[\0v2…]` virtual write, `vr\0pin` virtual read,
//! `dw`/`aw` `pin\0value` digital/analog write, `dr`/`ar` reads, and `pm`
//! pin modes (`pm\0pin\0mode[\0pin\0mode…]`). Pure parsing and writing: it never checks a
//! value against a datastream (the devices core does) and never panics on a malformed body.

use super::codec::tokens;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hardware {
    VirtualWrite { pin: u8, values: Vec<String> },
    VirtualRead { pin: u8 },
    DigitalWrite { pin: u8, value: String },
    AnalogWrite { pin: u8, value: String },
    DigitalRead { pin: u8 },
    AnalogRead { pin: u8 },
    PinModes(Vec<(u8, String)>),
}

/// Why a body is not a HARDWARE command: said for the log line, while the
/// device gets status 11 (illegal command body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HardwareError {
    #[error("the body is not UTF-8 after byte {0}")]
    NotUtf8(usize),
    #[error("empty body")]
    Empty,
    #[error("unknown operation {0:?}")]
    UnknownOperation(String),
    #[error("{op}: pin {pin:?} is not a number from 0 to 255")]
    BadPin { op: String, pin: String },
    #[error("{0}: missing value")]
    MissingValue(String),
    #[error("pm: pins and modes must come in pairs")]
    UnpairedModes,
}

impl Hardware {
    /// Parses a HARDWARE body.
    ///
    /// # Errors
    /// [`HardwareError`] naming what is wrong.
    pub fn parse(body: &[u8]) -> Result<Hardware, HardwareError> {
        let tokens = tokens(body).map_err(HardwareError::NotUtf8)?;
        let (op, args) = tokens.split_first().ok_or(HardwareError::Empty)?;
        let pin = |i: usize| -> Result<u8, HardwareError> {
            let raw = args.get(i).copied().unwrap_or("");
            raw.parse().map_err(|_| HardwareError::BadPin {
                op: (*op).to_owned(),
                pin: raw.to_owned(),
            })
        };
        let value = |i: usize| -> Result<String, HardwareError> {
            args.get(i)
                .map(|v| (*v).to_owned())
                .ok_or_else(|| HardwareError::MissingValue((*op).to_owned()))
        };
        Ok(match *op {
            "vw" => {
                let pin = pin(0)?;
                if args.len() < 2 {
                    return Err(HardwareError::MissingValue("vw".into()));
                }
                Hardware::VirtualWrite {
                    pin,
                    values: args[1..].iter().map(|v| (*v).to_owned()).collect(),
                }
            }
            "vr" => Hardware::VirtualRead { pin: pin(0)? },
            "dw" => Hardware::DigitalWrite {
                pin: pin(0)?,
                value: value(1)?,
            },
            "aw" => Hardware::AnalogWrite {
                pin: pin(0)?,
                value: value(1)?,
            },
            "dr" => Hardware::DigitalRead { pin: pin(0)? },
            "ar" => Hardware::AnalogRead { pin: pin(0)? },
            "pm" => {
                if args.is_empty() || args.len() % 2 != 0 {
                    return Err(HardwareError::UnpairedModes);
                }
                let mut modes = Vec::new();
                for i in (0..args.len()).step_by(2) {
                    modes.push((pin(i)?, args[i + 1].to_owned()));
                }
                Hardware::PinModes(modes)
            }
            other => return Err(HardwareError::UnknownOperation(other.to_owned())),
        })
    }

    /// The body that carries this command.
    pub fn to_body(&self) -> Vec<u8> {
        let parts: Vec<String> = match self {
            Hardware::VirtualWrite { pin, values } => {
                let mut p = vec!["vw".to_owned(), pin.to_string()];
                p.extend(values.iter().cloned());
                p
            }
            Hardware::VirtualRead { pin } => vec!["vr".into(), pin.to_string()],
            Hardware::DigitalWrite { pin, value } => {
                vec!["dw".into(), pin.to_string(), value.clone()]
            }
            Hardware::AnalogWrite { pin, value } => {
                vec!["aw".into(), pin.to_string(), value.clone()]
            }
            Hardware::DigitalRead { pin } => vec!["dr".into(), pin.to_string()],
            Hardware::AnalogRead { pin } => vec!["ar".into(), pin.to_string()],
            Hardware::PinModes(modes) => {
                let mut p = vec!["pm".to_owned()];
                for (pin, mode) in modes {
                    p.push(pin.to_string());
                    p.push(mode.clone());
                }
                p
            }
        };
        parts.join("\0").into_bytes()
    }
}
