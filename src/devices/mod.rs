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

pub mod allowance;
pub mod control;
pub mod history;
mod ingest;
mod links;
mod live;
pub mod outbox;
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
use crate::tenancy::template::Template;

pub use control::{CommandOutcome, DeviceError};
pub use history::{Aggregation, Committed, Point, Record, Retention, StoredEvent, Writer};
pub use ingest::Ingested;
pub use live::{LiveValue, Online};
pub use telemetry::FIRST_PURGE_AFTER;
pub use value::Pin;

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

/// Wrong tokens one address may present in [`TOKEN_WINDOW`] before its
/// logins are refused unchecked until the oldest leaves the window.
const TOKEN_FAILURES: usize = 20;
const TOKEN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Why [`Devices::admit`] did not take a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Too many wrong tokens from the address: not even checked.
    Throttled(std::time::Duration),
    Wrong,
}

fn token_key(peer: &str) -> Option<String> {
    let addr: std::net::SocketAddr = peer.parse().ok()?;
    Some(crate::listener::source_key(addr.ip()))
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

    /// Checks a token presented by a device (or bridge) at `peer`
    /// ("address:port", or a serial port's path, which is never throttled)
    /// with `lookup`. A wrong one counts against the address: after
    /// [`TOKEN_FAILURES`] in [`TOKEN_WINDOW`] its tokens are refused
    /// unchecked. Refusals are logged at a bounded rate as `listener`'s.
    ///
    /// # Errors
    /// [`TokenRefusal`]: why the token was not taken.
    pub fn admit<T>(
        &self,
        listener: &'static str,
        peer: &str,
        wrong: &str,
        lookup: impl FnOnce() -> Option<T>,
    ) -> Result<T, TokenRefusal> {
        let key = token_key(peer);
        let now = std::time::Instant::now();
        let refusals = crate::service::noisy::Noisy::new(listener, "wrong tokens");
        if let Some(key) = &key
            && let Err(wait) = self.token_failures.check(key, now)
        {
            refusals.warn(
                peer,
                format_args!(
                    "too many wrong tokens from this address; refused unchecked for {} s",
                    wait.as_secs().max(1)
                ),
            );
            return Err(TokenRefusal::Throttled(wait));
        }
        lookup().ok_or_else(|| {
            if let Some(key) = &key {
                self.token_failures.fail(key, now);
            }
            refusals.warn(peer, wrong);
            TokenRefusal::Wrong
        })
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

    /// A value the device reports on `pin`: checked against its datastream,
    /// made live, written to history, announced. With `durable`, returns
    /// only once the value is committed with `synchronous=FULL`.
    ///
    /// # Errors
    /// [`DeviceError::Invalid`] for a value the datastream refuses (nothing
    /// is stored); [`DeviceError::NotFound`] for a deleted device.
    pub async fn record(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
        durable: bool,
    ) -> Result<String, DeviceError> {
        let (value, record) = self.accept(device, pin, values)?;
        if durable {
            self.writer.write_durable(record).await?;
        } else {
            self.writer.write(record).await?;
        }
        Ok(value)
    }

    /// Like [`Devices::record`] with `durable`, but returns once the value
    /// is queued: the [`Committed`] resolves when it is on disk (commits
    /// resolve in order), so a connection can go on reading meanwhile.
    ///
    /// # Errors
    /// As [`Devices::record`].
    pub async fn record_queued(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
    ) -> Result<Committed, DeviceError> {
        let (_, record) = self.accept(device, pin, values)?;
        Ok(self.writer.queue_durable(record).await?)
    }

    /// Checks a reported value, makes it live and announces it; the stored
    /// form and the record to write.
    fn accept(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
    ) -> Result<(String, Record), DeviceError> {
        let (value, history) = self.check(device, pin, values)?;
        // A runaway device cannot fill the disk: its values stay live.
        let history = history && self.history_budget.allow(device);
        let at = self.clock.now_ms();
        self.set_live(device, pin, &value, at, false);
        let record = Record::Value {
            device: device.to_owned(),
            pin: pin.to_string(),
            value: value.clone(),
            at,
            history,
        };
        Ok((value, record))
    }

    /// Checks `values` for `pin` of `device`: the stored form and whether
    /// the datastream keeps history.
    fn check(
        &self,
        device: &str,
        pin: Pin,
        values: &[String],
    ) -> Result<(String, bool), DeviceError> {
        self.replica.with_state(|state| {
            let found = state
                .devices()
                .get(device)
                .filter(|d| !d.deleted)
                .ok_or_else(|| DeviceError::NotFound(format!("device {device}")))?;
            let template = found
                .template
                .as_ref()
                .and_then(|t| state.templates().get(t))
                .filter(|t| !t.deleted);
            let datastream = value::datastream(template, pin)?;
            let stored = value::check(pin, datastream, values)?;
            Ok((stored, datastream.is_none_or(|d| d.history)))
        })?
    }

    /// Makes `value` the live value of `pin` and announces it; with
    /// `pending`, marks it as a command the device has yet to confirm
    /// instead. A pending command is confirmed when the device reports the
    /// same value.
    fn set_live(&self, device: &str, pin: Pin, value: &str, at: i64, pending: bool) {
        let pin = pin.to_string();
        {
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            let entry = live
                .entry(device.to_owned())
                .or_default()
                .values
                .entry(pin.clone())
                .or_insert_with(|| LiveValue {
                    value: String::new(),
                    at: 0,
                    pending: None,
                });
            if pending {
                entry.pending = Some(value.to_owned());
            } else {
                entry.value = value.to_owned();
                entry.at = at;
                if entry.pending.as_deref() == Some(value) {
                    entry.pending = None;
                }
            }
        }
        self.publish(Update::Value {
            device: device.to_owned(),
            pin,
            value: value.to_owned(),
            at,
            pending,
        });
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
