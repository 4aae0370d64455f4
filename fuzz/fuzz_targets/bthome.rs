//! `cargo +nightly fuzz run bthome`: arbitrary bytes as BTHome service data
//! (see `hearth::ble::bthome::check`). The corpus in `fuzz/corpus/bthome`
//! is replayed by a stable unit test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hearth::ble::bthome::check(data);
});
