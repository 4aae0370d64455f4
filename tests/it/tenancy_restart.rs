//! A sharing operation that returned success survives `kill -9`: the test
//! re-runs its own binary as a child that founds a household, invites a
//! member, adds a device and issues its auth token (credentials document),
//! prints the ids once they returned, and waits; the parent kills it with
//! SIGKILL and reloads the state directory.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hearth::node::SCHEMA;
use hearth::state_dir::StateDir;
use hearth::store::Store;
use hearth::tenancy::{Caller, Replica};

const CHILD_DIR: &str = "HEARTH_TEST_RESTART_CHILD";
const NOW: i64 = 1_700_000_000_000;

async fn open(dir: &std::path::Path) -> (StateDir, Replica, Store) {
    let lock = StateDir::acquire(dir).unwrap();
    let (store, _thread, identity) = Store::open(dir, 64, SCHEMA).unwrap();
    let replica = Replica::open(store.clone(), &identity.hub_id)
        .await
        .unwrap();
    (lock, replica, store)
}

/// The child: do the operations, report, then wait to be killed.
async fn child(dir: &str) {
    let (_lock, replica, _store) = open(std::path::Path::new(dir)).await;
    let founded = replica
        .found("Home", "admin@example.org", NOW)
        .await
        .unwrap();
    let admin = Caller::user(&founded.admin);
    let invited = replica
        .apply(|t| t.invite(&admin, "spouse@example.org", &founded.root_org, "user", NOW))
        .await
        .unwrap();
    let device = replica
        .apply(|t| t.add_device(&admin, &founded.root_org, "Garage door", None, NOW))
        .await
        .unwrap();
    let token = replica
        .issue_device_token(&admin, &device, NOW)
        .await
        .unwrap();
    // Straight to the real stdout: print! inside a test may be captured by libtest.
    let mut out = std::io::stdout();
    writeln!(
        out,
        "DONE {} {} {device} {token}",
        founded.admin, invited.membership
    )
    .unwrap();
    out.flush().unwrap();
    // Wait to be killed; if the parent dies first, its end of stdin closes.
    let _ = std::io::Read::read(&mut std::io::stdin(), &mut [0u8; 1]);
}

#[tokio::test]
async fn an_acknowledged_operation_survives_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return child(&dir).await;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tenancy_restart::an_acknowledged_operation_survives_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = proc.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may have written "test <name> ... " on the same line.
            if let Some((_, ids)) = line.split_once("DONE ") {
                let _ = tx.send(ids.to_owned());
            }
        }
    });
    let ids = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the child reported its operations");
    proc.kill().unwrap(); // SIGKILL: no shutdown, no flush
    proc.wait().unwrap();
    let [admin, membership, device, token] = ids.split(' ').collect::<Vec<_>>()[..] else {
        panic!("unexpected report {ids:?}");
    };

    let (_lock, replica, store) = open(tmp.path()).await;
    let state = replica
        .state()
        .expect("the household is there after the crash");
    assert!(state.users().contains_key(admin));
    let m = &state.memberships()[membership];
    assert_eq!(state.users()[&m.user].email, "spouse@example.org");
    assert!(!m.removed);
    assert!(state.devices().contains_key(device));
    let authenticated = replica
        .with_credentials(|c| c.device_for_token(token).map(str::to_owned))
        .unwrap();
    assert_eq!(
        authenticated.as_deref(),
        Some(device),
        "the issued token works"
    );
    // The crash left the durable change log in place (no clean compaction).
    let logged: i64 = store
        .read(|c| c.query_row("SELECT count(*) FROM tenancy_changes", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(
        logged, 5,
        "founding, credentials document, invite, device and token were logged before they returned"
    );
    replica.shutdown().await;
    let logged: i64 = store
        .read(|c| c.query_row("SELECT count(*) FROM tenancy_changes", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(logged, 0, "a clean stop compacts the log");
}
