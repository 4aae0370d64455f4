//! Where the repo's tasks run ([`RepoTasks`]): samod's loops, and the
//! writer of every sync connection handed to the repo, are spawned into a
//! tracker the replica owns, so shutdown ends and joins them. It never
//! lets a task outlive [`Replica::shutdown`](super::Replica::shutdown) beyond
//! its bounded wait.

/// Where the repo's tasks run: samod spawns its loops (IO, actors, a
/// 100 ms connector tick) for as long as the process lives, even after
/// `stop`; spawned here they are the replica's, ended and joined by
/// [`Replica::shutdown`](super::Replica::shutdown).
#[derive(Clone, Default)]
pub struct RepoTasks {
    pub(super) tracker: tokio_util::task::TaskTracker,
    stop: tokio_util::sync::CancellationToken,
}

impl RepoTasks {
    /// Ends every task (after the repo stopped) and waits for them, a
    /// little at most.
    pub(crate) async fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("tenancy: the repo's tasks did not end");
        }
    }
}

impl RepoTasks {
    /// Runs `part` (a sync connection's writer) as one of the repo's tasks:
    /// it ends when it is done or when the replica shuts down.
    pub fn spawn_part(&self, part: impl Future<Output = ()> + Send + 'static) {
        samod::runtime::RuntimeHandle::spawn(self, Box::pin(part));
    }

    /// How many of the repo's tasks are running.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }
}

impl samod::runtime::RuntimeHandle for RepoTasks {
    fn spawn(&self, f: std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = f => {}
            }
        });
    }

    fn sleep(
        &self,
        duration: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}
