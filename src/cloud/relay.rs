//! Commands from the cloud's API to the hub a device is connected to.
//!
//! Hubs cannot be dialed (they sit behind the household's router), so each
//! linked hub long-polls `POST /cloud/v1/relay`, saying which devices are
//! connected to it. The cloud gives each of them a link of its own
//! ([`RELAY_TRANSPORT`]) in the tenant's devices core, so a command made
//! here passes the same checks as on a hub and goes down that link; the
//! poll carries it to the hub, which checks it again as the same person and
//! sends it to the device. A hub that stops polling loses its links within
//! [`SILENCE`]: a command for its devices then fails as offline. It never relays a command
//! that is not a person's (bridge writes and the cloud's console stay here), and never queues
//! more than 256 commands for one hub nor links more than `MAX_DEVICES` of its devices.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::sync::commands::Relayed;
use tokio::sync::mpsc;

use crate::devices::{Devices, Downlink, RELAY_TRANSPORT};
use crate::tenancy::Caller;

/// A hub not heard from for this long is taken for offline (one whose
/// sync connection closed is at once: see [`Relay::disconnected`]).
pub const SILENCE: Duration = Duration::from_secs(60);
/// The most commands waiting for one hub.
const QUEUE: usize = 256;
/// The most devices one hub may say it has.
pub const MAX_DEVICES: usize = 10_000;

struct HubLinks {
    /// Per device, the task that owns its link and forwards its commands.
    devices: HashMap<String, tokio::task::AbortHandle>,
    commands: Arc<tokio::sync::Mutex<mpsc::Receiver<Relayed>>>,
    sender: mpsc::Sender<Relayed>,
    last_poll: Instant,
}

/// The relay of one tenant.
#[derive(Default)]
pub struct Relay {
    hubs: Mutex<HashMap<String, HubLinks>>,
    /// Open sync connections per hub (a reconnect may overlap the old one).
    connections: Mutex<HashMap<String, usize>>,
    /// Every device link's forwarding task; [`Relay::close`] joins them.
    tasks: tokio_util::task::TaskTracker,
}

impl Relay {
    /// `hub` polls: its devices now are `online`; returns the commands for
    /// them, waiting up to `wait` for the first.
    pub async fn poll(
        &self,
        devices: &Arc<Devices>,
        hub: &str,
        online: Vec<String>,
        wait: Duration,
    ) -> Vec<Relayed> {
        let commands = {
            let mut hubs = self.hubs.lock().unwrap_or_else(PoisonError::into_inner);
            let links = hubs.entry(hub.to_owned()).or_insert_with(|| {
                let (sender, commands) = mpsc::channel(QUEUE);
                HubLinks {
                    devices: HashMap::new(),
                    commands: Arc::new(tokio::sync::Mutex::new(commands)),
                    sender,
                    last_poll: Instant::now(),
                }
            });
            links.last_poll = Instant::now();
            links.devices.retain(|device, task| {
                let keep = online.contains(device) && !task.is_finished();
                if !keep {
                    task.abort();
                }
                keep
            });
            for device in online.into_iter().take(MAX_DEVICES) {
                if !links.devices.contains_key(&device) {
                    let task = self.tasks.spawn(forward(
                        devices.clone(),
                        device.clone(),
                        links.sender.clone(),
                    ));
                    links.devices.insert(device, task.abort_handle());
                }
            }
            links.commands.clone()
        };
        // One poll of a hub at a time takes its commands.
        let mut commands = commands.lock().await;
        let mut taken = Vec::new();
        if let Ok(Some(first)) = tokio::time::timeout(wait, commands.recv()).await {
            taken.push(first);
            while let Ok(next) = commands.try_recv() {
                taken.push(next);
            }
        }
        taken
    }

    /// Drops the links of hubs silent for longer than [`SILENCE`].
    pub fn sweep(&self) {
        let mut hubs = self.hubs.lock().unwrap_or_else(PoisonError::into_inner);
        hubs.retain(|hub, links| {
            let alive = links.last_poll.elapsed() < SILENCE;
            if !alive {
                tracing::info!(%hub, "cloud: a hub stopped polling; its devices are offline here");
                for task in links.devices.values() {
                    task.abort();
                }
            }
            alive
        });
    }

    /// A sync connection of `hub` opened.
    pub fn connected(&self, hub: &str) {
        *self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(hub.to_owned())
            .or_default() += 1;
    }

    /// A sync connection of `hub` ended: with none left, the hub is gone and
    /// its devices are offline here at once.
    pub fn disconnected(&self, hub: &str) {
        let last = {
            let mut connections = self
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let open = connections.entry(hub.to_owned()).or_default();
            *open = open.saturating_sub(1);
            let last = *open == 0;
            if last {
                connections.remove(hub);
            }
            last
        };
        if last {
            self.forget(hub);
        }
    }

    /// Drops `hub`'s links.
    pub fn forget(&self, hub: &str) {
        let gone = self
            .hubs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(hub);
        if let Some(links) = gone {
            for task in links.devices.values() {
                task.abort();
            }
        }
    }

    /// Drops every link and waits for their tasks (the tenant is closing).
    pub async fn close(&self) {
        let hubs: Vec<HubLinks> = self
            .hubs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, links)| links)
            .collect();
        for links in hubs {
            for task in links.devices.values() {
                task.abort();
            }
        }
        self.tasks.close();
        // A poll that came in after the drain may have started one more.
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("cloud: relay links still running after 5 s");
        }
    }
}

/// Holds `device`'s relay link and forwards its commands to `sender`.
async fn forward(devices: Arc<Devices>, device: String, sender: mpsc::Sender<Relayed>) {
    let mut attachment = devices.attach(&device, RELAY_TRANSPORT, SILENCE);
    loop {
        let down = tokio::select! {
            _ = attachment.kicked.cancelled() => return,
            down = attachment.downlink.recv() => match down {
                Some(down) => down,
                None => return,
            },
        };
        let Downlink::Write { pin, values, by } = down;
        let Some(Caller::User(by)) = by else {
            // Bridge writes and the cloud's console do not reach hubs.
            continue;
        };
        let relayed = Relayed {
            device: device.clone(),
            pin: pin.to_string(),
            values,
            by,
        };
        if sender.send(relayed).await.is_err() {
            return;
        }
    }
}
