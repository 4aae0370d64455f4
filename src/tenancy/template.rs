//! Device templates: the datastreams and events a kind of device has
//! (DESIGN §3 "Template", Blynk's template). A template's definition is one
//! JSON value in the document, so concurrent edits never mix field by field:
//! one whole definition wins, deterministically on every replica. Unknown
//! fields are ignored when reading, so a newer hub can add some.

use serde::{Deserialize, Serialize};

use super::state::Id;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: Id,
    pub name: String,
    /// The organization it is defined in; usable there and below.
    pub org: Id,
    pub definition: Definition,
    /// Why the stored definition could not be read (then `definition` is
    /// empty): one bad template must not make the household unreadable.
    pub unreadable: Option<String>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Definition {
    #[serde(default)]
    pub datastreams: Vec<Datastream>,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One virtual pin of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Datastream {
    /// Virtual pin number, `V0`..`V255` in Blynk terms.
    pub pin: u8,
    pub name: String,
    #[serde(flatten)]
    pub kind: DatastreamKind,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default = "yes")]
    pub history: bool,
    /// Raw history kept this long; older rows are downsampled.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Sent to the device when it connects (Blynk's "sync with latest").
    #[serde(default)]
    pub sync_on_connect: bool,
    /// The live value is shown as stale after this many seconds.
    #[serde(default)]
    pub invalidate_after_secs: Option<u32>,
    /// A command shows as pending until the device echoes the value.
    #[serde(default)]
    pub wait_for_confirmation: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DatastreamKind {
    Int {
        min: i64,
        max: i64,
        #[serde(default)]
        default: Option<i64>,
        /// What a slider moves by (1 when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<i64>,
    },
    Double {
        min: f64,
        max: f64,
        #[serde(default)]
        default: Option<f64>,
        /// What a slider moves by (a hundredth of the range when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<f64>,
    },
    String {
        #[serde(default)]
        default: Option<String>,
    },
    Enum {
        values: Vec<String>,
        #[serde(default)]
        default: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// What firmware passes to `Blynk.logEvent(code, …)`.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub notify: bool,
}

impl Definition {
    /// Checks what serde cannot: distinct pins and event codes, sane ranges.
    ///
    /// # Errors
    /// A message naming the offending datastream or event.
    pub fn validate(&self) -> Result<(), String> {
        let mut pins = std::collections::BTreeSet::new();
        for ds in &self.datastreams {
            if !pins.insert(ds.pin) {
                return Err(format!("two datastreams use pin V{}", ds.pin));
            }
            if ds.name.trim().is_empty() {
                return Err(format!("datastream V{} has no name", ds.pin));
            }
            let bad_range = match &ds.kind {
                DatastreamKind::Int {
                    min,
                    max,
                    default,
                    step,
                } => {
                    min > max
                        || default.is_some_and(|d| d < *min || d > *max)
                        || step.is_some_and(|s| s < 1 || s > max.saturating_sub(*min).max(1))
                }
                DatastreamKind::Double {
                    min,
                    max,
                    default,
                    step,
                } => {
                    !(min.is_finite() && max.is_finite() && min <= max)
                        || default.is_some_and(|d| !(*min..=*max).contains(&d))
                        || step.is_some_and(|s| {
                            !(s.is_finite() && s > 0.0 && s <= (max - min).max(f64::MIN_POSITIVE))
                        })
                }
                DatastreamKind::Enum { values, default } => {
                    values.is_empty() || default.as_ref().is_some_and(|d| !values.contains(d))
                }
                DatastreamKind::String { .. } => false,
            };
            if bad_range {
                return Err(format!(
                    "datastream V{} ({}): min must not exceed max, the default must be allowed, and a step must be above 0 and within the range",
                    ds.pin, ds.name
                ));
            }
        }
        let mut codes = std::collections::BTreeSet::new();
        for event in &self.events {
            if event.code.is_empty() || !codes.insert(&event.code) {
                return Err(format!("event code {:?} is empty or repeated", event.code));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(kind: serde_json::Value) -> Result<(), String> {
        let mut ds = serde_json::json!({ "pin": 1, "name": "Level" });
        ds.as_object_mut()
            .unwrap()
            .extend(kind.as_object().unwrap().clone());
        let definition: Definition =
            serde_json::from_value(serde_json::json!({ "datastreams": [ds] })).unwrap();
        definition.validate()
    }

    #[test]
    fn a_step_is_above_zero_and_within_the_range() {
        use serde_json::json;
        assert!(with(json!({ "type": "double", "min": 0.0, "max": 1.0, "step": 0.05 })).is_ok());
        assert!(with(json!({ "type": "int", "min": 0, "max": 100, "step": 5 })).is_ok());
        assert!(
            with(json!({ "type": "int", "min": 0, "max": 100 })).is_ok(),
            "optional"
        );
        for bad in [
            json!({ "type": "double", "min": 0.0, "max": 1.0, "step": 0.0 }),
            json!({ "type": "double", "min": 0.0, "max": 1.0, "step": 2.0 }),
            json!({ "type": "int", "min": 0, "max": 100, "step": 0 }),
            json!({ "type": "int", "min": 0, "max": 100, "step": 101 }),
        ] {
            let err = with(bad.clone()).unwrap_err();
            assert!(err.contains("a step must be above 0"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_definition_without_a_step_reads_and_writes_as_before() {
        let old = serde_json::json!({ "type": "int", "min": 0, "max": 1, "default": null });
        let kind: DatastreamKind = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(serde_json::to_value(&kind).unwrap(), old);
    }
}
