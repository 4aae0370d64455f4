//! The state directory: where it is, and the lock that gives one hub sole use
//! of it.
//!
//! Owns path resolution (`--state-dir`, then systemd's `$STATE_DIRECTORY`,
//! then the config, then a per-user default) and the exclusive `flock` on
//! `hub.lock`. It never reads or writes the hub's data; the store does.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file inside the state directory.
pub const LOCK_FILE: &str = "hub.lock";
/// What a running hub writes so `hearth status` and tests can find it.
pub const RUNTIME_FILE: &str = "runtime.json";
/// The admin socket (`hearth --console`); the API serves it.
pub const CONSOLE_SOCKET: &str = "admin.sock";
/// The one-time setup code of a hub with no household yet (accounts owns it).
pub const SETUP_CODE_FILE: &str = "setup-code";

#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error("state directory {dir} is locked: another hub{pid} holds it; stop it first")]
    Locked { dir: PathBuf, pid: String },
    #[error("state directory {dir}: {action}: {source}")]
    Io {
        dir: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("no state directory: pass --state-dir, or set hub.state_dir in the config")]
    Unresolved,
}

/// Picks the state directory in the documented order of precedence.
///
/// # Errors
/// [`StateDirError::Unresolved`] when nothing names one and there is no home.
pub fn resolve(cli: Option<&Path>, config: Option<&Path>) -> Result<PathBuf, StateDirError> {
    if let Some(dir) = cli {
        return Ok(dir.to_owned());
    }
    if let Some(dirs) = std::env::var_os("STATE_DIRECTORY")
        && let Some(first) = std::env::split_paths(&dirs).next()
    {
        return Ok(first);
    }
    if let Some(dir) = config {
        return Ok(dir.to_owned());
    }
    default_dir().ok_or(StateDirError::Unresolved)
}

fn default_dir() -> Option<PathBuf> {
    if is_root() {
        return Some(PathBuf::from("/var/lib/hearth"));
    }
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("hearth"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    Some(PathBuf::from(home).join(".local/state/hearth"))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is the effective uid; no libc call needed.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Sole use of a state directory for as long as it lives.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    /// Holding the open file holds the `flock`; the kernel drops it when the
    /// process dies, however it dies, so there are no stale locks.
    _lock: File,
}

impl StateDir {
    /// Creates the directory if needed (mode 0700) and takes its lock.
    ///
    /// # Errors
    /// [`StateDirError::Locked`] when another process holds it, naming its pid.
    pub fn acquire(path: &Path) -> Result<Self, StateDirError> {
        let io = |action| {
            move |source| StateDirError::Io {
                dir: path.to_owned(),
                action,
                source,
            }
        };
        use std::os::unix::fs::OpenOptionsExt;
        create_private_dir(path).map_err(io("create it"))?;
        // Whatever the hub creates in it from here on is its own only.
        // SAFETY: umask only sets the process's file creation mask.
        unsafe {
            libc::umask(0o077);
        }
        make_private(path).map_err(io(
            "make it private (0700, its files 0600); chown it to the user the hub runs as",
        ))?;
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path.join(LOCK_FILE))
            .map_err(io("open the lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StateDirError::Locked {
                    dir: path.to_owned(),
                    pid: if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {holder})")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("lock it")(e)),
        }
        lock.set_len(0).map_err(io("write the lock file"))?;
        lock.rewind().map_err(io("write the lock file"))?;
        writeln!(lock, "{}", std::process::id()).map_err(io("write the lock file"))?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// True when a live process holds the lock on `path` (for `restore`).
    pub fn is_locked(path: &Path) -> bool {
        let Ok(file) = File::open(path.join(LOCK_FILE)) else {
            return false;
        };
        matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes group and others' access from `dir`, everything in it and below
/// (directories 0700 at most, files 0600 at most; symbolic links are left).
/// A state directory made by hand, or by an older version, may be 0755.
///
/// # Errors
/// The first entry that cannot be changed (another user's, say).
pub fn make_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    let mode = meta.permissions().mode();
    if meta.is_dir() {
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
        for entry in std::fs::read_dir(dir)? {
            make_private(&entry?.path())?;
        }
    } else if meta.is_file() && mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o600))?;
    }
    Ok(())
}

/// Creates `path` and its parents; a directory we create is private (0700).
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Writes `contents` to `path` atomically (temp file, fsync, rename) with `mode`.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod private_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_state_directory_made_by_hand_is_made_private_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        std::fs::create_dir_all(dir.join("tls")).unwrap();
        std::fs::write(dir.join("hearth.db"), b"x").unwrap();
        std::fs::write(dir.join("tls/key.pem"), b"x").unwrap();
        for (path, m) in [(&dir, 0o755), (&dir.join("tls"), 0o755)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
        }
        for file in ["hearth.db", "tls/key.pem"] {
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        let held = StateDir::acquire(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("tls")), 0o700);
        assert_eq!(mode(&dir.join("hearth.db")), 0o600);
        assert_eq!(mode(&dir.join("tls/key.pem")), 0o600);
        assert_eq!(mode(&dir.join(LOCK_FILE)), 0o600);
        drop(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_naming_dir_and_pid() {
        let tmp = tempfile::tempdir().unwrap();
        let first = StateDir::acquire(tmp.path()).unwrap();
        assert!(StateDir::is_locked(tmp.path()));
        let err = StateDir::acquire(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(&tmp.path().display().to_string()), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert!(!StateDir::is_locked(tmp.path()));
        StateDir::acquire(tmp.path()).unwrap();
    }

    #[test]
    fn cli_wins_over_config() {
        let got = resolve(Some(Path::new("/a")), Some(Path::new("/b"))).unwrap();
        assert_eq!(got, PathBuf::from("/a"));
    }
}
