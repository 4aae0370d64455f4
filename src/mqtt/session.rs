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
//! one log line per connection.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    Codec, ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, Publish, SubAck,
    SubscribeReasonCode, UnsubAck,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use super::Context;
use super::topics::{self, Uplink};
use crate::blynk::requests::device_for_token;
use crate::devices::{Attachment, Committed, DeviceError, Downlink};

/// A client that sends no CONNECT within this long is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The keepalive assumed when a client asks for none (0).
const NO_KEEPALIVE: Duration = Duration::from_secs(3600);
/// QoS 1 PUBLISHes waiting for their commit; beyond it reading pauses.
const IN_FLIGHT: usize = 256;

type Link<S> = Framed<S, Codec>;

pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(io: S, peer: &str, ctx: &Context) {
    let mut link = Framed::new(
        io,
        Codec {
            max_incoming_size: ctx.max_packet,
            max_outgoing_size: 1 << 20,
        },
    );
    let connect = match tokio::time::timeout(CONNECT_TIMEOUT, link.next()).await {
        Ok(Some(Ok(Packet::Connect(connect)))) => connect,
        Ok(Some(Ok(other))) => {
            tracing::warn!("mqtt: {peer}: {other:?} before CONNECT; closed");
            return;
        }
        Ok(Some(Err(e))) => {
            tracing::warn!("mqtt: {peer}: {e}; closed");
            return;
        }
        Ok(None) => return,
        Err(_) => {
            tracing::warn!("mqtt: {peer}: no CONNECT within {CONNECT_TIMEOUT:?}; closed");
            return;
        }
    };
    let login = connect.login.as_ref();
    let device = match login.map(|l| l.username.as_str()) {
        Some("device") => login.and_then(|l| device_for_token(&ctx.devices, &l.password)),
        _ => None,
    };
    let Some(device) = device else {
        tracing::warn!(
            "mqtt: {peer}: refused (CONNACK 4): username must be \"device\" with the device's token"
        );
        let _ = link
            .send(Packet::ConnAck(ConnAck::new(
                ConnectReturnCode::BadUserNamePassword,
                false,
            )))
            .await;
        return;
    };
    let token = login.map(|l| l.password.clone()).unwrap_or_default();
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
    let attachment = ctx.devices.attach(&device, "mqtt", keepalive);
    tracing::info!("mqtt: device {device} online from {peer}");
    let mut session = Session {
        link: &mut link,
        ctx,
        device: device.clone(),
        token,
        subscriptions: Vec::new(),
        in_flight: VecDeque::new(),
        ignored: 0,
    };
    let why = session.serve(attachment, keepalive).await;
    tracing::info!("mqtt: device {device} offline ({why})");
}

struct Session<'a, S> {
    link: &'a mut Link<S>,
    ctx: &'a Context,
    device: String,
    token: String,
    subscriptions: Vec<String>,
    /// QoS 1 packet ids waiting for their value's commit, oldest first.
    in_flight: VecDeque<(u16, Option<Committed>)>,
    /// PUBLISHes ignored (outside the device's topics, refused values).
    ignored: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    async fn serve(&mut self, mut attachment: Attachment, keepalive: Duration) -> String {
        let mut tenancy = self.ctx.devices.replica().subscribe();
        let silence = keepalive.mul_f32(1.5);
        loop {
            let reading = self.in_flight.len() < IN_FLIGHT;
            tokio::select! {
                _ = self.ctx.shutdown.cancelled() => return "the hub is stopping".into(),
                _ = attachment.kicked.cancelled() => return "replaced by a newer connection".into(),
                changed = tenancy.changed() => {
                    if changed.is_err() || device_for_token(&self.ctx.devices, &self.token).as_deref() != Some(&self.device) {
                        return "its token was replaced or the device deleted".into();
                    }
                }
                committed = next_commit(&mut self.in_flight) => {
                    let (pkid, result) = committed;
                    if let Err(e) = result {
                        // Not acknowledged: the client will send it again.
                        return format!("a value could not be stored ({e})");
                    }
                    if self.send(Packet::PubAck(PubAck::new(pkid))).await.is_err() {
                        return "the connection failed".into();
                    }
                }
                Some(down) = attachment.downlink.recv() => {
                    if self.downlink(down).await.is_err() {
                        return "the connection failed".into();
                    }
                }
                packet = tokio::time::timeout(silence, self.link.next()), if reading => match packet {
                    Err(_) => return format!("silent for {}s, 1.5x its keepalive", silence.as_secs()),
                    Ok(None) => return "disconnected".into(),
                    Ok(Some(Err(e))) => {
                        tracing::warn!("mqtt: device {}: {e}; closing", self.device);
                        return format!("bad packet: {e}");
                    }
                    Ok(Some(Ok(packet))) => match self.handle(packet).await {
                        Ok(true) => {}
                        Ok(false) => return "it said DISCONNECT".into(),
                        Err(why) => return why,
                    },
                },
            }
        }
    }

    /// Handles a packet; `Ok(false)` ends the session cleanly.
    async fn handle(&mut self, packet: Packet) -> Result<bool, String> {
        let sent = match packet {
            Packet::Publish(publish) => return self.publish(publish).await.map(|()| true),
            Packet::Subscribe(subscribe) => {
                let codes = subscribe
                    .filters
                    .iter()
                    .map(|f| {
                        if topics::may_subscribe(&f.path) {
                            self.subscriptions.push(f.path.clone());
                            SubscribeReasonCode::Success(QoS::AtMostOnce)
                        } else {
                            tracing::warn!(
                                "mqtt: device {}: may not subscribe to {:?}",
                                self.device,
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

    async fn publish(&mut self, publish: Publish) -> Result<(), String> {
        let durable = publish.qos != QoS::AtMostOnce;
        let committed = match topics::parse(&publish.topic, &publish.payload) {
            Ok(uplink) => match self.apply(uplink, durable).await {
                Ok(committed) => committed,
                Err(e) => {
                    self.ignore(&format!("{}: {e}", publish.topic));
                    None
                }
            },
            Err(e) => {
                self.ignore(&e.to_string());
                None
            }
        };
        match publish.qos {
            QoS::AtMostOnce => Ok(()),
            // Acknowledged in order, once committed (or at once if ignored).
            QoS::AtLeastOnce => {
                self.in_flight.push_back((publish.pkid, committed));
                Ok(())
            }
            QoS::ExactlyOnce => {
                if let Some(mut c) = committed {
                    c.done()
                        .await
                        .map_err(|e| format!("a value could not be stored ({e})"))?;
                }
                self.send(Packet::PubRec(PubRec::new(publish.pkid)))
                    .await
                    .map_err(|_| "the connection failed".into())
            }
        }
    }

    /// Carries out an uplink; a value to be acknowledged returns its commit.
    async fn apply(
        &mut self,
        uplink: Uplink,
        durable: bool,
    ) -> Result<Option<Committed>, DeviceError> {
        let devices = &self.ctx.devices;
        let device = self.device.as_str();
        let pin = |name: &str| {
            devices
                .pin_named(device, name)
                .ok_or_else(|| DeviceError::Refused(format!("no datastream named {name:?}")))
        };
        match uplink {
            Uplink::Value { name, values } => {
                let pin = pin(&name)?;
                if durable {
                    return devices.record_queued(device, pin, &values).await.map(Some);
                }
                devices.record(device, pin, &values, false).await?;
            }
            Uplink::Batch(pairs) => {
                let mut last = None;
                for (name, values) in pairs {
                    let pin = pin(&name)?;
                    last = Some(devices.record_queued(device, pin, &values).await?);
                }
                // One commit covers the batch: commits resolve in order.
                return Ok(last.filter(|_| durable));
            }
            Uplink::Property {
                name,
                property,
                value,
            } => devices.set_property(device, pin(&name)?, &property, &value),
            Uplink::Erase { .. } => {}
            Uplink::Event { code, description } => {
                devices.log_event(device, &code, description).await?
            }
            Uplink::Info(pairs) => devices.set_info(device, pairs),
            Uplink::Get(names) => {
                let live = devices.values(device);
                let wanted: Vec<(String, String)> = match names {
                    Some(names) => names
                        .into_iter()
                        .filter_map(|n| {
                            let pin = devices.pin_named(device, &n)?;
                            Some((n, live.get(&pin.to_string())?.value.clone()))
                        })
                        .collect(),
                    None => live
                        .into_iter()
                        .filter_map(|(pin, v)| {
                            let pin = crate::devices::Pin::parse(&pin)?;
                            Some((devices.name_of(device, pin), v.value))
                        })
                        .collect(),
                };
                for (name, value) in wanted {
                    let _ = self
                        .deliver(&topics::downlink_ds(&name), value.into_bytes())
                        .await;
                }
            }
        }
        Ok(None)
    }

    fn ignore(&mut self, why: &str) {
        self.ignored += 1;
        if self.ignored == 1 || self.ignored.is_power_of_two() {
            tracing::warn!(
                "mqtt: device {}: ignored: {why} ({} so far)",
                self.device,
                self.ignored
            );
        }
    }

    async fn downlink(&mut self, down: Downlink) -> std::io::Result<()> {
        let Downlink::Write { pin, values } = down;
        let name = self.ctx.devices.name_of(&self.device, pin);
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

/// The oldest in-flight PUBLISH once its commit is done (pending forever
/// when none is in flight, so `select!` waits on the others). Cancellation
/// safe: the entry leaves the queue only once its commit is done.
async fn next_commit(
    in_flight: &mut VecDeque<(u16, Option<Committed>)>,
) -> (u16, Result<(), crate::store::StoreError>) {
    let Some((pkid, committed)) = in_flight.front_mut() else {
        return std::future::pending().await;
    };
    let result = match committed {
        Some(c) => c.done().await,
        None => Ok(()),
    };
    let pkid = *pkid;
    in_flight.pop_front();
    (pkid, result)
}
