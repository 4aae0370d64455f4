//! Under systemd, logs go to the journal as structured entries, not to
//! stderr. The test plays journald: in a private mount namespace (root, as
//! CI runs) its own datagram socket is bind-mounted at
//! /run/systemd/journal/socket, and `$JOURNAL_STREAM` names the hub's stderr,
//! exactly as systemd sets it.

use crate::common;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{NotifySocket, TEST_CONFIG, TIMEOUT, hearth_run};

/// The fields of one datagram of journald's native protocol: `KEY=value\n`,
/// or the binary-safe `KEY\n<u64 little-endian length><value>\n`.
fn fields(mut datagram: &[u8]) -> Vec<(String, String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Vec::new();
    while let Some(end) = datagram.iter().position(|&b| b == b'=' || b == b'\n') {
        let key = text(&datagram[..end]);
        let rest = &datagram[end + 1..];
        if datagram[end] == b'=' {
            let stop = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            out.push((key, text(&rest[..stop])));
            datagram = rest.get(stop + 1..).unwrap_or_default();
        } else {
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            out.push((key, text(&rest[8..8 + len])));
            datagram = rest.get(8 + len + 1..).unwrap_or_default();
        }
    }
    out
}

#[test]
fn under_systemd_logs_are_structured_journal_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let journal_dir = tmp.path().join("journal");
    std::fs::create_dir(&journal_dir).unwrap();
    let journal = UnixDatagram::bind(journal_dir.join("socket")).unwrap();
    // Read the journal as journald does, from the start: a datagram socket
    // holds only a few entries (net.unix.max_dgram_qlen), and a hub whose
    // log writes block would never get to say it is ready.
    let (entries_tx, entries) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = journal.recv(&mut buf) {
            if entries_tx.send(fields(&buf[..n])).is_err() {
                break;
            }
        }
    });
    let config = tmp.path().join("hearth.toml");
    std::fs::write(&config, TEST_CONFIG).unwrap();

    let (mut stderr_reader, stderr_writer) = std::io::pipe().unwrap();
    let stream = std::fs::File::from(stderr_writer.as_fd().try_clone_to_owned().unwrap())
        .metadata()
        .unwrap();
    let notify = NotifySocket::new();
    let plain = hearth_run(&config, &tmp.path().join("state"));
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && \
             mount --bind \"$0\" /run/systemd/journal && exec \"$@\"",
        )
        .arg(&journal_dir)
        .arg(plain.get_program())
        .args(plain.get_args())
        .env(
            "JOURNAL_STREAM",
            format!("{}:{}", stream.dev(), stream.ino()),
        )
        .env("NOTIFY_SOCKET", &notify.path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr_writer));
    let mut child = cmd.spawn().expect("unshare (util-linux)");
    drop(cmd); // our copy of the pipe's write end, so reading ends at exit

    notify.wait_for("READY=1");
    let deadline = Instant::now() + TIMEOUT;
    let ready = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let entry = entries
            .recv_timeout(left)
            .expect("no ready entry in the journal");
        if entry
            .iter()
            .any(|(k, v)| k == "MESSAGE" && v.starts_with("ready: API"))
        {
            break entry;
        }
    };
    let get = |key: &str| {
        ready
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("PRIORITY"), Some("6"), "{ready:?}");
    assert_eq!(get("SYSLOG_IDENTIFIER"), Some("hearth"), "{ready:?}");
    assert!(
        get("TARGET").is_some_and(|t| t.starts_with("hearth::cli")),
        "{ready:?}"
    );
    assert!(get("CODE_FILE").is_some(), "{ready:?}");

    terminate(child.id());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < TIMEOUT, "hub did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let mut stderr = String::new();
    stderr_reader.read_to_string(&mut stderr).unwrap();
    assert!(
        !stderr.contains("ready: API"),
        "logs went to stderr too:\n{stderr}"
    );
}

fn terminate(pid: u32) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}
