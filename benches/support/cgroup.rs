//! A memory limit for a process the benchmark starts: a cgroup of its own
//! (root only), cgroup v2's `memory.max` where the unified hierarchy has
//! the memory controller, else v1's `memory.limit_in_bytes`. Removed when
//! dropped (after the processes in it have ended).

use std::path::PathBuf;
use std::process::Command;

pub struct Limit {
    dir: PathBuf,
    v2: bool,
}

impl Limit {
    /// A new cgroup limited to `bytes`, or `None` where none can be made.
    pub fn new(name: &str, bytes: u64) -> Option<Limit> {
        let name = format!("{name}-{}", std::process::id());
        let v2_root = PathBuf::from("/sys/fs/cgroup");
        let v2 = std::fs::read_to_string(v2_root.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"));
        let (dir, file) = if v2 {
            (v2_root.join(&name), "memory.max")
        } else {
            (
                PathBuf::from("/sys/fs/cgroup/memory").join(&name),
                "memory.limit_in_bytes",
            )
        };
        std::fs::create_dir(&dir).ok()?;
        let limit = Limit { dir, v2 };
        std::fs::write(limit.dir.join(file), bytes.to_string()).ok()?;
        if !v2 {
            // No swap to escape to (where swap accounting is on).
            let _ = std::fs::write(
                limit.dir.join("memory.memsw.limit_in_bytes"),
                bytes.to_string(),
            );
        }
        Some(limit)
    }

    pub fn describe(&self) -> String {
        let version = if self.v2 {
            "v2 memory.max"
        } else {
            "v1 memory.limit_in_bytes"
        };
        format!("cgroup {version}, {}", self.dir.display())
    }

    /// `cmd` run inside this cgroup: a shell that moves itself in, then
    /// becomes `cmd` (same program, arguments and environment).
    pub fn wrap(&self, cmd: &Command) -> Command {
        let mut wrapped = Command::new("sh");
        wrapped
            .arg("-c")
            .arg(r#"echo $$ > "$0" && shift && exec "$@""#)
            .arg(self.dir.join("cgroup.procs"))
            .arg("--")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        wrapped
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    /// The peak of memory charged (resident and page cache) and the OOM
    /// kills, as the cgroup counts them.
    pub fn report(&self) -> String {
        let (peak, events) = if self.v2 {
            (self.read("memory.peak"), self.read("memory.events"))
        } else {
            (
                self.read("memory.max_usage_in_bytes"),
                self.read("memory.oom_control"),
            )
        };
        let peak: u64 = peak.trim().parse().unwrap_or(0);
        let kills = events
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .unwrap_or("0 (not counted here)")
            .trim()
            .to_owned();
        let failures = if self.v2 {
            String::new()
        } else {
            format!(
                ", limit reached {} times",
                self.read("memory.failcnt").trim()
            )
        };
        format!(
            "cgroup: peak {:.1} MiB charged (page cache included), OOM kills {kills}{failures}",
            peak as f64 / 1048576.0
        )
    }
}

impl Drop for Limit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}
