//! The devices core (DESIGN §4): what every transport hands device traffic
//! to, and what the API asks about devices' values.
//!
//! [`Devices`] keeps each device's live values in memory (loaded from
//! SQLite at start), writes every accepted value through the history
//! [`Writer`], fans updates out to subscribers ([`Update`], a bounded
//! broadcast: a subscriber that lags is told so and resyncs), and tracks
//! which transport link each device is connected on, so a command reaches
//! it. Values are checked against the device's template ([`value`]);
//! commands against the caller's permissions ([`control`]).
//!
//! Transports (Blynk TCP/TLS/serial, later MQTT) own their connections;
//! they [`Devices::attach`] after login and drop the [`Attachment`] when
//! the device goes; only the newest link of a device is kept.

mod admission;
pub mod allowance;
pub mod control;
mod datastreams;
pub mod history;
mod ingest;
mod links;
mod live;
pub mod outbox;
mod recording;
mod telemetry;
pub mod value;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::store::{Store, StoreError};
use crate::tenancy::Replica;

pub use admission::TokenRefusal;
pub use control::{CommandOutcome, DeviceError};
pub use history::{Aggregation, Committed, Point, Record, Retention, StoredEvent, Writer};
pub use ingest::Ingested;
pub use live::{LiveValue, Online};
pub use telemetry::FIRST_PURGE_AFTER;
pub use value::Pin;

use admission::{TOKEN_FAILURES, TOKEN_WINDOW};

/// How many updates a subscriber may fall behind before it must resync.
const FANOUT: usize = 4096;
/// How many commands may wait for one device's link.
const DOWNLINK_QUEUE: usize = 64;
/// The most information keys kept per device.
pub const MAX_INFO: usize = 32;

/// What subscribers (the WebSocket stream) hear about devices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    Value {
        device: String,
        pin: String,
        value: String,
        at: i64,
        /// A command not yet confirmed by the device.
        pending: bool,
    },
    Online {
        device: String,
        online: bool,
        transport: Option<&'static str>,
        at: i64,
    },
    Event {
        device: String,
        code: String,
        description: Option<String>,
        at: i64,
    },
}

impl Update {
    pub fn device(&self) -> &str {
        match self {
            Update::Value { device, .. }
            | Update::Online { device, .. }
            | Update::Event { device, .. } => device,
        }
    }
}

/// Something for a connected device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Downlink {
    /// Write `values` to `pin` (a command, or a bridge write). `by` is who
    /// commanded it, for a link that relays it to another hub (which checks
    /// again); transports to devices ignore it.
    Write {
        pin: Pin,
        values: Vec<String>,
        by: Option<crate::tenancy::Caller>,
    },
}

/// The transport name of a link that relays commands to the hub a device
/// is connected to (on the cloud).
pub const RELAY_TRANSPORT: &str = "relay";

/// A transport's hold on a device's link; detaches when dropped.
pub struct Attachment {
    pub device: String,
    pub id: u64,
    pub downlink: mpsc::Receiver<Downlink>,
    /// Cancelled when another link of the device logs in.
    pub kicked: CancellationToken,
    devices: Arc<Devices>,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.devices.detach(&self.device, self.id);
    }
}

struct Link {
    id: u64,
    transport: &'static str,
    since: i64,
    heartbeat: Duration,
    downlink: mpsc::Sender<Downlink>,
    kick: CancellationToken,
}

pub struct Devices {
    replica: Arc<Replica>,
    store: Store,
    writer: Writer,
    live: RwLock<HashMap<String, live::DeviceLive>>,
    links: Mutex<HashMap<String, Link>>,
    updates: broadcast::Sender<Update>,
    next_link: AtomicU64,
    /// Serializes deliveries of other nodes' telemetry (see `ingest`).
    ingesting: tokio::sync::Mutex<()>,
    /// Wrong device and bridge tokens, by source address, on every transport.
    token_failures: crate::limiter::Limiter,
    /// History rows each device may add per day.
    history_budget: allowance::HistoryBudget,
    /// Messages of devices, and of bridges, dropped over their allowance
    /// (on the household's broker, where they cannot be slowed).
    pub messages_dropped: allowance::Dropped,
    pub bridge_messages_dropped: allowance::Dropped,
    /// The node's wall clock: what devices record is stamped from it.
    clock: Clock,
}

use crate::clock::Clock;

impl Devices {
    /// Loads the stored live values and starts the history writer (whose
    /// task is returned for the node to own); recorded values also go to
    /// `outbox` (while it is on), and every value is stamped by `clock`.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn open(
        replica: Arc<Replica>,
        store: Store,
        outbox: history::Outbox,
        history_rows_per_day: u64,
        clock: Clock,
    ) -> Result<(Arc<Devices>, tokio::task::JoinHandle<()>), StoreError> {
        // Values a crash left in the journal are live values first.
        // A journal that cannot be folded stays, and the node opens anyway.
        if let Err(e) = store
            .write(crate::store::Durability::Relaxed, history::journal::fold)
            .await
        {
            tracing::error!("history: folding the journal at start failed: {e}");
        }
        let rows = store.read(history::load_live).await?;
        let properties = store.read(history::load_properties).await?;
        let mut live: HashMap<String, live::DeviceLive> = HashMap::new();
        for (device, pin, name, value) in properties {
            live.entry(device)
                .or_default()
                .properties
                .entry(pin)
                .or_default()
                .insert(name, value);
        }
        for (device, pin, value, at) in rows {
            live.entry(device).or_default().values.insert(
                pin,
                LiveValue {
                    value,
                    at,
                    pending: None,
                },
            );
        }
        let (writer, task) = Writer::spawn_with(store.clone(), 65_536, outbox);
        let devices = Arc::new(Devices {
            replica,
            store,
            writer,
            live: RwLock::new(live),
            links: Mutex::new(HashMap::new()),
            updates: broadcast::channel(FANOUT).0,
            next_link: AtomicU64::new(1),
            ingesting: tokio::sync::Mutex::new(()),
            token_failures: crate::limiter::Limiter::new(TOKEN_FAILURES, TOKEN_WINDOW),
            history_budget: allowance::HistoryBudget::new(history_rows_per_day),
            messages_dropped: allowance::Dropped::default(),
            bridge_messages_dropped: allowance::Dropped::default(),
            clock,
        });
        Ok((devices, task))
    }

    /// Values of `device` left out of history since start (over its budget).
    pub fn history_dropped(&self, device: &str) -> u64 {
        self.history_budget.dropped(device)
    }

    /// Every device with values left out of history, with how many.
    pub fn all_history_dropped(&self) -> Vec<(String, u64)> {
        self.history_budget.all_dropped()
    }

    /// The node's wall clock, which every transport stamps values by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }

    fn publish(&self, update: Update) {
        let _ = self.updates.send(update);
    }

    /// `f` of what is kept in memory for `device` (the default if nothing).
    fn read_live<R: Default>(&self, device: &str, f: impl FnOnce(&live::DeviceLive) -> R) -> R {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(device)
            .map(f)
            .unwrap_or_default()
    }

    /// A device's live values, by pin.
    pub fn values(&self, device: &str) -> BTreeMap<String, LiveValue> {
        self.read_live(device, |d| d.values.clone())
    }

    /// A property a device set on a pin (`label`, `color`, …).
    pub fn properties(&self, device: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        self.read_live(device, |d| d.properties.clone())
    }

    /// What the device told about itself (`ver`, `h-beat`, `fw`, …).
    pub fn info(&self, device: &str) -> BTreeMap<String, String> {
        self.read_live(device, |d| d.info.clone())
    }

    /// Keeps what a device says of itself: at most [`MAX_INFO`] keys of
    /// at most 64 bytes, values of at most 256 (a device cannot grow the
    /// hub's memory by inventing keys).
    pub fn set_info(&self, device: &str, pairs: Vec<(String, String)>) {
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        let info = &mut live.entry(device.to_owned()).or_default().info;
        for (key, value) in pairs {
            if key.len() <= 64
                && value.len() <= 256
                && (info.len() < MAX_INFO || info.contains_key(&key))
            {
                info.insert(key, value);
            }
        }
    }

    /// A pin's property (`label`, `color`, `min`, …): at most 16 per pin on
    /// at most 64 pins, names of at most 32 bytes, values of at most 256.
    /// Kept in the store like live values, so a restart keeps it.
    ///
    /// # Errors
    /// When the history writer has stopped.
    pub async fn set_property(
        &self,
        device: &str,
        pin: Pin,
        property: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        if property.len() > 32 || value.len() > 256 {
            return Ok(());
        }
        let pin = pin.to_string();
        {
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            let pins = &mut live.entry(device.to_owned()).or_default().properties;
            if pins.len() >= 64 && !pins.contains_key(&pin) {
                return Ok(());
            }
            let properties = pins.entry(pin.clone()).or_default();
            if properties.len() >= 16 && !properties.contains_key(property) {
                return Ok(());
            }
            if properties.get(property).is_some_and(|v| v == value) {
                return Ok(());
            }
            properties.insert(property.to_owned(), value.to_owned());
        }
        self.writer
            .write(Record::Property {
                device: device.to_owned(),
                pin,
                name: property.to_owned(),
                value: value.to_owned(),
            })
            .await
    }

    /// Values a device asked to be replayed (HARDWARE_SYNC): the listed
    /// pins, or every stored virtual pin.
    pub fn replay(&self, device: &str, pins: Option<&[Pin]>) -> Vec<(Pin, String)> {
        let values = self.values(device);
        values
            .into_iter()
            .filter_map(|(pin, v)| Some((Pin::parse(&pin)?, v.value)))
            .filter(|(pin, _)| match pins {
                None => pin.virtual_number().is_some(),
                Some(pins) => pins.contains(pin),
            })
            .collect()
    }
}
