//! The integration tests, one binary: each module below is one area's
//! tests against the real `hearth` binary and real peers; `common` and the
//! helpers beside it (`api`, `blynk`, `cloud`, …) start and drive them.
//! One binary links once on 2 cores instead of once per area.

#[path = "common/api.rs"]
mod api;
#[path = "common/blynk.rs"]
mod blynk;
#[path = "common/cloud.rs"]
mod cloud;
mod common;
#[path = "common/in_process.rs"]
mod in_process;
#[path = "common/mosquitto.rs"]
mod mosquitto;
#[path = "common/mqtt.rs"]
mod mqtt;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/proxy.rs"]
mod proxy;

mod api_accounts;
mod api_device_http;
mod api_hardening;
mod api_openapi;
mod api_provisioning;
mod api_stories;
mod app_browser;
mod app_cloud;
mod app_devices;
mod app_guest_share;
mod app_hubs;
mod app_partition;
mod app_sensors;
mod app_serving;
mod app_sharing;
mod backup;
mod ble_bridges;
mod ble_theengs;
mod blynk_clients;
mod blynk_devices;
mod blynk_serial;
mod cli_household;
mod doctor;
mod driven_clock;
mod household_recovery;
mod hub_start;
mod journal;
mod lan;
mod listener_bounds;
mod mqtt_broker;
mod mqtt_devices;
mod node;
mod service;
mod sync_cloud;
mod sync_cloud_login;
mod sync_interop;
mod sync_lan;
mod sync_outbox;
mod sync_partition;
mod sync_relay;
mod tenancy_props;
mod tenancy_restart;
