//! The hub in-process (`Hub::spawn`), for what a subprocess cannot show:
//! which tasks a failed start leaves behind.

use hearth::config::Config;
use hearth::hub::Hub;
use hearth::runtime::StartError;
use hearth::state_dir::StateDir;

/// An API address already taken fails the start before anything is opened
/// or started: no task is left running and the state directory's lock is
/// released (before, sync links, the replica and the history writer kept
/// running with the store open).
#[tokio::test]
async fn a_start_whose_api_cannot_bind_leaves_no_task_and_releases_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let text = crate::common::TEST_CONFIG.replace(
        "[api]\nlisten = \"127.0.0.1:0\"",
        &format!("[api]\nlisten = \"{}\"", taken.local_addr().unwrap()),
    );
    let config = Config::parse(&text, std::path::Path::new("test.toml")).unwrap();
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(metrics.num_alive_tasks(), 0);

    let started = Hub::spawn(config, tmp.path().to_owned()).await;
    assert!(
        matches!(started, Err(StartError::Bind(_))),
        "{:?}",
        started.err()
    );

    no_task_left().await;
    StateDir::acquire(tmp.path()).expect("the lock is released");
}

/// Every task a hub starts is owned: after `shutdown` none is left running
/// (listeners, connections' tracker, the household's parts, sync links and
/// their telemetry delivery, retention, the replica's repo).
#[tokio::test]
async fn a_hub_that_shut_down_leaves_no_task_running() {
    let tmp = tempfile::tempdir().unwrap();
    let config = Config::parse(
        crate::common::TEST_CONFIG,
        std::path::Path::new("test.toml"),
    )
    .unwrap();
    let metrics = tokio::runtime::Handle::current().metrics();
    let hub = Hub::spawn(config, tmp.path().to_owned()).await.unwrap();
    assert!(metrics.num_alive_tasks() > 0, "the hub runs its parts");
    hub.shutdown().await;
    no_task_left().await;
    StateDir::acquire(tmp.path()).expect("the lock is released");
}

/// A hub with a stored link to the cloud runs its dialer, the link's state
/// watcher, telemetry delivery and the command poll; after `shutdown` none
/// of them is left (they were spawned detached, kept only as abort handles).
#[tokio::test]
async fn a_hub_with_a_cloud_link_leaves_no_link_task_after_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let config = || {
        Config::parse(
            crate::common::TEST_CONFIG,
            std::path::Path::new("test.toml"),
        )
        .unwrap()
    };
    // The first start creates the schema; the link is stored between runs.
    Hub::spawn(config(), tmp.path().to_owned())
        .await
        .unwrap()
        .shutdown()
        .await;
    no_task_left().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", closed.local_addr().unwrap());
    drop(closed);
    let db = rusqlite::Connection::open(tmp.path().join(hearth::store::DB_FILE)).unwrap();
    db.execute(
        "INSERT INTO sync_uplinks (url, token, fingerprint, peer, linked) VALUES (?1, 'tok', NULL, 'cloud', 0)",
        [&url],
    )
    .unwrap();
    drop(db);

    let metrics = tokio::runtime::Handle::current().metrics();
    let hub = Hub::spawn(config(), tmp.path().to_owned()).await.unwrap();
    // Its tasks are spawned when the stored link is dialed, during start.
    assert!(hub.sync().status().iter().any(|l| l.peer == "cloud"));
    assert!(metrics.num_alive_tasks() > 0);
    hub.shutdown().await;
    no_task_left().await;
}

/// No tokio task is alive once a start failed or `shutdown` returned: the
/// close waited for every one (no waiting here: on this single-threaded
/// test runtime a task that ended is gone by the time its joiner runs).
async fn no_task_left() {
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(alive, 0, "{alive} tasks still running after the hub closed");
}

/// A loop that must run for ever and panics is started again, and the hub
/// says so: `/health` is `degraded` with the count, `/metrics` names the
/// loop (on a node in-process, its loop made to panic once; the clock is
/// paused once the node is open, for the restart's back-off).
#[tokio::test]
async fn a_restarted_loop_shows_in_health_and_metrics() {
    let hub = crate::in_process::InProcess::open().await;
    tokio::time::pause();
    let (_, health) = hub.call("GET", "/health", None, None).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["part_restarts"], 0);

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut runs = 0;
    let stop = shutdown.clone();
    hearth::tasks::restarting(
        "test loop",
        hub.node.restarts.clone(),
        shutdown.clone(),
        move || {
            runs += 1;
            let (first, stop) = (runs == 1, stop.clone());
            async move {
                if first {
                    panic!("once");
                }
                stop.cancel();
            }
        },
    )
    .await;

    let (_, health) = hub.call("GET", "/health", None, None).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["part_restarts"], 1);
    let metrics = hub
        .request("GET", "/metrics", "127.0.0.1:50000", None, None)
        .await;
    assert_eq!(metrics.status, 200);
    let text = metrics.body.as_str().unwrap().to_owned();
    assert!(
        text.contains("hearth_part_restarts_total{part=\"test loop\"} 1"),
        "{text}"
    );
    hub.close().await;
}
