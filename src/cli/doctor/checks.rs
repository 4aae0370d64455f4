//! The doctor's checks of the machine and the state directory: systemd's
//! view of the service, the clock, disk space, the database, the state
//! directory's owner and modes, serial ports.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use rusqlite::{Connection, OpenFlags};

use super::{Finding, Install};
use crate::cli::household::utc;
use crate::store::DB_FILE;

/// Less free space than this on the state directory's file system is a problem.
const DISK_FAIL_BYTES: u64 = 50 << 20;
/// How far the clock may be behind the newest stored value (clock steps).
const CLOCK_SLACK_MS: i64 = 60_000;

fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// What systemd says of hearth.service (nothing when systemd does not run).
/// How long a program the doctor asks may take (systemd's tools wait on
/// D-Bus, which can hang on a sick system).
const ASK_AT_MOST: std::time::Duration = std::time::Duration::from_secs(5);

/// What `cmd` prints on stdout, or why not: it failed to start, or did not
/// finish within [`ASK_AT_MOST`] (then it is killed).
fn bounded(cmd: &mut Command) -> Result<String, String> {
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + ASK_AT_MOST;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {} s", ASK_AT_MOST.as_secs()));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
    }
    Ok(out)
}

pub fn service() -> Option<Finding> {
    if !systemd_runs() {
        return Some(Finding::ok(
            "service",
            "systemd does not run here: the service was not checked",
        ));
    }
    let installed = bounded(Command::new("systemctl").args([
        "show",
        "--property=LoadState",
        "--value",
        "hearth.service",
    ]))
    .is_ok_and(|out| out.trim() == "loaded");
    if !installed {
        return Some(Finding::ok(
            "service",
            "hearth.service is not installed here: the service was not checked",
        ));
    }
    let state = bounded(Command::new("systemctl").args(["is-active", "hearth.service"]))
        .map(|out| out.trim().to_owned())
        .unwrap_or_else(|e| format!("unknown (systemctl: {e})"));
    Some(if state == "active" {
        Finding::ok("service", "hearth.service is active")
    } else {
        Finding::fail(
            "service",
            format!("hearth.service is {state}"),
            "`journalctl -u hearth -n 50` says why; `sudo systemctl start hearth` starts it",
        )
    })
}

fn open_database(install: &Install) -> Result<Connection, String> {
    let path = install.state_dir.join(DB_FILE);
    if !path.is_file() {
        return Err(format!("no database in {}", install.state_dir.display()));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
    Ok(conn)
}

/// The clock against the newest stored value, and whether NTP synced it.
pub fn clock(install: &Install) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Values not yet folded into history are in the journal.
    let newest: Option<i64> = open_database(install).ok().and_then(|conn| {
        let history = conn
            .query_row("SELECT max(at) FROM history", [], |r| r.get(0))
            .ok()
            .flatten();
        let journal = crate::devices::history::journal::newest(&conn)
            .ok()
            .flatten();
        history.max(journal)
    });
    match newest {
        Some(newest) if newest > install.now_ms + CLOCK_SLACK_MS => findings.push(Finding::fail(
            "clock",
            format!(
                "the clock ({}) is behind the newest stored value ({}) by {} min: new values \
                 sort before older ones",
                utc(install.now_ms),
                utc(newest),
                (newest - install.now_ms) / 60_000
            ),
            "a board without a battery-backed clock starts at its last shutdown's time: wait \
             for NTP (`timedatectl`), or set the time",
        )),
        _ => findings.push(Finding::ok(
            "clock",
            format!("{} (not behind the stored values)", utc(install.now_ms)),
        )),
    }
    if systemd_runs() {
        let synced = Path::new("/run/systemd/timesync/synchronized").exists()
            || bounded(Command::new("timedatectl").args([
                "show",
                "--property=NTPSynchronized",
                "--value",
            ]))
            .is_ok_and(|out| out.trim() == "yes");
        findings.push(if synced {
            Finding::ok("clock", "NTP has synchronized the clock")
        } else {
            Finding::warn(
                "clock",
                "NTP has not synchronized the clock yet",
                "`timedatectl timesync-status` shows why (no network, no NTP server)",
            )
        });
    }
    findings
}

/// Free space on the state directory's file system.
pub fn disk(install: &Install) -> Finding {
    let Ok(path) = std::ffi::CString::new(install.state_dir.as_os_str().as_encoded_bytes()) else {
        return Finding::warn("disk", "the state directory's path holds a NUL", "-");
    };
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` is a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Finding::fail(
            "disk",
            format!(
                "cannot look at {}: {}",
                install.state_dir.display(),
                std::io::Error::last_os_error()
            ),
            "does the state directory exist?",
        );
    }
    // 32 bits wide on armv7, 64 on aarch64 and x86_64.
    #[allow(clippy::useless_conversion)]
    let (free, total) = (
        u64::from(stat.f_bavail) * u64::from(stat.f_frsize),
        u64::from(stat.f_blocks) * u64::from(stat.f_frsize),
    );
    let what = format!(
        "{} MiB free of {} MiB on the state directory's file system",
        free >> 20,
        total >> 20
    );
    if free < DISK_FAIL_BYTES {
        Finding::fail(
            "disk",
            what,
            "free space (old logs: `journalctl --vacuum-size=50M`) before the database cannot grow",
        )
    } else if free < total / 10 {
        Finding::warn("disk", what, "less than a tenth is free")
    } else {
        Finding::ok("disk", what)
    }
}

/// `PRAGMA quick_check` on the database, read-only.
pub fn database(install: &Install) -> Finding {
    let result = open_database(install).and_then(|conn| {
        conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(answer) if answer == "ok" => Finding::ok("database", "quick_check: ok"),
        Ok(answer) => Finding::fail(
            "database",
            format!("the database is damaged: {answer}"),
            format!(
                "stop the hub and restore a backup (`hearth restore FILE`; upgrades leave some in \
                 {}/backups)",
                install.state_dir.display()
            ),
        ),
        Err(e) => Finding::fail(
            "database",
            e,
            "has the hub ever started on this state directory? `hearth status` says",
        ),
    }
}

/// The hub process's uid and supplementary groups, from /proc.
pub fn process_ids(pid: u32) -> Option<(u32, Vec<u32>)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect::<Vec<u32>>()
            })
    };
    let uid = *field("Uid:")?.first()?;
    Some((uid, field("Groups:").unwrap_or_default()))
}

/// The state directory: its owner may write it, nobody else may read it,
/// and it belongs to the user the hub runs as.
pub fn state_dir(install: &Install) -> Vec<Finding> {
    let dir = install.state_dir;
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) => {
            return vec![Finding::fail(
                "state-dir",
                format!("{}: {e}", dir.display()),
                "the hub creates it on its first start",
            )];
        }
    };
    let mode = meta.mode() & 0o777;
    let mut findings = Vec::new();
    if mode & 0o200 == 0 {
        findings.push(Finding::fail(
            "state-dir",
            format!(
                "{} is not writable by its owner (mode {mode:04o}): the hub cannot store anything",
                dir.display()
            ),
            format!("sudo chmod 0750 {}", dir.display()),
        ));
    }
    if mode & 0o007 != 0 {
        findings.push(Finding::fail(
            "state-dir",
            format!(
                "{} is open to every user (mode {mode:04o}) and holds the hub's keys",
                dir.display()
            ),
            format!("sudo chmod 0750 {}", dir.display()),
        ));
    }
    if let Some((uid, _)) = install.hub.as_ref().and_then(|h| process_ids(h.pid))
        && uid != meta.uid()
    {
        findings.push(Finding::fail(
            "state-dir",
            format!(
                "{} belongs to uid {} but the hub runs as uid {uid}",
                dir.display(),
                meta.uid()
            ),
            format!(
                "stop the hub, `sudo chown -R {uid} {}`, start it",
                dir.display()
            ),
        ));
    }
    if findings.is_empty() {
        findings.push(Finding::ok(
            "state-dir",
            format!("{} (mode {mode:04o}, uid {})", dir.display(), meta.uid()),
        ));
    }
    findings
}

/// Each configured serial port: present, and open to the hub's user.
pub fn serial(install: &Install) -> Vec<Finding> {
    let ports = &install.config.blynk.serial;
    if ports.is_empty() {
        return vec![Finding::ok("serial", "no serial ports configured")];
    }
    let hub_ids = install.hub.as_ref().and_then(|h| process_ids(h.pid));
    let mut findings = Vec::new();
    for port in ports {
        let path = &port.path;
        let present = crate::blynk::serial::matching(path);
        if present.is_empty() {
            findings.push(Finding::fail(
                "serial",
                format!(
                    "serial port {} (in {}) is not present",
                    path.display(),
                    install.config_name()
                ),
                "is the adapter plugged in? `ls -l /dev/serial/by-id/` lists what is; or remove \
                 it from [[blynk.serial]]",
            ));
            continue;
        }
        for found in present {
            let Ok(meta) = std::fs::metadata(&found) else {
                continue;
            };
            let open_to_hub = match &hub_ids {
                Some((uid, groups)) => {
                    *uid == 0
                        || (*uid == meta.uid() && meta.mode() & 0o600 == 0o600)
                        || (groups.contains(&meta.gid()) && meta.mode() & 0o060 == 0o060)
                        || meta.mode() & 0o006 == 0o006
                }
                None => true,
            };
            if open_to_hub {
                findings.push(Finding::ok(
                    "serial",
                    format!(
                        "{} present (gid {}, mode {:04o})",
                        found.display(),
                        meta.gid(),
                        meta.mode() & 0o777
                    ),
                ));
            } else {
                findings.push(Finding::fail(
                    "serial",
                    format!(
                        "{} is present but the hub's user may not open it (gid {}, mode {:04o})",
                        found.display(),
                        meta.gid(),
                        meta.mode() & 0o777
                    ),
                    "the hub's user must be in the port's group (the unit's \
                     SupplementaryGroups=dialout; `sudo usermod -aG dialout hearth`)",
                ));
            }
        }
    }
    findings
}
