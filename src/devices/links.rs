//! Which link each device is connected on: a transport attaches after
//! login and its [`Attachment`] detaches when dropped; only the newest link
//! of a device is kept, and commands reach the device through it. An older link's detach never
//! removes a newer one (links are told apart by id), and nothing here authenticates: a transport
//! attaches only a device that has logged in.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Attachment, DOWNLINK_QUEUE, Devices, Downlink, Link, Online, Pin, Update};

impl Devices {
    /// Registers `device`'s new link on `transport`; an older link of the
    /// same device is told to go (one device, one connection).
    pub fn attach(
        self: &Arc<Self>,
        device: &str,
        transport: &'static str,
        heartbeat: Duration,
    ) -> Attachment {
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(DOWNLINK_QUEUE);
        let kick = CancellationToken::new();
        let since = self.clock.now_ms();
        let old = self.links_lock().insert(
            device.to_owned(),
            Link {
                id,
                transport,
                since,
                heartbeat,
                downlink: tx,
                kick: kick.clone(),
            },
        );
        if let Some(old) = old {
            old.kick.cancel();
        }
        self.publish(Update::Online {
            device: device.to_owned(),
            online: true,
            transport: Some(transport),
            at: since,
        });
        Attachment {
            device: device.to_owned(),
            id,
            downlink: rx,
            kicked: kick,
            devices: self.clone(),
        }
    }

    /// The heartbeat the device announced (for the online state shown).
    pub fn set_heartbeat(&self, device: &str, id: u64, heartbeat: Duration) {
        if let Some(link) = self.links_lock().get_mut(device).filter(|l| l.id == id) {
            link.heartbeat = heartbeat;
        }
    }

    pub(super) fn detach(&self, device: &str, id: u64) {
        let mut links = self.links_lock();
        if links.get(device).is_some_and(|l| l.id == id) {
            links.remove(device);
            drop(links);
            self.publish(Update::Online {
                device: device.to_owned(),
                online: false,
                transport: None,
                at: self.clock.now_ms(),
            });
        }
    }

    /// Tells `device`'s link to go (its token was replaced, it was deleted).
    pub fn disconnect(&self, device: &str) {
        if let Some(link) = self.links_lock().get(device) {
            link.kick.cancel();
        }
    }

    pub fn online(&self, device: &str) -> Option<Online> {
        self.links_lock().get(device).map(|l| Online {
            transport: l.transport,
            since: l.since,
            heartbeat_secs: l.heartbeat.as_secs(),
        })
    }

    /// The devices connected here now, each with its transport.
    pub fn online_devices(&self) -> Vec<(String, &'static str)> {
        self.links_lock()
            .iter()
            .map(|(device, link)| (device.clone(), link.transport))
            .collect()
    }

    pub fn online_count(&self) -> usize {
        self.links_lock().len()
    }

    fn links_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Link>> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn downlink(&self, device: &str) -> Option<mpsc::Sender<Downlink>> {
        self.links_lock().get(device).map(|l| l.downlink.clone())
    }

    /// Sends `values` to `device` if it is connected (best effort: a full
    /// queue or a device gone is not an error for the writer).
    pub async fn send_if_online(&self, device: &str, pin: Pin, values: Vec<String>) {
        if let Some(link) = self.downlink(device) {
            let _ = link
                .send_timeout(
                    Downlink::Write {
                        pin,
                        values,
                        by: None,
                    },
                    Duration::from_secs(1),
                )
                .await;
        }
    }
}
