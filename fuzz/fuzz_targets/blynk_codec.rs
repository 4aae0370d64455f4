//! `cargo +nightly fuzz run blynk_codec`: arbitrary bytes as a Blynk
//! connection's stream (see `hearth::blynk::codec::check_stream`). The
//! corpus in `fuzz/corpus/blynk_codec` is replayed by a stable unit test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hearth::blynk::codec::check_stream(data);
});
