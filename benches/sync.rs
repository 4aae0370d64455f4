//! Sync benchmarks (print numbers; assert nothing):
//!
//! 1. Partition: two replicas of one household, apart, each make 1,000
//!    sharing operations; then they reconnect: time to converge and bytes
//!    exchanged, against the size of the changes themselves (targets: under
//!    1 s, under 3x the changes).
//! 2. Cold sync of a household with 10,000 devices and 1,000 users to a
//!    newly enrolled replica: time and bytes.
//! 3. Outbox drain: the real cloud and hub processes; an hour of a house at
//!    100 values/s (360,000 values) waits in the hub's outbox (queued while
//!    the hub was stopped, as its history writer queues them); then the
//!    cloud comes back: drain time and the cloud's ingest rate.
//!
//! 1 and 2 run two replicas in this process (each its own SQLite store and
//! samod repo, as on two hubs), joined by an in-memory transport that
//! counts the bytes of every sync message; 3 runs the release binaries.
//! `cargo bench --bench sync`.

#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/api.rs"]
mod api;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/cloud.rs"]
mod cloud;
#[allow(dead_code)] // a benchmark uses a part of the test harness
#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "support/tenant.rs"]
mod tenant;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hearth::node::SCHEMA;
use hearth::store::Store;
use hearth::tenancy::policy::hub_peer;
use hearth::tenancy::{Caller, Replica};
use samod::{AcceptorHandle, BackoffConfig, DialError, Dialer, PeerId, Transport};

const OPS_PER_SIDE: usize = 1_000;

/// Dials the other replica's acceptor through an in-memory pipe whose
/// every message is counted.
struct CountingDialer {
    acceptor: AcceptorHandle,
    /// The dialer's own peer id, which the acceptor expects.
    dialer: PeerId,
    accepted: PeerId,
    bytes: Arc<AtomicU64>,
}

impl Dialer for CountingDialer {
    type Error = Infallible;

    fn url(&self) -> url::Url {
        url::Url::parse("memory://bench").unwrap()
    }

    fn connect(
        &self,
    ) -> futures::future::BoxFuture<'static, Result<Transport, DialError<Infallible>>> {
        let (to_acceptor, from_dialer) = futures::channel::mpsc::unbounded::<Vec<u8>>();
        let (to_dialer, from_acceptor) = futures::channel::mpsc::unbounded::<Vec<u8>>();
        let count = |bytes: Arc<AtomicU64>| {
            move |msg: Vec<u8>| {
                bytes.fetch_add(msg.len() as u64, Ordering::Relaxed);
                Ok::<_, std::io::Error>(msg)
            }
        };
        let accepted = Transport::new(from_dialer.map(count(self.bytes.clone())), to_dialer)
            .with_expected_peer_id(self.dialer.clone());
        let ours = Transport::new(from_acceptor.map(count(self.bytes.clone())), to_acceptor)
            .with_expected_peer_id(self.accepted.clone());
        let acceptor = self.acceptor.clone();
        Box::pin(async move {
            acceptor
                .accept(accepted)
                .map_err(|_| DialError::TransientFailure("stopped".into()))?;
            Ok(ours)
        })
    }
}

struct Node {
    replica: Arc<Replica>,
    store: Store,
    thread: hearth::store::StoreThread,
    peer: PeerId,
    _dir: tempfile::TempDir,
}

async fn node(name: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, _) = Store::open(dir.path(), 512, SCHEMA).unwrap();
    let peer = hub_peer(name);
    let replica = Arc::new(
        Replica::open_as(store.clone(), name, peer.clone())
            .await
            .unwrap(),
    );
    Node {
        replica,
        store,
        thread,
        peer,
        _dir: dir,
    }
}

impl Node {
    async fn close(self) {
        self.replica.shutdown().await;
        self.store.close().await;
        self.thread.join().await;
    }
}

/// Connects `from` to `to` (dialing); returns the dialer and its byte count.
fn connect(from: &Node, to: &Node) -> (samod::DialerHandle, Arc<AtomicU64>) {
    let bytes = Arc::new(AtomicU64::new(0));
    let acceptor = to
        .replica
        .repo()
        .make_acceptor(url::Url::parse("memory://bench").unwrap())
        .unwrap();
    let dialer = CountingDialer {
        acceptor,
        dialer: from.peer.clone(),
        accepted: to.peer.clone(),
        bytes: bytes.clone(),
    };
    let handle = from
        .replica
        .repo()
        .dial(BackoffConfig::default(), Arc::new(dialer))
        .unwrap();
    (handle, bytes)
}

async fn converged(a: &Node, b: &Node, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if a.replica.heads().is_some() && a.replica.heads() == b.replica.heads() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn partition() {
    let a = node("bench-a").await;
    let b = node("bench-b").await;
    let founded = a
        .replica
        .found("Home", "admin@bench.test", tenant::NOW)
        .await
        .unwrap();
    let (link, _) = connect(&b, &a);
    b.replica.adopt(a.replica.doc_ids().unwrap()).await.unwrap();
    converged(&a, &b, Duration::from_secs(30)).await.unwrap();
    link.close();
    let before = a.replica.heads().unwrap()[0].clone();

    let console = Caller::Console;
    let root = founded.root_org.clone();
    let mut ops = 0;
    for (side, replica) in [("A", &a.replica), ("B", &b.replica)] {
        let mut devices = Vec::new();
        while devices.len() < OPS_PER_SIDE / 2 {
            let name = format!("{side} device {}", devices.len());
            let id = replica
                .apply(|t| t.add_device(&console, &root, &name, None, tenant::NOW))
                .await
                .unwrap();
            devices.push(id);
            ops += 1;
        }
        for (i, device) in devices.iter().enumerate() {
            let name = format!("{side} renamed {i}");
            replica
                .apply(|t| t.rename_device(&console, device, &name, tenant::NOW))
                .await
                .unwrap();
            ops += 1;
        }
    }
    let changes = a.replica.change_bytes_since(&before) + b.replica.change_bytes_since(&before);

    let started = Instant::now();
    let (link, bytes) = connect(&b, &a);
    let took = converged(&a, &b, Duration::from_secs(60)).await;
    let exchanged = bytes.load(Ordering::Relaxed);
    match took {
        Some(_) => println!(
            "partition: {ops} sharing operations ({OPS_PER_SIDE} per side) converged in {:.1} ms; \
             {exchanged} bytes exchanged for {changes} bytes of changes ({:.2}x; targets < 1 s, < 3x)",
            started.elapsed().as_secs_f64() * 1000.0,
            exchanged as f64 / changes as f64
        ),
        None => println!("partition: NOT converged within 60 s ({exchanged} bytes exchanged)"),
    }
    // Stop dialing before the other side stops (samod 0.16 panics when a
    // dialer hands a connection to a stopped repo's acceptor).
    link.close();
    b.close().await;
    a.close().await;
}

async fn cold_sync() {
    let built = tenant::Builder::build(&tenant::Size {
        orgs: 50,
        users: 1_000,
        devices: 10_000,
        history: 0,
    });
    let ops = built.ops;
    let doc = built.t.into_doc();
    let a = node("bench-cold-a").await;
    a.replica.install(doc).await.unwrap();
    let saved = a
        .replica
        .with_state(|s| (s.devices().len(), s.users().len()))
        .unwrap();
    let b = node("bench-cold-b").await;
    let started = Instant::now();
    let (link, bytes) = connect(&b, &a);
    b.replica.adopt(a.replica.doc_ids().unwrap()).await.unwrap();
    let adopted = started.elapsed();
    let took = converged(&a, &b, Duration::from_secs(120)).await;
    let exchanged = bytes.load(Ordering::Relaxed);
    let seen = b
        .replica
        .with_state(|s| (s.devices().len(), s.users().len()))
        .unwrap();
    println!(
        "cold sync: a household of {} devices and {} users ({ops} operations) reached a new \
         replica in {:.0} ms (adopted after {:.0} ms{}); {:.2} MiB exchanged; it sees {} devices, {} users",
        saved.0,
        saved.1,
        started.elapsed().as_secs_f64() * 1000.0,
        adopted.as_secs_f64() * 1000.0,
        if took.is_some() {
            ""
        } else {
            ", NOT converged"
        },
        mib(exchanged),
        seen.0,
        seen.1
    );
    link.close();
    b.close().await;
    a.close().await;
}

fn outbox_drain() {
    const VALUES: usize = 360_000;
    let tmp = tempfile::tempdir().unwrap();
    let mut cloud = cloud::CloudProcess::start(&tmp.path().join("cloud"));
    let hub_dir = tmp.path().join("hub");
    let mut home = api::household_with(&hub_dir, &cloud::hub_config());
    let sensor = home.device(&home.root, "Sensor");
    cloud::link(&home, &cloud);
    cloud::wait_in_sync(&home);
    cloud.process.terminate();
    home.hub.terminate();

    // An hour at 100 values/s while the cloud was away, queued the way the
    // hub's history writer queues them (one row per value, in order).
    let started = Instant::now();
    {
        let mut db = rusqlite::Connection::open(hub_dir.join("hearth.db")).unwrap();
        let tx = db.transaction().unwrap();
        let hour_ago = 1_800_000_000_000i64;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO outbox (epoch, device, pin, value, at) VALUES (0, ?1, 'V1', ?2, ?3)",
                )
                .unwrap();
            for i in 0..VALUES {
                insert
                    .execute(rusqlite::params![
                        sensor,
                        (i % 100).to_string(),
                        hour_ago + i as i64 * 10
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let queued = started.elapsed();
    home.hub = common::HubProcess::start(&hub_dir, &cloud::hub_config());
    home.api = api::Api::new(home.hub.api_port(), &home.hub.fingerprint());
    let depth = || {
        home.api.get("/sync/status", Some(&home.admin)).body["outbox"]["depth"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(depth(), VALUES as u64);

    let cloud = cloud.restart();
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(900);
    while depth() > 0 {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        std::thread::sleep(Duration::from_millis(50));
    }
    let drained = started.elapsed();
    println!(
        "outbox drain: {VALUES} values (an hour at 100/s, queued in {:.1} s) drained to the \
         cloud in {:.1} s: {:.0} values/s ingested, each batch of 2,000 acknowledged only once \
         durable there",
        queued.as_secs_f64(),
        drained.as_secs_f64(),
        VALUES as f64 / drained.as_secs_f64()
    );
    drop(cloud);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(partition());
    runtime.block_on(cold_sync());
    outbox_drain();
}
