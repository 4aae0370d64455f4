//! The benchmarks' generated household: built through the real operations
//! (shared by `benches/tenancy.rs` and `benches/api.rs`).
#![allow(dead_code)]

use hearth::tenancy::state::Level;
use hearth::tenancy::{Caller, Tenant};

pub const NOW: i64 = 1_800_000_000_000;

/// A small deterministic generator (xorshift64*), so every run builds the
/// same tenant.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub struct Size {
    pub orgs: usize,
    pub users: usize,
    pub devices: usize,
    pub history: usize,
}

/// The household a hub is loaded with (`benches/api.rs`, `benches/pi.rs`):
/// 200 organizations, 1,000 users, 10,000 devices, no history.
pub const HOUSEHOLD: Size = Size {
    orgs: 200,
    users: 1_000,
    devices: 10_000,
    history: 0,
};

pub struct Builder {
    pub t: Tenant,
    pub rng: Rng,
    pub orgs: Vec<String>,
    /// (user id, membership id, org)
    pub members: Vec<(String, String, String)>,
    pub devices: Vec<String>,
    pub shares: Vec<String>,
    pub admin: String,
    pub ops: usize,
}

impl Builder {
    fn count<T, E: std::fmt::Debug>(&mut self, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => {
                self.ops += 1;
                Some(v)
            }
            Err(_) => None,
        }
    }

    pub fn build(size: &Size) -> Builder {
        let (t, f) = Tenant::found("bench", "Home", "admin@bench.test", NOW).unwrap();
        let mut b = Builder {
            t,
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            orgs: vec![f.root_org.clone()],
            members: vec![(f.admin.clone(), f.admin_membership, f.root_org)],
            devices: Vec::new(),
            shares: Vec::new(),
            admin: f.admin,
            ops: 1,
        };
        let console = Caller::Console;
        // A bushy tree: each new org hangs under one of the first quarter.
        for i in 1..size.orgs {
            let parent = b.orgs[b.rng.below(i.div_ceil(4))].clone();
            let made = b.t.create_org(&console, &parent, &format!("Org {i}"), NOW);
            if let Some(id) = b.count(made) {
                b.orgs.push(id);
            }
        }
        for i in 1..size.users {
            let org = b.orgs[b.rng.below(b.orgs.len())].clone();
            let role = ["user", "user", "user", "staff"][b.rng.below(4)];
            let email = format!("person{i}@bench.test");
            let invited = b.t.invite(&console, &email, &org, role, NOW);
            if let Some(inv) = b.count(invited) {
                b.members.push((inv.user.clone(), inv.membership, org));
                // One in five also belongs to a second organization.
                if b.rng.below(5) == 0 {
                    let other = b.orgs[b.rng.below(b.orgs.len())].clone();
                    let again = b.t.invite(&console, &email, &other, "user", NOW);
                    if let Some(inv) = b.count(again) {
                        b.members.push((inv.user, inv.membership, other));
                    }
                }
            }
        }
        for i in 0..size.devices {
            let (user, _, org) = b.members[b.rng.below(b.members.len())].clone();
            let added =
                b.t.add_device(&console, &org, &format!("Device {i}"), None, NOW);
            if let Some(id) = b.count(added) {
                let moved = b.t.transfer(&console, &id, &user, Some(&org), NOW);
                b.count(moved);
                b.devices.push(id);
            }
        }
        b
    }

    /// Random operations until the history holds `total` operations.
    pub fn operate_until(&mut self, total: usize) {
        let console = Caller::Console;
        while self.ops < total {
            let device = self.devices[self.rng.below(self.devices.len())].clone();
            let (user, membership, org) = self.members[self.rng.below(self.members.len())].clone();
            match self.rng.below(10) {
                0..=3 => {
                    let name = format!("Device {}", self.rng.next() % 100_000);
                    let r = self.t.rename_device(&console, &device, &name, NOW);
                    self.count(r);
                }
                4 | 5 => {
                    let r = self.t.transfer(&console, &device, &user, Some(&org), NOW);
                    self.count(r);
                }
                6 => {
                    let r = self
                        .t
                        .share(&console, &device, &user, Level::View, None, NOW);
                    if let Some(id) = self.count(r) {
                        self.shares.push(id);
                    }
                }
                7 if !self.shares.is_empty() => {
                    let share = self.shares.swap_remove(self.rng.below(self.shares.len()));
                    let r = self.t.unshare(&console, &share, NOW);
                    self.count(r);
                }
                8 => {
                    let to = self.orgs[self.rng.below(self.orgs.len())].clone();
                    let r = self.t.move_device(&console, &device, &to, NOW);
                    self.count(r);
                }
                _ => {
                    let role = ["user", "staff"][self.rng.below(2)];
                    let r = self.t.change_role(&console, &membership, role, NOW);
                    self.count(r);
                }
            }
        }
    }
}

/// Writes the built household into a hub state directory `dir`, with
/// `password` for its admin.
pub async fn install(dir: &std::path::Path, b: Builder, password: &str) {
    use hearth::node::SCHEMA;
    use hearth::store::Store;
    use hearth::tenancy::Replica;
    let (store, thread, identity) = Store::open(dir, 512, SCHEMA).unwrap();
    let replica = Replica::open(store.clone(), &identity.hub_id)
        .await
        .unwrap();
    replica.install(b.t.into_doc()).await.unwrap();
    let phc = hearth::accounts::password::hash(password).unwrap();
    replica
        .set_password_hash(&Caller::Console, &b.admin, &phc)
        .await
        .unwrap();
    replica.shutdown().await;
    store.close().await;
    thread.join().await;
}
