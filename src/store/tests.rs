//! Unit tests of the store: batched and durable writes, identity, schema, backup and restore;
//! each opens its own temporary directory and never touches a real state directory.

use super::*;
use crate::node::SCHEMA;

fn open(dir: &Path) -> (Store, StoreThread, Identity) {
    Store::open(dir, 64, SCHEMA).unwrap()
}

#[tokio::test]
async fn queued_writes_share_one_transaction_and_durable_ones_fsync() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, thread, _) = open(tmp.path());
    store
        .write(Durability::Relaxed, |c| {
            c.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
        })
        .await
        .unwrap();
    let before = store.stats().transactions.load(Ordering::Relaxed);

    // Hold the store thread inside a read until 40 writes are queued behind it.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let blocker = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .read(move |_| {
                    release_rx.recv().ok();
                    Ok(())
                })
                .await
        }
    });
    let mut writers = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        let durability = if i == 7 {
            Durability::Acknowledged
        } else {
            Durability::Relaxed
        };
        writers.push(tokio::spawn(async move {
            store
                .write(durability, move |c| {
                    c.execute("INSERT INTO t VALUES (?1)", [i])
                })
                .await
        }));
    }
    while store.tx.capacity() > store.tx.max_capacity() - 40 {
        tokio::task::yield_now().await;
    }
    release_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for w in writers {
        assert_eq!(w.await.unwrap().unwrap(), 1);
    }
    let after = store.stats().transactions.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        1,
        "40 queued writes must commit as one transaction"
    );
    assert_eq!(
        store.stats().durable_transactions.load(Ordering::Relaxed),
        1
    );
    let n: i64 = store
        .read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
        .await
        .unwrap();
    assert_eq!(n, 40);
    drop(store);
    thread.join().await;
}

#[tokio::test]
async fn a_failing_write_does_not_undo_its_batch_neighbours() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, thread, _) = open(tmp.path());
    store
        .write(Durability::Relaxed, |c| {
            c.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
        })
        .await
        .unwrap();
    let a = store.write(Durability::Relaxed, |c| {
        c.execute("INSERT INTO t VALUES (1)", [])
    });
    let b = store.write(Durability::Relaxed, |c| {
        c.execute("INSERT INTO t VALUES (2)", [])?;
        c.execute("INSERT INTO nope VALUES (3)", [])
    });
    let c = store.write(Durability::Relaxed, |c| {
        c.execute("INSERT INTO t VALUES (4)", [])
    });
    let (a, b, c) = tokio::join!(a, b, c);
    assert!(a.is_ok() && c.is_ok());
    assert!(b.unwrap_err().to_string().contains("no such table"));
    let rows: Vec<i64> = store
        .read(|c| {
            let mut s = c.prepare("SELECT v FROM t ORDER BY v")?;
            s.query_map([], |r| r.get(0))?.collect()
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![1, 4],
        "the failed job's own insert of 2 is rolled back"
    );
    drop(store);
    thread.join().await;
}

#[tokio::test]
async fn identity_survives_reopen_and_newer_schema_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(tmp.path());
    drop(store);
    thread.join().await;
    let (store, thread, again) = open(tmp.path());
    assert_eq!(first.hub_id, again.hub_id);
    assert_eq!(first.hub_id.len(), 32);
    store
        .write(Durability::Acknowledged, |c| {
            c.execute_batch("PRAGMA user_version = 999")
        })
        .await
        .unwrap();
    drop(store);
    thread.join().await;
    let err = Store::open(tmp.path(), 8, SCHEMA)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("schema version 999"), "{err}");
    assert!(err.contains("newer, or restore a backup"), "{err}");
}

#[tokio::test]
async fn restore_refuses_a_running_hub_and_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let lock = crate::state_dir::StateDir::acquire(&state).unwrap();
    let (store, thread, _) = open(&state);
    let archive = tmp.path().join("b.tar");
    backup(&state, &archive).unwrap();
    let err = restore(&state, &archive, SCHEMA).unwrap_err().to_string();
    assert!(err.contains("a hub is running"), "{err}");
    drop(store);
    thread.join().await;
    drop(lock);

    let junk = tmp.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all, just bytes").unwrap();
    let err = restore(&state, &junk, SCHEMA).unwrap_err().to_string();
    assert!(err.contains("is not a hearth backup"), "{err}");
    assert!(
        state.join(DB_FILE).is_file(),
        "a bad archive leaves the state alone"
    );
}

#[tokio::test]
async fn restored_files_belong_to_the_state_directory_owner() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    crate::state_dir::create_private_dir(&state).unwrap();
    let (store, thread, _) = open(&state);
    drop(store);
    thread.join().await;
    use crate::api::tls::authority::{Authority, CA_KEY_FILE};
    let authority = Authority::load_or_create(&state).unwrap().fingerprint();
    let archive = tmp.path().join("b.tar");
    backup(&state, &archive).unwrap();
    // The backup holds the hub's authority: restored, it is the same one
    // (browsers that trusted it and apps that pinned it keep working).
    std::fs::remove_dir_all(state.join("tls")).unwrap();
    // The service user owns the directory; root runs the restore (needs root).
    const SERVICE_UID: u32 = 65534;
    std::os::unix::fs::chown(&state, Some(SERVICE_UID), Some(SERVICE_UID))
        .expect("this test needs root, as CI has");
    restore(&state, &archive, SCHEMA).unwrap();
    assert_eq!(
        Authority::load_or_create(&state).unwrap().fingerprint(),
        authority
    );
    for file in [DB_FILE, "tls", CA_KEY_FILE] {
        let meta = std::fs::metadata(state.join(file)).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (SERVICE_UID, SERVICE_UID),
            "{file}"
        );
    }
}

#[tokio::test]
async fn close_stops_the_thread_while_handles_remain() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, thread, _) = open(tmp.path());
    let kept = store.clone();
    let write = store.write(Durability::Relaxed, |c| {
        c.execute_batch("CREATE TABLE t (v INTEGER)")
    });
    let (written, ()) = tokio::join!(write, store.close());
    written.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), thread.join())
        .await
        .expect("the thread stops although handles remain");
    assert!(matches!(kept.ping().await, Err(StoreError::Stopped)));
}

/// A schema of the first `n` of a growing list of migrations (each adds a
/// column), so one test can upgrade a database step by step.
fn schema_of(n: usize) -> Schema {
    let steps: Vec<&'static str> = (0..n)
        .map(|i| {
            let sql = if i == 0 {
                "CREATE TABLE t (v INTEGER) STRICT;".to_owned()
            } else {
                format!("ALTER TABLE t ADD COLUMN c{i} INTEGER;")
            };
            &*Box::leak(sql.into_boxed_str())
        })
        .collect();
    Box::leak(steps.into_boxed_slice())
}

fn upgrade_backups(state: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(state.join(backup::UPGRADE_BACKUPS))
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn an_upgrade_backs_the_state_up_first_and_a_downgrade_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    crate::state_dir::create_private_dir(&state).unwrap();
    let (store, thread, _) = Store::open(&state, 8, schema_of(1)).unwrap();
    store
        .write(Durability::Acknowledged, |c| {
            c.execute("INSERT INTO t (v) VALUES (7)", []).map(drop)
        })
        .await
        .unwrap();
    drop(store);
    thread.join().await;
    let (store, thread, _) = Store::open(&state, 8, schema_of(1)).unwrap();
    drop(store);
    thread.join().await;
    assert!(
        upgrade_backups(&state).is_empty(),
        "no migration, no backup"
    );

    // Upgrade: schema 2 -> 3, backed up first.
    let (store, thread, _) = Store::open(&state, 8, schema_of(2)).unwrap();
    drop(store);
    thread.join().await;
    let taken = upgrade_backups(&state);
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert!(taken[0].starts_with("before-upgrade-schema2-"), "{taken:?}");
    let archive = state.join(backup::UPGRADE_BACKUPS).join(&taken[0]);

    // Downgrade: refused, names the version and the backup, changes nothing.
    let err = Store::open(&state, 8, schema_of(1)).err().unwrap();
    let message = err.to_string();
    assert!(
        message.contains(&format!("hearth {} or newer", env!("CARGO_PKG_VERSION"))),
        "{message}"
    );
    assert!(
        message.contains(&format!("hearth restore {}", archive.display())),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    let conn = Connection::open(state.join(DB_FILE)).unwrap();
    assert_eq!(migrations::found(&conn).unwrap(), 3);
    drop(conn);

    // The backup is the state before the upgrade: schema 2, the row.
    let back = tmp.path().join("back");
    restore(&back, &archive, schema_of(1)).unwrap();
    let (store, thread, _) = Store::open(&back, 8, schema_of(1)).unwrap();
    let (version, v) = store
        .read(|c| {
            Ok((
                migrations::found(c)?,
                c.query_row("SELECT v FROM t", [], |r| r.get::<_, i64>(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((version, v), (2, 7));
    drop(store);
    thread.join().await;

    // Only the newest three are kept; a restore keeps them all.
    for n in 3..=5 {
        let (store, thread, _) = Store::open(&state, 8, schema_of(n)).unwrap();
        drop(store);
        thread.join().await;
    }
    let kept = upgrade_backups(&state);
    let schemas: Vec<&str> = kept
        .iter()
        .map(|name| name.split('-').nth(2).unwrap())
        .collect();
    assert_eq!(
        schemas,
        ["schema3", "schema4", "schema5"],
        "the oldest went: {kept:?}"
    );
    let manual = tmp.path().join("manual.tar");
    backup(&state, &manual).unwrap();
    restore(&state, &manual, schema_of(5)).unwrap();
    assert_eq!(upgrade_backups(&state), kept);
}
