//! Pins and values: what a device or a person may write to a pin, checked
//! against the datastream its template defines (type, min, max, enum).
//!
//! A pin is named as Blynk names it: `V0`..`V255` (virtual, the ones
//! datastreams describe), `D13` (digital), `A0` (analog). A value is text,
//! as on the wire; several values written at once (`vw 1 a b`) are joined
//! with NUL, and each is checked. Pure: it never reads the household's state, the store or the
//! clock, and never lets through more than `MAX_VALUES` values, `MAX_VALUE_LEN` bytes, or a NUL.

use std::fmt;

use crate::tenancy::template::{Datastream, DatastreamKind, Template};

/// The longest value accepted, in bytes, alone or all of a write's values
/// together (the Python clients drop frames of 1024 bytes or more, so a
/// write must fit a frame).
pub const MAX_VALUE_LEN: usize = 1000;
/// The most values one write may carry (`vw pin a b c …`).
pub const MAX_VALUES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pin {
    Virtual(u8),
    Digital(u8),
    Analog(u8),
}

impl Pin {
    /// `V1`, `v1`, `D13`, `A0`; a bare number means a virtual pin.
    pub fn parse(text: &str) -> Option<Pin> {
        let (kind, number) = match text.as_bytes().first()? {
            b'V' | b'v' => (b'V', &text[1..]),
            b'D' | b'd' => (b'D', &text[1..]),
            b'A' | b'a' => (b'A', &text[1..]),
            _ => (b'V', text),
        };
        let number: u8 = number.parse().ok()?;
        Some(match kind {
            b'V' => Pin::Virtual(number),
            b'D' => Pin::Digital(number),
            _ => Pin::Analog(number),
        })
    }

    pub fn virtual_number(self) -> Option<u8> {
        match self {
            Pin::Virtual(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Virtual(n) => write!(f, "V{n}"),
            Pin::Digital(n) => write!(f, "D{n}"),
            Pin::Analog(n) => write!(f, "A{n}"),
        }
    }
}

/// Why a value was refused; the text is what the writer is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("template {template:?} has no datastream on {pin}")]
    NoDatastream { template: String, pin: Pin },
    #[error("{pin} ({name}) takes {expected}, not {value:?}")]
    WrongType {
        pin: Pin,
        name: String,
        expected: &'static str,
        value: String,
    },
    #[error("{pin} ({name}) takes values from {min} to {max}, not {value}")]
    OutOfRange {
        pin: Pin,
        name: String,
        min: String,
        max: String,
        value: String,
    },
    #[error("{pin} ({name}) takes one of {allowed:?}, not {value:?}")]
    NotAllowed {
        pin: Pin,
        name: String,
        allowed: Vec<String>,
        value: String,
    },
    #[error(
        "{pin}: values may be at most {MAX_VALUE_LEN} bytes in all, at most {MAX_VALUES} of them, without NUL"
    )]
    TooLong { pin: Pin },
    #[error("{pin}: no value given")]
    Empty { pin: Pin },
}

/// The datastream of `pin` in `template`, if the device has a template.
///
/// # Errors
/// [`ValueError::NoDatastream`] when the template defines no datastream on
/// a virtual pin. Devices without a template, and digital/analog pins,
/// take any value (there is nothing to check against).
pub fn datastream(
    template: Option<&Template>,
    pin: Pin,
) -> Result<Option<&Datastream>, ValueError> {
    let (Some(template), Some(number)) = (template, pin.virtual_number()) else {
        return Ok(None);
    };
    template
        .definition
        .datastreams
        .iter()
        .find(|ds| ds.pin == number)
        .map(Some)
        .ok_or_else(|| ValueError::NoDatastream {
            template: template.name.clone(),
            pin,
        })
}

/// Checks `values` (one or more, as written to `pin`) and returns them
/// normalized for storage: joined with NUL, numbers as written.
///
/// # Errors
/// The first value that does not fit, said so the writer can fix it.
pub fn check(
    pin: Pin,
    datastream: Option<&Datastream>,
    values: &[String],
) -> Result<String, ValueError> {
    if values.is_empty() {
        return Err(ValueError::Empty { pin });
    }
    let total: usize = values.iter().map(|v| v.len() + 1).sum();
    if total > MAX_VALUE_LEN + 1
        || values.len() > MAX_VALUES
        || values.iter().any(|v| v.contains('\0'))
    {
        return Err(ValueError::TooLong { pin });
    }
    for value in values {
        if let Some(ds) = datastream {
            check_one(pin, ds, value.trim())?;
        }
    }
    Ok(values.join("\0"))
}

fn check_one(pin: Pin, ds: &Datastream, value: &str) -> Result<(), ValueError> {
    let wrong = |expected| ValueError::WrongType {
        pin,
        name: ds.name.clone(),
        expected,
        value: value.to_owned(),
    };
    let out_of_range = |min: String, max: String| ValueError::OutOfRange {
        pin,
        name: ds.name.clone(),
        min,
        max,
        value: value.to_owned(),
    };
    match &ds.kind {
        DatastreamKind::Int { min, max, .. } => {
            // Firmware often prints integers as floats ("1.0"); accept an
            // integral float, refuse a fraction.
            let parsed = value.parse::<i64>().ok().or_else(|| {
                let f = value.parse::<f64>().ok()?;
                (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
            });
            let n = parsed.ok_or_else(|| wrong("a whole number"))?;
            if n < *min || n > *max {
                return Err(out_of_range(min.to_string(), max.to_string()));
            }
        }
        DatastreamKind::Double { min, max, .. } => {
            let f: f64 = value
                .parse()
                .ok()
                .filter(|f: &f64| f.is_finite())
                .ok_or_else(|| wrong("a number"))?;
            if f < *min || f > *max {
                return Err(out_of_range(min.to_string(), max.to_string()));
            }
        }
        DatastreamKind::Enum { values, .. } => {
            if !values.iter().any(|v| v == value) {
                return Err(ValueError::NotAllowed {
                    pin,
                    name: ds.name.clone(),
                    allowed: values.clone(),
                    value: value.to_owned(),
                });
            }
        }
        DatastreamKind::String { .. } => {}
    }
    Ok(())
}

/// The number a stored value stands for, for aggregates (first value only).
pub fn numeric(value: &str) -> Option<f64> {
    let first = value.split('\0').next()?;
    first.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(kind: DatastreamKind) -> Datastream {
        serde_json::from_value::<Datastream>(
            serde_json::json!({"pin": 1, "name": "Temp", "type": "int", "min": 0, "max": 1}),
        )
        .map(|mut d| {
            d.kind = kind;
            d
        })
        .unwrap()
    }

    fn vals(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pins_parse_as_blynk_names_them() {
        assert_eq!(Pin::parse("V1"), Some(Pin::Virtual(1)));
        assert_eq!(Pin::parse("v255"), Some(Pin::Virtual(255)));
        assert_eq!(Pin::parse("7"), Some(Pin::Virtual(7)));
        assert_eq!(Pin::parse("D13"), Some(Pin::Digital(13)));
        assert_eq!(Pin::parse("A0").map(|p| p.to_string()), Some("A0".into()));
        assert_eq!(Pin::parse("V256"), None);
        assert_eq!(Pin::parse("X1"), None);
        assert_eq!(Pin::parse(""), None);
    }

    #[test]
    fn ints_are_checked_for_type_and_range() {
        let d = ds(DatastreamKind::Int {
            min: 0,
            max: 100,
            default: None,
            step: None,
        });
        let pin = Pin::Virtual(1);
        assert_eq!(check(pin, Some(&d), &vals(&["42"])).unwrap(), "42");
        assert!(check(pin, Some(&d), &vals(&["42.0"])).is_ok());
        assert!(matches!(
            check(pin, Some(&d), &vals(&["42.5"])),
            Err(ValueError::WrongType { .. })
        ));
        let err = check(pin, Some(&d), &vals(&["101"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "V1 (Temp) takes values from 0 to 100, not 101"
        );
        assert!(
            check(pin, Some(&d), &vals(&["1", "x"])).is_err(),
            "every value is checked"
        );
    }

    #[test]
    fn doubles_enums_and_strings() {
        let pin = Pin::Virtual(1);
        let d = ds(DatastreamKind::Double {
            min: -10.0,
            max: 10.0,
            default: None,
            step: None,
        });
        assert!(check(pin, Some(&d), &vals(&["-9.5"])).is_ok());
        assert!(check(pin, Some(&d), &vals(&["NaN"])).is_err());
        assert!(check(pin, Some(&d), &vals(&["10.01"])).is_err());
        let e = ds(DatastreamKind::Enum {
            values: vals(&["open", "closed"]),
            default: None,
        });
        assert!(check(pin, Some(&e), &vals(&["open"])).is_ok());
        assert!(check(pin, Some(&e), &vals(&["ajar"])).is_err());
        let s = ds(DatastreamKind::String { default: None });
        assert!(check(pin, Some(&s), &vals(&["anything"])).is_ok());
        assert!(check(pin, Some(&s), &[("x".repeat(MAX_VALUE_LEN + 1))]).is_err());
        assert!(
            check(pin, None, &vec!["x".repeat(100); 11]).is_err(),
            "the total counts"
        );
        assert!(
            check(pin, None, &vec!["1".to_owned(); MAX_VALUES + 1]).is_err(),
            "so does the number"
        );
        assert!(
            check(pin, None, &["a\0b".to_owned()]).is_err(),
            "NUL would split a value on the wire"
        );
        assert!(check(pin, None, &[]).is_err());
        assert_eq!(check(pin, None, &vals(&["a", "b"])).unwrap(), "a\0b");
    }
}
