//! One MQTT 3.1.1 client of Hearth's listener: CONNECT with username
//! `device` and the device's token (CONNACK 4 otherwise), then Blynk's
//! Device MQTT API ([`topics`]) until DISCONNECT, silence past 1.5x the
//! keepalive, a newer connection of the same device, a replaced token, or
//! the hub stopping.
//!
//! A QoS 1 PUBLISH is acknowledged only once its value is committed to
//! disk; the connection goes on reading meanwhile and PUBACKs go out in the
//! order the PUBLISHes came (commits resolve in order). A packet that
//! breaks MQTT closes the connection; a PUBLISH outside the device's
//! topics, or a value its datastream refuses, is ignored and counted, with
//! one log line per connection. A bridge logs in as `bridge` with its token instead, and
//! publishes only under `home/<its name>/`. A PUBACK never goes out before its commit, and past
//! 256 waiting the session stops reading rather than buffer more.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    Codec, ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, Publish, SubAck,
    SubscribeReasonCode, UnsubAck,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

mod publish;

use super::Context;
use super::codec::MqttCodec;
use super::topics;
use crate::blynk::requests::device_for_token;
use crate::devices::allowance::Allowance;
use crate::devices::{Attachment, Committed, Downlink, TokenRefusal};
use crate::tenancy::credentials::Bridge;

/// A client that sends no CONNECT within this long is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The keepalive assumed when a client asks for none (0).
const NO_KEEPALIVE: Duration = Duration::from_secs(3600);
/// QoS 1 PUBLISHes waiting for their commit; beyond it reading pauses.
const IN_FLIGHT: usize = 256;

type Link<S> = Framed<S, MqttCodec>;

/// Failures before a CONNECT is accepted, written at a bounded rate.
static PRE_LOGIN: std::sync::LazyLock<crate::service::noisy::Noisy> =
    std::sync::LazyLock::new(|| crate::service::noisy::Noisy::new("mqtt", "failures before login"));

pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(io: S, peer: &str, ctx: &Context) {
    let mut link: Link<S> = crate::listener::framed(
        io,
        MqttCodec(Codec {
            max_incoming_size: ctx.max_packet,
            max_outgoing_size: 1 << 20,
        }),
    );
    let connect = match tokio::time::timeout(CONNECT_TIMEOUT, link.next()).await {
        Ok(Some(Ok(Packet::Connect(connect)))) => connect,
        Ok(Some(Ok(other))) => {
            PRE_LOGIN.warn(peer, format_args!("{other:?} before CONNECT; closed"));
            return;
        }
        Ok(Some(Err(rumqttc::mqttbytes::Error::InvalidProtocolLevel(level)))) => {
            // Say so, as each version's spec asks: an MQTT 5 CONNACK with
            // reason 0x84 (unsupported protocol version) to an MQTT 5
            // client, CONNACK 1 (unacceptable protocol version) to others.
            PRE_LOGIN.warn(
                peer,
                format_args!("protocol level {level}; only MQTT 3.1.1 is spoken"),
            );
            if level == 5 {
                use tokio::io::AsyncWriteExt;
                let _ = link
                    .get_mut()
                    .write_all(&[0x20, 0x03, 0x00, 0x84, 0x00])
                    .await;
            } else {
                let refused = ConnAck::new(ConnectReturnCode::RefusedProtocolVersion, false);
                let _ = link.send(Packet::ConnAck(refused)).await;
            }
            return;
        }
        Ok(Some(Err(e))) => {
            PRE_LOGIN.warn(peer, format_args!("{e}; closed"));
            return;
        }
        Ok(None) => return,
        Err(_) => {
            PRE_LOGIN.warn(
                peer,
                format_args!("no CONNECT within {CONNECT_TIMEOUT:?}; closed"),
            );
            return;
        }
    };
    let login = connect.login.as_ref();
    let token = login.map(|l| l.password.clone()).unwrap_or_default();
    let admitted = ctx.devices.admit(
        "mqtt",
        peer,
        "refused (CONNACK 4): username must be \"device\" with the device's token",
        || match login.map(|l| l.username.as_str()) {
            Some("device") => {
                device_for_token(&ctx.devices, &token).map(|device| Role::Device { device })
            }
            Some("bridge") => bridge_for_token(ctx, &token).map(|bridge| Role::Bridge { bridge }),
            _ => None,
        },
    );
    let role = match admitted {
        Ok(role) => role,
        Err(refusal) => {
            let code = match refusal {
                TokenRefusal::Throttled(_) => ConnectReturnCode::ServiceUnavailable,
                TokenRefusal::Wrong => ConnectReturnCode::BadUserNamePassword,
            };
            let _ = link.send(Packet::ConnAck(ConnAck::new(code, false))).await;
            return;
        }
    };
    if link
        .send(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            false,
        )))
        .await
        .is_err()
    {
        return;
    }
    let keepalive = match connect.keep_alive {
        0 => NO_KEEPALIVE,
        secs => Duration::from_secs(u64::from(secs)),
    };
    let (attachment, label) = match &role {
        Role::Device { device } => (
            Some(ctx.devices.attach(device, "mqtt", keepalive)),
            format!("device {device}"),
        ),
        Role::Bridge { bridge } => (None, format!("bridge {}", bridge.name)),
    };
    tracing::Span::current().record("client", label.as_str());
    tracing::info!("{label} online");
    let mut session = Session {
        link: &mut link,
        ctx,
        label: label.clone(),
        role,
        token,
        subscriptions: Vec::new(),
        in_flight: VecDeque::new(),
        ignored: 0,
        relay_id: None,
        allowance: Allowance::new(ctx.per_second),
    };
    let why = session.serve(attachment, keepalive).await;
    tracing::info!("{label} offline ({why})");
}

/// Who logged in.
enum Role {
    Device {
        device: String,
    },
    /// A BLE-to-MQTT bridge: publishes only under `home/<name>/`.
    Bridge {
        bridge: Bridge,
    },
}

fn bridge_for_token(ctx: &Context, token: &str) -> Option<Bridge> {
    ctx.devices
        .replica()
        .with_credentials(|c| c.bridge_for_token(token).cloned())
        .ok()?
}

struct Session<'a, S> {
    link: &'a mut Link<S>,
    ctx: &'a Context,
    /// `device <id>` or `bridge <name>`: for log lines.
    label: String,
    role: Role,
    token: String,
    subscriptions: Vec<String>,
    /// QoS 1 packet ids waiting for their value's commit, oldest first.
    in_flight: VecDeque<(u16, Option<Committed>)>,
    /// PUBLISHes ignored (outside the device's topics, refused values).
    ignored: u64,
    /// This connection on the bridges' bus (bridges only).
    relay_id: Option<u64>,
    /// A device's message allowance (a bridge's is in the context, shared
    /// by its connections).
    allowance: Allowance,
}

impl<S> Drop for Session<'_, S> {
    fn drop(&mut self) {
        if let Some(id) = self.relay_id {
            self.ctx.bridges.leave(id);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    async fn serve(&mut self, mut attachment: Option<Attachment>, keepalive: Duration) -> String {
        let mut tenancy = self.ctx.devices.replica().subscribe();
        let silence = keepalive.mul_f32(1.5);
        let kick = attachment.as_ref().map(|a| a.kicked.clone());
        // A bridge's connections hear each other (see `bridge_bus`).
        let mut relayed = match &self.role {
            Role::Bridge { bridge } => {
                let (id, rx) = self.ctx.bridges.join(&bridge.name);
                self.relay_id = Some(id);
                Some(rx)
            }
            Role::Device { .. } => None,
        };
        // Only packets from the client count as signs of life.
        let mut last_rx = tokio::time::Instant::now();
        loop {
            let reading = self.in_flight.len() < IN_FLIGHT;
            tokio::select! {
                _ = self.ctx.shutdown.cancelled() => return "the hub is stopping".into(),
                _ = kicked(&kick) => return "replaced by a newer connection".into(),
                changed = tenancy.changed() => {
                    if changed.is_err() || !self.still_valid() {
                        return "its token was replaced or revoked, or the device deleted".into();
                    }
                }
                committed = super::ingest::next_commit(&mut self.in_flight) => {
                    let (pkid, result) = committed;
                    if let Err(e) = result {
                        // Not acknowledged: the client will send it again.
                        return format!("a value could not be stored ({e})");
                    }
                    if self.send(Packet::PubAck(PubAck::new(pkid))).await.is_err() {
                        return "the connection failed".into();
                    }
                }
                Some(down) = downlink(&mut attachment) => {
                    if self.downlink(down).await.is_err() {
                        return "the connection failed".into();
                    }
                }
                _ = tokio::time::sleep_until(last_rx + silence) => {
                    return format!("silent for {}s, 1.5x its keepalive", silence.as_secs());
                }
                Some((topic, payload)) = relayed_message(&mut relayed) => {
                    let publish = Publish::new(topic, QoS::AtMostOnce, payload.to_vec());
                    if self.send(Packet::Publish(publish)).await.is_err() {
                        return "the connection failed".into();
                    }
                }
                packet = self.link.next(), if reading => match packet {
                    None => return "disconnected".into(),
                    Some(Err(e)) => {
                        tracing::warn!("{e}; closing");
                        return format!("bad packet: {e}");
                    }
                    Some(Ok(packet)) => {
                        last_rx = tokio::time::Instant::now();
                        match self.handle(packet).await {
                            Ok(true) => {}
                            Ok(false) => return "it said DISCONNECT".into(),
                            Err(why) => return why,
                        }
                    }
                },
            }
        }
    }

    /// Waits, reading nothing, until this device (or bridge) has a
    /// message's worth of allowance, and takes it. MQTT 3.1.1 cannot refuse
    /// a PUBLISH, so an over-eager client is slowed by TCP instead; it loses
    /// nothing. Said once per episode.
    async fn pace(&mut self) {
        loop {
            let wait = self.with_allowance(Allowance::wait);
            if wait.is_zero() {
                self.with_allowance(Allowance::take);
                return;
            }
            if !self.with_allowance(|a| std::mem::replace(&mut a.throttled, true)) {
                let rate = self.with_allowance(|a| a.per_second());
                tracing::warn!(
                    "mqtt: {}: over {rate} messages/s; reading it slower",
                    self.label
                );
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn with_allowance<R>(&mut self, f: impl FnOnce(&mut Allowance) -> R) -> R {
        match &self.role {
            Role::Device { .. } => f(&mut self.allowance),
            Role::Bridge { bridge } => {
                let mut all = self
                    .ctx
                    .bridge_allowances
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let per_second = self.ctx.bridge_per_second;
                f(all
                    .entry(bridge.name.clone())
                    .or_insert_with(|| Allowance::new(per_second)))
            }
        }
    }

    /// Handles a packet; `Ok(false)` ends the session cleanly.
    async fn handle(&mut self, packet: Packet) -> Result<bool, String> {
        let sent = match packet {
            Packet::Publish(publish) => {
                self.pace().await;
                return self.publish(publish).await.map(|()| true);
            }
            Packet::Subscribe(subscribe) => {
                let codes = subscribe
                    .filters
                    .iter()
                    .map(|f| {
                        if self.may_subscribe(&f.path) {
                            self.subscriptions.push(f.path.clone());
                            if let Some(id) = self.relay_id {
                                self.ctx.bridges.subscribe(id, &f.path);
                            }
                            SubscribeReasonCode::Success(QoS::AtMostOnce)
                        } else {
                            tracing::warn!(
                                "mqtt: {}: may not subscribe to {:?}",
                                self.label,
                                f.path
                            );
                            SubscribeReasonCode::Failure
                        }
                    })
                    .collect();
                self.send(Packet::SubAck(SubAck::new(subscribe.pkid, codes)))
                    .await
            }
            Packet::Unsubscribe(unsubscribe) => {
                self.subscriptions
                    .retain(|s| !unsubscribe.topics.contains(s));
                self.send(Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid)))
                    .await
            }
            Packet::PingReq => self.send(Packet::PingResp).await,
            Packet::PubRel(rel) => self.send(Packet::PubComp(PubComp::new(rel.pkid))).await,
            Packet::Disconnect => return Ok(false),
            Packet::PubAck(_) | Packet::PubComp(_) | Packet::PubRec(_) => Ok(()),
            other => return Err(format!("a client does not send {other:?}")),
        };
        sent.map(|()| true)
            .map_err(|_| "the connection failed".into())
    }

    fn still_valid(&self) -> bool {
        match &self.role {
            Role::Device { device } => {
                device_for_token(&self.ctx.devices, &self.token).as_deref() == Some(device)
            }
            Role::Bridge { bridge } => {
                bridge_for_token(self.ctx, &self.token).is_some_and(|b| b.id == bridge.id)
            }
        }
    }

    fn may_subscribe(&self, filter: &str) -> bool {
        match &self.role {
            Role::Device { .. } => topics::may_subscribe(filter),
            Role::Bridge { bridge } => {
                filter.starts_with(&format!("home/{}/", bridge.name))
                    && rumqttc::valid_filter(filter)
            }
        }
    }

    async fn downlink(&mut self, down: Downlink) -> std::io::Result<()> {
        let Downlink::Write { pin, values, .. } = down;
        let Role::Device { device } = &self.role else {
            return Ok(());
        };
        let name = self.ctx.devices.name_of(device, pin);
        let payload = values.join("\0").into_bytes();
        self.deliver(&topics::downlink_ds(&name), payload).await
    }

    /// Publishes `topic` to the device if it subscribed to it (QoS 0).
    async fn deliver(&mut self, topic: &str, payload: Vec<u8>) -> std::io::Result<()> {
        if !self
            .subscriptions
            .iter()
            .any(|f| rumqttc::matches(topic, f))
        {
            return Ok(());
        }
        self.send(Packet::Publish(Publish::new(
            topic,
            QoS::AtMostOnce,
            payload,
        )))
        .await
    }

    async fn send(&mut self, packet: Packet) -> std::io::Result<()> {
        match tokio::time::timeout(Duration::from_secs(10), self.link.send(packet)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(std::io::Error::other(e.to_string())),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
        }
    }
}

async fn relayed_message(
    relayed: &mut Option<tokio::sync::mpsc::Receiver<super::bridge_bus::Message>>,
) -> Option<super::bridge_bus::Message> {
    match relayed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn kicked(kick: &Option<tokio_util::sync::CancellationToken>) {
    match kick {
        Some(k) => k.cancelled().await,
        None => std::future::pending().await,
    }
}

async fn downlink(attachment: &mut Option<Attachment>) -> Option<Downlink> {
    match attachment {
        Some(a) => a.downlink.recv().await,
        None => std::future::pending().await,
    }
}
