//! The seed stories of the tenancy issue, told at library level, and the
//! merge rules checked on replicas that exchange changes through Automerge's
//! sync protocol.
//!
//! This file holds the fixtures (a founded household, replicas and their
//! sync); the tests are split by topic in `tests/`.

use automerge::Automerge;
use automerge::sync::{self, SyncDoc};

use super::*;
use crate::tenancy::audit::{self, Outcome};
use crate::tenancy::perms::{PermSet, Permission::*};
use crate::tenancy::state::Level;

const NOW: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

struct Household {
    t: Tenant,
    root: Id,
    admin: Caller,
    admin_id: Id,
    garage: Id,
    beer: Id,
}

fn household() -> Household {
    let (mut t, f) = Tenant::found("hub-a", "Home", "Admin@Example.org ", NOW).unwrap();
    let admin = Caller::user(&f.admin);
    let garage = t
        .add_device(&admin, &f.root_org, "Garage door", None, NOW)
        .unwrap();
    let beer = t
        .add_device(&admin, &f.root_org, "Beer machine", None, NOW)
        .unwrap();
    Household {
        t,
        root: f.root_org,
        admin,
        admin_id: f.admin,
        garage,
        beer,
    }
}

fn level(t: &mut Tenant, user: &str, device: &str, now: i64) -> Option<Level> {
    let state = t.state().unwrap();
    Access::new(state, now).device_level(user, &state.devices()[device])
}

/// A copy of the state now, so the test can go on changing the tenant.
fn snapshot(t: &mut Tenant) -> TenantState {
    t.state().unwrap().clone()
}

// ---- merging replicas -------------------------------------------------------

/// Runs Automerge's sync protocol between two documents until quiet.
fn sync_pair(a: &mut Automerge, b: &mut Automerge) {
    let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
    for _ in 0..32 {
        let to_b = a.generate_sync_message(&mut sa);
        let to_a = b.generate_sync_message(&mut sb);
        if to_b.is_none() && to_a.is_none() {
            return;
        }
        if let Some(m) = to_b {
            b.receive_sync_message(&mut sb, m).unwrap();
        }
        if let Some(m) = to_a {
            a.receive_sync_message(&mut sa, m).unwrap();
        }
    }
    panic!("sync did not settle");
}

/// A second replica of `h`'s tenant (its own actor id).
fn replica(t: &mut Tenant, name: &str) -> Tenant {
    let mut doc = Automerge::new();
    sync_pair(t.doc_mut(), &mut doc);
    Tenant::from_doc(doc, name)
}

fn converge(a: &mut Tenant, b: &mut Tenant) {
    sync_pair(a.doc_mut(), b.doc_mut());
    assert_eq!(a.doc().get_heads(), b.doc().get_heads());
}

mod checks;
mod convergence;
mod holders;
#[cfg(all(target_os = "linux", target_env = "gnu"))] // glibc's mallinfo2
mod memory;
mod merging;
mod stories;
