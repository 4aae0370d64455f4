//! `cargo +nightly fuzz run mqtt_payload`: arbitrary bytes as an MQTT
//! client's stream and as a device's PUBLISH (see
//! `hearth::mqtt::topics::check`). The corpus in `fuzz/corpus/mqtt_payload`
//! is replayed by a stable unit test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hearth::mqtt::topics::check(data);
});
