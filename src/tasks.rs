//! Owning long-lived tasks: [`Parts`] holds a hub's or the cloud's
//! listeners and loops, each by name, and says which one ended and how (a
//! panic is reported as a panic, by name). It depends on nothing of Hearth's,
//! so every layer may hand its parts to it. It never restarts a part that ended and never
//! detaches one: what an ended part means is for the runtime to decide.

use std::collections::HashMap;

use tokio::task::JoinSet;

/// The long-lived parts (listeners, loops): none should end before shutdown.
#[derive(Default)]
pub struct Parts {
    set: JoinSet<()>,
    names: HashMap<tokio::task::Id, &'static str>,
}

impl Parts {
    /// Runs `part` until it ends; `name` says which it was if it does.
    pub fn spawn(&mut self, name: &'static str, part: impl Future<Output = ()> + Send + 'static) {
        let task = self.set.spawn(part);
        self.names.insert(task.id(), name);
    }

    /// The next part that ended, said with its name and how (`None` when
    /// none is left).
    pub async fn next_ended(&mut self) -> Option<(String, bool)> {
        let joined = self.set.join_next_with_id().await?;
        let name = |id| self.names.get(&id).copied().unwrap_or("a part");
        Some(match joined {
            Ok((id, ())) => (format!("{} stopped unexpectedly", name(id)), false),
            Err(e) if e.is_panic() => (format!("{} panicked: {e}", name(e.id())), true),
            Err(e) => (format!("{} was cancelled", name(e.id())), false),
        })
    }

    /// Stops every part still running.
    pub fn abort_all(&mut self) {
        self.set.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_part_that_ends_or_panics_is_named_with_how() {
        let mut parts = Parts::default();
        parts.spawn("quiet loop", async {});
        let (said, panicked) = parts.next_ended().await.unwrap();
        assert_eq!(said, "quiet loop stopped unexpectedly");
        assert!(!panicked);

        parts.spawn("history retention", async { panic!("disk on fire") });
        let (said, panicked) = parts.next_ended().await.unwrap();
        assert!(said.starts_with("history retention panicked: "), "{said}");
        assert!(said.contains("disk on fire"), "{said}");
        assert!(panicked);
        assert!(parts.next_ended().await.is_none());
    }
}
