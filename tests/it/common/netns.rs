//! Network namespaces joined by veth pairs: a small LAN made by the test, so
//! mDNS traffic never touches the machine's real interfaces. Needs root
//! (CI runs as root); without it the test fails saying so, never skips.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "`ip {}` failed (these tests need root and iproute2): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new() -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("hearth-t{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Self { name }
    }

    /// `program` run inside this namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl NetNs {
    /// The hearth binary under test (see `common::hearth`), run in this namespace.
    pub fn hearth(&self, base: Command) -> Command {
        let mut cmd = self.command(base.get_program());
        cmd.args(base.get_args());
        for (key, value) in base.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Joins `a` and `b` with a veth pair on a link-local /24; returns the
/// interface names and addresses (a's, b's).
pub fn link(a: &NetNs, b: &NetNs, subnet: u8) -> ((String, String), (String, String)) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tag = format!("{}{n}", std::process::id() % 100_000);
    let (if_a, if_b) = (format!("hva{tag}"), format!("hvb{tag}"));
    let (addr_a, addr_b) = (format!("169.254.{subnet}.1"), format!("169.254.{subnet}.2"));
    ip(&["link", "add", &if_a, "type", "veth", "peer", "name", &if_b]);
    ip(&["link", "set", &if_a, "netns", &a.name]);
    ip(&["link", "set", &if_b, "netns", &b.name]);
    for (ns, ifname, addr) in [(a, &if_a, &addr_a), (b, &if_b, &addr_b)] {
        ip(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            ifname,
        ]);
        ip(&["-n", &ns.name, "link", "set", ifname, "multicast", "on"]);
        ip(&["-n", &ns.name, "link", "set", ifname, "up"]);
    }
    ((if_a, addr_a), (if_b, addr_b))
}
