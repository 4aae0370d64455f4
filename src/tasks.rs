//! Owning long-lived tasks: [`Parts`] holds a hub's or the cloud's
//! listeners and loops, each by name, and says which one ended and how (a
//! panic is reported as a panic, by name). A loop that must run for ever is
//! wrapped in [`restarting`]: when it returns before shutdown (or panics,
//! where panics unwind) it is said by name, counted in [`Restarts`] (which
//! `/metrics` and `/health` show) and started again after a jittered
//! backoff. The release build aborts on a panic (`panic = "abort"`, for
//! size): there a panic ends the process, the journal says where, and
//! systemd starts the hub again (`Restart=on-failure`). It depends only on `backoff` of Hearth's, so every layer may
//! hand its parts to it. It never detaches a task, and [`Parts`] itself
//! never restarts a part: what an ended part means is for the runtime.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;

/// The long-lived parts (listeners, loops): none should end before shutdown.
#[derive(Default)]
pub struct Parts {
    set: JoinSet<()>,
    names: HashMap<tokio::task::Id, &'static str>,
    /// Failures of the parts that restart (and of the node's loops).
    restarts: std::sync::Arc<Restarts>,
}

impl Parts {
    /// Runs `part` until it ends; `name` says which it was if it does.
    pub fn spawn(&mut self, name: &'static str, part: impl Future<Output = ()> + Send + 'static) {
        let task = self.set.spawn(part);
        self.names.insert(task.id(), name);
    }

    /// Runs the loop `make()` makes as a part that must run for ever: see
    /// [`restarting`] (its failures are counted in [`Parts::restarts`]).
    pub fn spawn_restarting<F, Fut>(
        &mut self,
        name: &'static str,
        shutdown: CancellationToken,
        make: F,
    ) where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let restarts = self.restarts.clone();
        self.spawn(name, restarting(name, restarts, shutdown, make));
    }

    /// The failures of every restarting loop of this runtime.
    pub fn restarts(&self) -> &std::sync::Arc<Restarts> {
        &self.restarts
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

/// How often each restarting loop failed, and how, since the start.
#[derive(Debug, Default)]
pub struct Restarts(Mutex<BTreeMap<&'static str, Restart>>);

/// One loop's failures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Restart {
    pub part: &'static str,
    /// Times it failed and was started again.
    pub count: u64,
    /// How it failed last ("panicked: …" or "stopped unexpectedly").
    pub last_failure: String,
}

impl Restarts {
    /// Counts a failure of `part`; the count so far.
    fn record(&self, part: &'static str, failure: &str) -> u64 {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = all.entry(part).or_insert_with(|| Restart {
            part,
            count: 0,
            last_failure: String::new(),
        });
        entry.count += 1;
        failure.clone_into(&mut entry.last_failure);
        entry.count
    }

    /// Every loop that failed at least once, by name.
    pub fn all(&self) -> Vec<Restart> {
        let all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.values().cloned().collect()
    }
}

/// A run shorter than this that fails counts towards a longer wait; one
/// that lasted longer starts again after the first delay.
const STEADY: Duration = Duration::from_secs(60);

/// Runs `make()`'s loop until `shutdown`; each time it panics or returns
/// before `shutdown`, says so as `name`, counts it in `restarts` and runs a
/// new one after a backoff (1 s doubling to a minute, jittered; a run that
/// lasted a minute starts again after the first delay).
pub async fn restarting<F, Fut>(
    name: &'static str,
    restarts: std::sync::Arc<Restarts>,
    shutdown: CancellationToken,
    mut make: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        let started = tokio::time::Instant::now();
        let ended = AssertUnwindSafe(make()).catch_unwind().await;
        if shutdown.is_cancelled() {
            return;
        }
        let failure = match ended {
            Ok(()) => "stopped unexpectedly".to_owned(),
            Err(panic) => format!("panicked: {}", panic_text(panic.as_ref())),
        };
        let count = restarts.record(name, &failure);
        tracing::error!("{name} {failure}; starting it again (failure {count})");
        if started.elapsed() >= STEADY {
            backoff.reset();
        }
        if !backoff.wait(&shutdown).await {
            return;
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loop that panics twice is started again each time, after a backoff,
    /// and its failures are counted with the panic's text; shutdown ends it.
    #[tokio::test(start_paused = true)]
    async fn a_loop_that_panics_is_counted_and_started_again() {
        let began = tokio::time::Instant::now();
        let restarts = std::sync::Arc::new(Restarts::default());
        let shutdown = CancellationToken::new();
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (counted, stop) = (runs.clone(), shutdown.clone());
        let task = tokio::spawn(restarting(
            "retention",
            restarts.clone(),
            shutdown.clone(),
            move || {
                let (counted, stop) = (counted.clone(), stop.clone());
                async move {
                    let run = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if run < 2 {
                        panic!("disk on fire {run}");
                    }
                    stop.cancelled().await;
                }
            },
        ));
        while runs.load(std::sync::atomic::Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Two backoffs (1 s, then 2 s, each jittered to at least half).
        assert!(
            began.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(
            restarts.all(),
            [Restart {
                part: "retention",
                count: 2,
                last_failure: "panicked: disk on fire 1".into(),
            }]
        );
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "not started after shutdown"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_returns_before_shutdown_is_started_again() {
        let restarts = std::sync::Arc::new(Restarts::default());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let mut runs = 0;
        restarting("listener", restarts.clone(), shutdown.clone(), move || {
            runs += 1;
            if runs == 3 {
                stop.cancel();
            }
            async {}
        })
        .await;
        assert_eq!(restarts.all()[0].count, 2);
        assert_eq!(restarts.all()[0].last_failure, "stopped unexpectedly");
    }

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
