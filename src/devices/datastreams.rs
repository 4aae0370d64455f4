//! What a device's template says of its pins: datastream names and pins
//! (MQTT addresses datastreams by name) and the values sent on connect. It
//! only reads the sharing state and live values; it never changes either.

use super::Devices;
use super::value::Pin;
use crate::tenancy::template::Template;

impl Devices {
    /// The template of `device`, if it has a live one, given to `f`.
    fn with_template<R: Default>(&self, device: &str, f: impl FnOnce(&Template) -> R) -> R {
        self.replica
            .with_state(|state| {
                state
                    .devices()
                    .get(device)
                    .and_then(|d| d.template.as_ref())
                    .and_then(|t| state.templates().get(t))
                    .filter(|t| !t.deleted)
                    .map(f)
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// The pin of the datastream `name` (MQTT addresses datastreams by
    /// name); a device without one may use pin names (`V1`).
    pub fn pin_named(&self, device: &str, name: &str) -> Option<Pin> {
        let by_name = self.with_template(device, |t| {
            t.definition
                .datastreams
                .iter()
                .find(|ds| ds.name == name)
                .map(|ds| Pin::Virtual(ds.pin))
        });
        by_name.or_else(|| Pin::parse(name))
    }

    /// The datastream name of `pin` (its pin name when it has none).
    pub fn name_of(&self, device: &str, pin: Pin) -> String {
        let named = pin.virtual_number().and_then(|n| {
            self.with_template(device, |t| {
                t.definition
                    .datastreams
                    .iter()
                    .find(|ds| ds.pin == n)
                    .map(|ds| ds.name.clone())
            })
        });
        named.unwrap_or_else(|| pin.to_string())
    }

    /// Live values of datastreams that are sent to the device when it
    /// connects ("sync with latest").
    pub fn on_connect(&self, device: &str) -> Vec<(Pin, String)> {
        let pins: Vec<Pin> = self
            .replica
            .with_state(|state| {
                let template = state
                    .devices()
                    .get(device)
                    .and_then(|d| d.template.as_ref())
                    .and_then(|t| state.templates().get(t));
                template
                    .map(|t| {
                        t.definition
                            .datastreams
                            .iter()
                            .filter(|ds| ds.sync_on_connect)
                            .map(|ds| Pin::Virtual(ds.pin))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if pins.is_empty() {
            return Vec::new();
        }
        self.replay(device, Some(&pins))
    }
}
