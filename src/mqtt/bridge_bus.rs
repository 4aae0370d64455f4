//! What bridges on Hearth's listener say to each other: a message one
//! connection of a bridge publishes under `home/<its name>/` reaches the
//! other connections of the same bridge that subscribed to it (Theengs
//! Gateway decodes what a scanner publishes to `…/BTtoMQTT/undecoded`).
//! Never across bridges, never to devices.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// A message for a bridge connection: topic and payload.
pub type Message = (String, bytes::Bytes);

struct Member {
    id: u64,
    bridge: String,
    filters: Vec<String>,
    tx: mpsc::Sender<Message>,
}

#[derive(Default)]
pub struct BridgeBus {
    members: Mutex<Vec<Member>>,
    next: AtomicU64,
}

impl BridgeBus {
    /// Joins `bridge`'s connections; the id is for [`BridgeBus::subscribe`]
    /// and [`BridgeBus::leave`].
    pub fn join(&self, bridge: &str) -> (u64, mpsc::Receiver<Message>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(256);
        self.lock().push(Member {
            id,
            bridge: bridge.to_owned(),
            filters: Vec::new(),
            tx,
        });
        (id, rx)
    }

    pub fn subscribe(&self, id: u64, filter: &str) {
        if let Some(m) = self.lock().iter_mut().find(|m| m.id == id) {
            m.filters.push(filter.to_owned());
        }
    }

    pub fn leave(&self, id: u64) {
        self.lock().retain(|m| m.id != id);
    }

    /// Hands `topic` from connection `from` of `bridge` to its other
    /// subscribed connections; a connection too slow to take it misses it.
    pub fn publish(&self, from: u64, bridge: &str, topic: &str, payload: &bytes::Bytes) {
        for m in self.lock().iter() {
            if m.id != from
                && m.bridge == bridge
                && m.filters.iter().any(|f| rumqttc::matches(topic, f))
            {
                let _ = m.tx.try_send((topic.to_owned(), payload.clone()));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}
