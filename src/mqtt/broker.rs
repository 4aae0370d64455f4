//! The household's own broker (`[mqtt.broker]`): Hearth connects to it as
//! a client (rumqttc, plain TCP), re-subscribes on every (re)connection,
//! and serves devices that publish there under `<prefix>/<device-id>/`
//! followed by Blynk's Device MQTT layout. The broker authenticates them;
//! its ACL confines each device to its prefix (README: Mosquitto's
//! `pattern readwrite hearth/%u/#` with the device id as username).
//!
//! QoS 1 messages are acknowledged to the broker (manual acks) only once
//! their values are committed, in order. A device counts as online from its
//! first message until it has been silent for 1.5x 45 s (Blynk's MQTT
//! keepalive), or the broker connection drops.
//!
//! BLE bridges there (Theengs Gateway, OpenMQTTGateway) publish under
//! `home/<gateway>/BTtoMQTT/`; their reports count when a bridge of that
//! name is registered through the API (the broker authenticates them).
//!
//! Each device (and bridge) has the allowance it has on Hearth's own
//! listener (`messages_per_second`). All of them share this one
//! connection, so one over it cannot be read slower without the others:
//! its messages past the allowance are left out (acknowledged, counted in
//! `/metrics` and its values, said at most once a minute) and everyone
//! else's go on.
//!
//! It never authenticates anyone itself: a device id under the prefix or a registered bridge
//! name is trusted because the broker let it publish there. So its ACL must confine each one.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;

use super::Context;
use super::topics;
use crate::backoff::Backoff;
use crate::config::BrokerConfig;
use crate::devices::allowance::Allowance;
use crate::devices::{Attachment, Committed, Downlink};

/// How often a device or bridge over its allowance is said to be.
const SAY_OVER_EVERY: Duration = Duration::from_secs(60);

/// How long a device on the broker stays online without a message.
const SILENCE: Duration = Duration::from_millis(67_500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs until shutdown.
pub async fn run(config: BrokerConfig, client_id: String, ctx: Arc<Context>) {
    let mut options = MqttOptions::new(client_id, config.host.clone(), config.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_manual_acks(true)
        .set_max_packet_size(ctx.max_packet, ctx.max_packet);
    if let Some(user) = &config.username {
        options.set_credentials(user.clone(), config.password().unwrap_or_default());
    }
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let (events_tx, mut events) = mpsc::channel::<Packet>(1024);
    let shutdown = ctx.shutdown.clone();
    let address = format!("{}:{}", config.host, config.port);
    // Aborted when `run` ends, however it ends (where panics unwind, it is
    // then started again).
    let poller = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
        let mut backoff = Backoff::new(Duration::from_millis(250), MAX_BACKOFF);
        let mut failing = false;
        loop {
            let polled = tokio::select! {
                _ = shutdown.cancelled() => return,
                polled = eventloop.poll() => polled,
            };
            match polled {
                Ok(Event::Incoming(packet)) => {
                    if matches!(packet, Packet::ConnAck(_)) {
                        tracing::info!("mqtt broker: connected to {address}");
                        failing = false;
                        backoff.reset();
                    }
                    if events_tx.send(packet).await.is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(_)) => {}
                Err(e) => {
                    if !failing {
                        tracing::warn!("mqtt broker: {address}: {e}; retrying");
                        failing = true;
                    }
                    let _ = events_tx.send(Packet::Disconnect).await;
                    if !backoff.wait(&shutdown).await {
                        return;
                    }
                }
            }
        }
    }));
    let (downlink_tx, downlink_rx) = mpsc::channel(1024);
    let home_assistant = config
        .home_assistant
        .then(|| config.discovery_prefix.clone());
    let mut tenancy = ctx.devices.replica().subscribe();
    let mut updates = ctx.devices.subscribe();
    let mut session = BrokerSession {
        client,
        ctx: &ctx,
        home_assistant,
        announced: BTreeMap::new(),
        prefix: config.prefix.clone(),
        links: HashMap::new(),
        in_flight: VecDeque::new(),
        allowances: HashMap::new(),
        said_over: HashMap::new(),
        downlink_tx,
        downlink_rx,
    };
    let mut sweep = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            Some(packet) = events.recv() => session.incoming(packet).await,
            done = super::ingest::next_commit(&mut session.in_flight) => {
                let (publish, result) = done;
                match result {
                    Ok(()) => { let _ = session.client.ack(&publish).await; }
                    // Not acknowledged: the broker delivers it again.
                    Err(e) => tracing::error!("mqtt broker: {}: not stored ({e})", publish.topic),
                }
            }
            Some((device, down)) = session.downlink_rx.recv() => session.downlink(&device, down).await,
            _ = sweep.tick() => session.links.retain(|_, link| link.heard.elapsed() < SILENCE),
            changed = tenancy.changed(), if session.home_assistant.is_some() => {
                if changed.is_ok() {
                    session.announce(false).await;
                }
            }
            update = updates.recv(), if session.home_assistant.is_some() => {
                if let Ok(update) = update {
                    session.state(&update).await;
                }
            }
        }
    }
    let _ = session.client.disconnect().await;
    drop(poller);
}

struct BrokerLink {
    _attachment: Attachment,
    forwarder: tokio::task::JoinHandle<()>,
    heard: Instant,
}

impl Drop for BrokerLink {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

struct BrokerSession<'a> {
    client: AsyncClient,
    ctx: &'a Context,
    /// The discovery prefix, when Home Assistant discovery is on.
    home_assistant: Option<String>,
    /// Discovery configs published (topic → payload).
    announced: BTreeMap<String, String>,
    prefix: String,
    links: HashMap<String, BrokerLink>,
    in_flight: VecDeque<(Publish, Option<Committed>)>,
    /// Each known device's message allowance, by id.
    allowances: HashMap<String, Allowance>,
    /// When each device (by id) or bridge (`bridge:<name>`) was last said
    /// to be over its allowance: at most once a minute each.
    said_over: HashMap<String, Instant>,
    /// Commands for devices on the broker, from their links' forwarders.
    downlink_tx: mpsc::Sender<(String, Downlink)>,
    downlink_rx: mpsc::Receiver<(String, Downlink)>,
}

impl BrokerSession<'_> {
    fn filters(&self) -> Vec<String> {
        let mut filters: Vec<String> = [
            "ds/+",
            "ds/+/erase",
            "ds/+/prop/+",
            "batch_ds",
            "event/+",
            "meta/+",
            "info/mcu",
            "get/ds",
            "get/ds/all",
        ]
        .iter()
        .map(|t| format!("{}/+/{t}", self.prefix))
        .collect();
        // BLE bridges on the broker (Theengs Gateway, OpenMQTTGateway).
        filters.push("home/+/BTtoMQTT/+".into());
        if let Some(discovery) = &self.home_assistant {
            filters.push(format!("{discovery}/status"));
        }
        filters
    }

    async fn incoming(&mut self, packet: Packet) {
        match packet {
            Packet::ConnAck(_) => {
                for filter in self.filters() {
                    if let Err(e) = self
                        .client
                        .subscribe(filter.clone(), QoS::AtLeastOnce)
                        .await
                    {
                        tracing::error!("mqtt broker: cannot subscribe to {filter}: {e}");
                    }
                }
                self.announce(true).await;
            }
            Packet::Publish(publish)
                if self
                    .home_assistant
                    .as_ref()
                    .is_some_and(|d| publish.topic == format!("{d}/status")) =>
            {
                // Home Assistant (re)started and wants the configs again.
                let online = publish.payload.as_ref() == b"online";
                if online {
                    self.announce(true).await;
                }
            }
            // The connection dropped: devices there are no longer reachable.
            Packet::Disconnect => self.links.clear(),
            Packet::Publish(publish) => {
                let committed = self.publish(&publish).await;
                if publish.qos == QoS::AtMostOnce {
                    return;
                }
                self.in_flight.push_back((publish, committed));
            }
            _ => {}
        }
    }

    /// A device's message; its commit when it must be waited for.
    async fn publish(&mut self, publish: &Publish) -> Option<Committed> {
        if let Some(report) = publish.topic.strip_prefix("home/") {
            return self.bridge_report(report, &publish.payload).await;
        }
        let rest = publish.topic.strip_prefix(&format!("{}/", self.prefix))?;
        let (device, layout) = rest.split_once('/')?;
        let known = self
            .ctx
            .devices
            .replica()
            .with_state(|s| s.devices().get(device).is_some_and(|d| !d.deleted))
            .unwrap_or(false);
        if !known {
            tracing::debug!("mqtt broker: {}: no such device", publish.topic);
            return None;
        }
        self.heard(device);
        if !self.allowed(device) {
            return None;
        }
        let uplink = match topics::parse(layout, &publish.payload) {
            Ok(uplink) => uplink,
            Err(e) => {
                tracing::debug!("mqtt broker: device {device}: {e}");
                return None;
            }
        };
        let durable = publish.qos != QoS::AtMostOnce;
        match super::ingest::apply(&self.ctx.devices, device, uplink, durable).await {
            Ok(applied) => {
                for (topic, payload) in applied.replies {
                    let topic = format!("{}/{device}/{topic}", self.prefix);
                    let _ = self
                        .client
                        .publish(topic, QoS::AtMostOnce, false, payload)
                        .await;
                }
                applied.committed
            }
            Err(e) => {
                tracing::debug!("mqtt broker: device {device}: {e}");
                None
            }
        }
    }

    /// `<gateway>/BTtoMQTT/<mac>`: a report of the bridge registered under
    /// that gateway name (through the API), else ignored. The broker, not
    /// Hearth, decides who may publish there.
    async fn bridge_report(&mut self, topic: &str, payload: &[u8]) -> Option<Committed> {
        let (gateway, mac) = topic.split_once("/BTtoMQTT/")?;
        // Raw adverts for a decoding gateway, which reports them decoded.
        if mac == "undecoded" {
            return None;
        }
        let bridge = self
            .ctx
            .devices
            .replica()
            .with_credentials(|c| {
                c.bridges()
                    .values()
                    .find(|b| !b.revoked && b.name == gateway)
                    .cloned()
            })
            .ok()
            .flatten();
        let Some(bridge) = bridge else {
            tracing::debug!("mqtt broker: home/{topic}: no bridge named {gateway:?}");
            return None;
        };
        if !self.bridge_allowed(&bridge.name) {
            return None;
        }
        match self.ctx.ble.ingest(&bridge, mac, payload).await {
            Ok(crate::ble::Ingested::Values { committed, .. }) => committed,
            Ok(crate::ble::Ingested::Inbox { .. }) => None,
            Err(e) => {
                tracing::debug!("mqtt broker: home/{topic}: {e}");
                None
            }
        }
    }

    /// Takes one message's worth of `device`'s allowance; false (counted,
    /// said at most once a minute) when it is over.
    fn allowed(&mut self, device: &str) -> bool {
        let per_second = self.ctx.per_second;
        let allowance = self
            .allowances
            .entry(device.to_owned())
            .or_insert_with(|| Allowance::new(per_second));
        if allowance.take() {
            return true;
        }
        let dropped = self.ctx.devices.messages_dropped.add(device);
        if self.say_over(device) {
            tracing::warn!(
                "mqtt broker: device {device}: over {per_second} messages/s; its messages are \
                 left out until it slows ({dropped} so far)"
            );
        }
        false
    }

    /// [`BrokerSession::allowed`] for a bridge, whose allowance it shares with its
    /// connections to Hearth's own listener.
    fn bridge_allowed(&mut self, bridge: &str) -> bool {
        let per_second = self.ctx.bridge_per_second;
        let mut all = self
            .ctx
            .bridge_allowances
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let allowance = all
            .entry(bridge.to_owned())
            .or_insert_with(|| Allowance::new(per_second));
        if allowance.take() {
            return true;
        }
        drop(all);
        let dropped = self.ctx.devices.bridge_messages_dropped.add(bridge);
        if self.say_over(&format!("bridge:{bridge}")) {
            tracing::warn!(
                "mqtt broker: bridge {bridge:?}: over {per_second} reports/s; its reports are \
                 left out until it slows ({dropped} so far)"
            );
        }
        false
    }

    /// Whether to say now that `who` is over its allowance (a minute since
    /// it was last said).
    fn say_over(&mut self, who: &str) -> bool {
        let now = Instant::now();
        match self.said_over.get(who) {
            Some(said) if now.duration_since(*said) < SAY_OVER_EVERY => false,
            _ => {
                self.said_over.insert(who.to_owned(), now);
                true
            }
        }
    }

    /// Publishes Home Assistant discovery configs that changed (all of
    /// them with `all`), and empty ones for sensors that went.
    async fn announce(&mut self, all: bool) {
        let Some(discovery) = self.home_assistant.clone() else {
            return;
        };
        let Ok(state) = self.ctx.devices.replica().snapshot() else {
            return;
        };
        let configs = super::home_assistant::configs(&state, &discovery, &self.prefix);
        if all {
            self.announced.clear();
        }
        for (topic, payload) in &configs {
            if self.announced.get(topic) != Some(payload) {
                let _ = self
                    .client
                    .publish(topic.clone(), QoS::AtLeastOnce, true, payload.clone())
                    .await;
            }
        }
        for topic in self.announced.keys().filter(|t| !configs.contains_key(*t)) {
            let _ = self
                .client
                .publish(topic.clone(), QoS::AtLeastOnce, true, Vec::new())
                .await;
        }
        self.announced = configs;
    }

    /// A value as retained state for Home Assistant.
    async fn state(&mut self, update: &crate::devices::Update) {
        let devices = &self.ctx.devices;
        let name = |device: &str, pin: &str| {
            crate::devices::Pin::parse(pin)
                .map_or_else(|| pin.to_owned(), |p| devices.name_of(device, p))
        };
        if let Some((topic, payload)) = super::home_assistant::state(update, &self.prefix, name) {
            let _ = self
                .client
                .publish(topic, QoS::AtMostOnce, true, payload)
                .await;
        }
    }

    /// Marks `device` online (attached) while it keeps talking.
    fn heard(&mut self, device: &str) {
        if let Some(link) = self.links.get_mut(device) {
            link.heard = Instant::now();
            return;
        }
        let mut attachment =
            self.ctx
                .devices
                .attach(device, "mqtt-broker", SILENCE.mul_f32(2.0 / 3.0));
        let mut downlink = std::mem::replace(&mut attachment.downlink, mpsc::channel(1).1);
        let (tx, id) = (self.downlink_tx.clone(), device.to_owned());
        let forwarder = tokio::spawn(async move {
            while let Some(down) = downlink.recv().await {
                if tx.send((id.clone(), down)).await.is_err() {
                    return;
                }
            }
        });
        self.links.insert(
            device.to_owned(),
            BrokerLink {
                _attachment: attachment,
                forwarder,
                heard: Instant::now(),
            },
        );
    }

    async fn downlink(&mut self, device: &str, down: Downlink) {
        let Downlink::Write { pin, values, .. } = down;
        let name = self.ctx.devices.name_of(device, pin);
        let topic = format!("{}/{device}/{}", self.prefix, topics::downlink_ds(&name));
        if let Err(e) = self
            .client
            .publish(topic, QoS::AtMostOnce, false, values.join("\0"))
            .await
        {
            tracing::warn!("mqtt broker: device {device}: command not sent: {e}");
        }
    }
}
