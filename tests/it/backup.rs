//! `hearth backup` on a running hub and `hearth restore` on a stopped one:
//! the restored hub is the same hub (id, certificate) with the same data.

use crate::common;
use common::{HubProcess, TEST_CONFIG, hearth_output};

#[test]
fn backup_of_a_running_hub_restores_the_same_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let archive = tmp.path().join("hub.tar");
    let state_arg = state.to_str().unwrap();
    let archive_arg = archive.to_str().unwrap();

    let mut hub = HubProcess::start(&state, TEST_CONFIG);
    let before = hub.health();
    let fingerprint = hub.fingerprint();

    let (status, stdout, stderr) =
        hearth_output(&["backup", archive_arg, "--state-dir", state_arg]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("backed up"), "{stdout}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the archive holds the TLS key and credential hashes"
        );
    }

    let (status, _, stderr) = hearth_output(&["restore", archive_arg, "--state-dir", state_arg]);
    assert!(!status.success(), "restore must refuse a running hub");
    assert!(stderr.contains("stop it before restoring"), "{stderr}");
    assert!(hub.terminate().0.success());

    // Lose everything, then restore.
    std::fs::remove_dir_all(&state).unwrap();
    let (status, stdout, stderr) =
        hearth_output(&["restore", archive_arg, "--state-dir", state_arg]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("restored"), "{stdout}");

    let mut again = HubProcess::start(&state, TEST_CONFIG);
    assert_eq!(again.health()["hub_id"], before["hub_id"]);
    assert_eq!(
        again.fingerprint(),
        fingerprint,
        "the certificate came back too"
    );
    assert!(again.terminate().0.success());

    // The restore was counted, so sequences handed out later cannot repeat,
    // even when the same archive is restored again at once.
    let epoch = || -> i64 {
        let db = rusqlite::Connection::open(state.join("hearth.db")).unwrap();
        db.query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'restore_epoch'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let first = epoch();
    assert!(first >= 1, "{first}");
    let (status, _, stderr) = hearth_output(&["restore", archive_arg, "--state-dir", state_arg]);
    assert!(status.success(), "{stderr}");
    assert!(
        epoch() > first,
        "a second restore of one archive moves the epoch on"
    );
}

#[test]
fn backup_of_a_directory_without_state_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.tar");
    let (status, _, stderr) = hearth_output(&[
        "backup",
        out.to_str().unwrap(),
        "--state-dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(!status.success());
    assert!(stderr.contains("holds no hub state"), "{stderr}");
    assert!(!out.exists());
}

/// A downgraded binary meets state a newer hearth migrated: it refuses to
/// start (exit 78, which the unit does not restart), says which version is
/// needed and which backup to restore, and leaves the state as it was.
#[test]
fn a_hub_refuses_state_from_a_newer_hearth_and_names_the_version_and_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut hub = HubProcess::start(&state, TEST_CONFIG);
    assert!(hub.terminate().0.success());

    // As an upgrade would leave it: a backup of the older state in backups/,
    // the database one schema further, migrated by "hearth 9.9.0".
    let backups = state.join("backups");
    std::fs::create_dir(&backups).unwrap();
    let db = state.join("hearth.db");
    let known: u32 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let archive = backups.join(format!("before-upgrade-schema{known}-1796630000000.tar"));
    let (status, _, stderr) = hearth_output(&[
        "backup",
        archive.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert!(status.success(), "{stderr}");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA user_version = {};
             UPDATE meta SET value = '9.9.0' WHERE key = 'migrated_by';",
            known + 1
        ))
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();

    let config = state.with_extension("toml");
    let out = common::hearth_run(&config, &state).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("Install hearth 9.9.0 or newer"), "{stderr}");
    assert!(
        stderr.contains(&format!("hearth restore {}", archive.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the state is untouched"
    );
}
