//! What a session does with a PUBLISH: a device's values, properties and
//! events into the devices core, a bridge's messages to its bus and to the
//! devices it adopted, acknowledged only once they are committed. It never
//! decides who the client is (the session authenticated it at CONNECT).

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubRec, Publish};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Role, Session};
use crate::devices::{Committed, DeviceError};
use crate::mqtt::topics::{self, Uplink};
use crate::tenancy::credentials::Bridge;

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    pub(super) async fn publish(&mut self, publish: Publish) -> Result<(), String> {
        let durable = publish.qos != QoS::AtMostOnce;
        let parsed = match &self.role {
            Role::Device { .. } => {
                topics::parse(&publish.topic, &publish.payload).map_err(|e| e.to_string())
            }
            Role::Bridge { bridge } => {
                let bridge = bridge.clone();
                let committed = self.bridge_publish(&bridge, &publish).await;
                return self.acknowledge(&publish, committed).await;
            }
        };
        let committed = match parsed {
            Ok(uplink) => match self.apply(uplink, durable).await {
                Ok(committed) => committed,
                Err(e) => {
                    self.ignore(&format!("{}: {e}", publish.topic));
                    None
                }
            },
            Err(e) => {
                self.ignore(&e);
                None
            }
        };
        self.acknowledge(&publish, committed).await
    }

    /// A bridge's PUBLISH: reports under `home/<name>/BTtoMQTT/`, its LWT;
    /// anything else is ignored and counted.
    pub(super) async fn bridge_publish(
        &mut self,
        bridge: &Bridge,
        publish: &Publish,
    ) -> Option<Committed> {
        let own = format!("home/{}/", bridge.name);
        let Some(rest) = publish.topic.strip_prefix(&own) else {
            self.ignore(&format!("{} is outside {own}", publish.topic));
            return None;
        };
        if let Some(id) = self.relay_id {
            self.ctx
                .bridges
                .publish(id, &bridge.name, &publish.topic, &publish.payload);
        }
        // Raw adverts for a decoding gateway, which reports them decoded.
        if rest == "BTtoMQTT/undecoded" {
            return None;
        }
        if rest == "LWT" {
            let said = String::from_utf8_lossy(&publish.payload);
            tracing::info!("bridge {} says {said}", bridge.name);
            return None;
        }
        let Some(mac) = rest.strip_prefix("BTtoMQTT/") else {
            self.ignore(&format!("{} is not a BTtoMQTT report", publish.topic));
            return None;
        };
        match self.ctx.ble.ingest(bridge, mac, &publish.payload).await {
            Ok(crate::ble::Ingested::Values { committed, .. }) => committed,
            Ok(crate::ble::Ingested::Inbox { .. }) => None,
            Err(e) => {
                self.ignore(&format!("{}: {e}", publish.topic));
                None
            }
        }
    }

    /// Acknowledges a PUBLISH as its QoS asks, once `committed` is done.
    pub(super) async fn acknowledge(
        &mut self,
        publish: &Publish,
        committed: Option<Committed>,
    ) -> Result<(), String> {
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
    pub(super) async fn apply(
        &mut self,
        uplink: Uplink,
        durable: bool,
    ) -> Result<Option<Committed>, DeviceError> {
        let Role::Device { device } = &self.role else {
            return Ok(None);
        };
        let applied =
            crate::mqtt::ingest::apply(&self.ctx.devices, device, uplink, durable).await?;
        for (topic, payload) in applied.replies {
            let _ = self.deliver(&topic, payload).await;
        }
        Ok(applied.committed)
    }

    pub(super) fn ignore(&mut self, why: &str) {
        self.ignored += 1;
        if self.ignored == 1 || self.ignored.is_power_of_two() {
            tracing::warn!(
                "mqtt: {}: ignored: {why} ({} so far)",
                self.label,
                self.ignored
            );
        }
    }
}
