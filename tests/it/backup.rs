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
