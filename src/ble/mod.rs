//! BLE sensors reaching the hub through BLE-to-MQTT bridges (DESIGN §4;
//! `../shared/reference/protocols.md` §4): BTHome v2 service data
//! ([`bthome`]), plain and encrypted.

pub mod bthome;
