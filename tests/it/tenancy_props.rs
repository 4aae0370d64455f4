//! Property tests of the merge rules M1–M6 (DESIGN §3): 3–5 replicas, each a
//! real samod repo, connected pairwise in-process over samod's channel
//! transport (the automerge-repo sync protocol, not `Doc::merge`); random
//! operations of every kind from random callers, random syncs and
//! partitions. After full sync every replica must agree with every other and
//! with the reference model in `tenancy_props/model.rs`.
//!
//! `HEARTH_PROPTEST_CASES` sets the number of histories (default 2000);
//! a soak run sets it far higher.

mod messages;
mod model;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use hearth::tenancy::audit::{self, Outcome};
use hearth::tenancy::ops::Transfer;
use hearth::tenancy::state::{AuditEntry, Level};
use hearth::tenancy::template::{Datastream, DatastreamKind, Definition};
use hearth::tenancy::{
    Access, Action, Caller, Materialized, PermSet, Permission, Target, Tenant, TenantState,
    audit_entries,
};
use model::{Clock, Effect, Expected, Model, Named};
use proptest::prelude::*;
use samod::transport::channel::ChannelDialer;
use samod::{AcceptorHandle, BackoffConfig, DocHandle, PeerId, Repo, Url};

const NOW: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
/// Invitations use the first five; the last two only ever arrive by an email change.
const EMAILS: [&str; 7] = [
    "ann@h.test",
    "ben@h.test",
    "cat@h.test",
    "dan@h.test",
    "eve@h.test",
    "fay@h.test",
    "gus@h.test",
];
const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
enum Op {
    Invite {
        email: u8,
        org: u8,
        role: u8,
    },
    RemoveMember {
        member: u8,
    },
    ChangeRole {
        member: u8,
        role: u8,
    },
    CreateOrg {
        parent: u8,
    },
    DeleteOrg {
        org: u8,
    },
    AddDevice {
        org: u8,
    },
    MoveDevice {
        device: u8,
        org: u8,
    },
    Transfer {
        device: u8,
        email: u8,
        dest: Option<u8>,
    },
    Share {
        device: u8,
        email: u8,
        control: bool,
        hours: Option<u8>,
    },
    Unshare {
        share: u8,
    },
    CreateRole {
        org: u8,
        perms: u8,
    },
    EditRole {
        role: u8,
        perms: u8,
    },
    /// Edits a role to exactly the permissions it reads as here: after a
    /// merged conflict, the intersection that won it (issue 14's escalation).
    RewriteRole {
        role: u8,
    },
    DeleteDevice {
        device: u8,
    },
    DeleteRole {
        role: u8,
    },
    ChangeEmail {
        user: u8,
        email: u8,
    },
    /// Renames a device (`org: false`) or an organization: no access effect,
    /// but the state must follow.
    Rename {
        org: bool,
        target: u8,
        name: u8,
    },
    /// Creates a template in an org, or edits the newest one.
    Template {
        org: u8,
        pins: u8,
        edit: bool,
    },
    SetBleMac {
        device: u8,
        mac: Option<u8>,
    },
}

#[derive(Debug, Clone)]
enum Step {
    Op { replica: u8, caller: u8, op: Op },
    Sync { a: u8, b: u8 },
}

/// An index into what exists; small values (most likely) name the most
/// recently created, which is where conflicts are interesting: a new
/// organization is empty enough to delete, a new share is there to revoke.
fn recent() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![3 => 0u8..2, 1 => 0u8..16]
}

/// Mostly people who are already members (the setup invites the first two).
fn person() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![3 => 0u8..2, 1 => 0u8..5]
}

fn op() -> impl Strategy<Value = Op> {
    let n = recent;
    prop_oneof![
        1 => (0u8..5, n(), n()).prop_map(|(email, org, role)| Op::Invite { email, org, role }),
        2 => n().prop_map(|member| Op::RemoveMember { member }),
        1 => (n(), n()).prop_map(|(member, role)| Op::ChangeRole { member, role }),
        1 => n().prop_map(|parent| Op::CreateOrg { parent }),
        3 => n().prop_map(|org| Op::DeleteOrg { org }),
        1 => n().prop_map(|org| Op::AddDevice { org }),
        2 => (n(), n()).prop_map(|(device, org)| Op::MoveDevice { device, org }),
        2 => (n(), person(), proptest::option::of(n())).prop_map(|(device, email, dest)| Op::Transfer { device, email, dest }),
        1 => (n(), person(), any::<bool>(), proptest::option::of(0u8..3))
            .prop_map(|(device, email, control, hours)| Op::Share { device, email, control, hours }),
        1 => n().prop_map(|share| Op::Unshare { share }),
        2 => (n(), any::<u8>()).prop_map(|(org, perms)| Op::CreateRole { org, perms }),
        1 => (n(), any::<u8>()).prop_map(|(role, perms)| Op::EditRole { role, perms }),
        1 => n().prop_map(|device| Op::DeleteDevice { device }),
        1 => n().prop_map(|role| Op::DeleteRole { role }),
        // Two addresses nobody was invited with, so an email can also move away.
        1 => (n(), 0u8..7).prop_map(|(user, email)| Op::ChangeEmail { user, email }),
        1 => n().prop_map(|role| Op::RewriteRole { role }),
        // Few names, so concurrent renames often write the same one.
        1 => (any::<bool>(), n(), 0u8..3).prop_map(|(org, target, name)| Op::Rename { org, target, name }),
        1 => (n(), 1u8..4, any::<bool>()).prop_map(|(org, pins, edit)| Op::Template { org, pins, edit }),
        1 => (n(), proptest::option::of(0u8..3)).prop_map(|(device, mac)| Op::SetBleMac { device, mac }),
    ]
}

fn history() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (3usize..=5).prop_flat_map(|replicas| {
        let r = 0..replicas as u8;
        let step = prop_oneof![
            3 => (r.clone(), 0u8..6, op()).prop_map(|(replica, caller, op)| Step::Op { replica, caller, op }),
            1 => (r.clone(), r.clone()).prop_map(|(a, b)| Step::Sync { a, b }),
        ];
        (Just(replicas), proptest::collection::vec(step, 5..30))
    })
}

/// A few permission sets that overlap: issue 14's escalation used the
/// first three (`{view_org, control_org}`, `{view_org, view_own}`,
/// `{view_org, manage_users, manage_roles}`).
const PALETTE: [u8; 5] = [0b0000_0011, 0b0000_0101, 0b1001_0001, 0b0000_0001, 0];

/// A write to a last-writer-wins field or a role's permissions, aimed at
/// the two most recent entities so that rounds collide.
fn conflicting_write() -> impl Strategy<Value = Op> {
    let few = || 0u8..2;
    prop_oneof![
        3 => (few(), proptest::sample::select(PALETTE.to_vec())).prop_map(|(role, perms)| Op::EditRole { role, perms }),
        2 => few().prop_map(|role| Op::RewriteRole { role }),
        3 => (any::<bool>(), few(), 0u8..2).prop_map(|(org, target, name)| Op::Rename { org, target, name }),
        2 => (few(), 0u8..3).prop_map(|(member, role)| Op::ChangeRole { member, role }),
        2 => (few(), 0u8..7).prop_map(|(user, email)| Op::ChangeEmail { user, email }),
        2 => (few(), few()).prop_map(|(device, org)| Op::MoveDevice { device, org }),
        1 => (few(), person()).prop_map(|(device, email)| Op::Transfer { device, email, dest: None }),
        1 => op(),
    ]
}

/// Repeated partitions over the same entities, as the hubs really connect:
/// three replicas in a star around r0 (the cloud, or the hub the others
/// dial). Each round writes the same few fields on different replicas
/// while cut off, then some links heal, so a later round's writes are
/// concurrent with a conflict's resolved value.
fn partitions() -> impl Strategy<Value = Vec<Step>> {
    let write = (
        0u8..3,
        prop_oneof![4 => 0u8..3, 1 => 3u8..6],
        conflicting_write(),
    )
        .prop_map(|(replica, caller, op)| Step::Op {
            replica,
            caller,
            op,
        });
    let heal = proptest::sample::select(vec![Step::Sync { a: 0, b: 1 }, Step::Sync { a: 0, b: 2 }]);
    let round = (
        proptest::collection::vec(write, 2..5),
        proptest::collection::vec(heal, 0..4),
    )
        .prop_map(|(mut writes, heals)| {
            writes.extend(heals);
            writes
        });
    proptest::collection::vec(round, 2..6).prop_map(|rounds| rounds.concat())
}

/// Ids the harness has seen created, so generated indices can name them.
#[derive(Default)]
struct Registry {
    orgs: Vec<String>,
    roles: Vec<String>,
    members: Vec<String>,
    devices: Vec<String>,
    shares: Vec<String>,
    users: Vec<String>,
    /// Roles created by the history (built-ins cannot be deleted), so that
    /// deleting a role is tried where it can succeed.
    custom_roles: Vec<String>,
    templates: Vec<String>,
}

/// The `i`-th most recently created (wrapping), or a name nothing has.
fn pick(list: &[String], i: u8) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list[list.len() - 1 - i as usize % list.len()].clone()
    }
}

struct Replica {
    repo: Repo,
    handle: DocHandle,
    acceptor: AcceptorHandle,
    name: String,
    clock: Clock,
    /// The state materialized incrementally from this replica's document.
    view: Materialized,
}

struct World {
    replicas: Vec<Replica>,
    model: Model,
    registry: Registry,
    admin: String,
    /// Audit op ids of every accepted operation (M5).
    accepted: BTreeSet<String>,
}

impl World {
    /// Runs `op` on replica `r`; on success records its effect with `r`'s clock.
    fn run(&mut self, r: usize, caller: &Caller, op: &Op) {
        let reg = &self.registry;
        let Replica {
            handle, view, name, ..
        } = &mut self.replicas[r];
        let outcome = handle.with_document(|doc| {
            Tenant::with_doc(doc, view, name, |t| {
                let effects = apply(t, caller, op, reg)?;
                let op_id = t.audit_log().ok()?.last()?.op.clone();
                Some((op_id, effects(t.state().ok()?)))
            })
        });
        let Some((op_id, effects)) = outcome else {
            return;
        };
        let replica = &mut self.replicas[r];
        replica.clock[r] += 1;
        for effect in &effects {
            self.model.apply(&replica.clock, &op_id, effect);
            let reg = &mut self.registry;
            match effect {
                Effect::CreateUser { id, .. } => reg.users.push(id.clone()),
                Effect::CreateMembership { id, .. } => reg.members.push(id.clone()),
                Effect::CreateOrg { id, .. } => reg.orgs.push(id.clone()),
                Effect::CreateRole { id, .. } => {
                    reg.roles.push(id.clone());
                    reg.custom_roles.push(id.clone());
                }
                Effect::CreateDevice { id, .. } => reg.devices.push(id.clone()),
                Effect::CreateShare { id, .. } => reg.shares.push(id.clone()),
                Effect::CreateTemplate(id) => reg.templates.push(id.clone()),
                _ => {}
            }
        }
        self.accepted.insert(op_id);
    }

    async fn sync(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let dialer = Arc::new(ChannelDialer::new(self.replicas[b].acceptor.clone()));
        let dh = self.replicas[a]
            .repo
            .dial(BackoffConfig::default(), dialer)
            .unwrap();
        tokio::time::timeout(WAIT, dh.established())
            .await
            .expect("connect")
            .expect("handshake");
        let conn = dh.connection_id().expect("connected");
        let handle = &self.replicas[a].handle;
        tokio::time::timeout(WAIT, async {
            handle.they_have_our_changes(conn).await;
            handle.we_have_their_changes(conn).await;
        })
        .await
        .expect("sync settles");
        dh.close();
        let merged: Clock = self.replicas[a]
            .clock
            .iter()
            .zip(&self.replicas[b].clock)
            .map(|(x, y)| *x.max(y))
            .collect();
        self.replicas[a].clock = merged.clone();
        self.replicas[b].clock = merged;
    }

    /// Replica `r`'s state and audit log, checking on the way that the
    /// incrementally materialized state equals a read from scratch.
    fn state(&mut self, r: usize) -> (TenantState, Vec<AuditEntry>) {
        let Replica {
            handle, view, name, ..
        } = &mut self.replicas[r];
        // Asserting inside `with_document` would abort the process (samod).
        let (incremental, scratch, log) = handle.with_document(|doc| {
            let scratch = TenantState::read(doc).expect("readable");
            let log = audit_entries(doc).expect("readable");
            let incremental = Tenant::with_doc(doc, view, name, |t| t.state().cloned());
            (incremental.expect("readable"), scratch, log)
        });
        assert!(
            incremental == scratch,
            "the incrementally maintained state and indexes differ from a read from scratch"
        );
        (scratch, log)
    }
}

/// The permissions whose bits (in `Permission::ALL` order) are set.
fn perms(bits: u8) -> PermSet {
    PermSet::of(
        &Permission::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, p)| p)
            .collect::<Vec<_>>(),
    )
}

/// Reads, from the local state right after an operation, what it wrote.
type ReadEffects = Box<dyn FnOnce(&TenantState) -> Vec<Effect>>;

/// Applies `op`; on success returns a function that reads, from the local
/// state right after the operation, what it wrote.
fn apply(t: &mut Tenant, caller: &Caller, op: &Op, reg: &Registry) -> Option<ReadEffects> {
    match op.clone() {
        Op::Invite { email, org, role } => {
            let inv = t
                .invite(
                    caller,
                    EMAILS[email as usize],
                    &pick(&reg.orgs, org),
                    &pick(&reg.roles, role),
                    NOW,
                )
                .ok()?;
            let email = EMAILS[email as usize].to_owned();
            Some(Box::new(move |s: &TenantState| {
                let m = &s.memberships()[&inv.membership];
                let mut out = Vec::new();
                if !inv.existing_user {
                    out.push(Effect::CreateUser {
                        id: inv.user.clone(),
                        email,
                    });
                }
                out.push(Effect::CreateMembership {
                    id: m.id.clone(),
                    user: m.user.clone(),
                    org: m.org.clone(),
                    role: m.role.clone(),
                });
                out
            }))
        }
        Op::RemoveMember { member } => {
            let m = pick(&reg.members, member);
            t.remove_member(caller, &m, NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::RemoveMembership(m)]
            }))
        }
        Op::ChangeRole { member, role } => {
            let (m, role) = (pick(&reg.members, member), pick(&reg.roles, role));
            t.change_role(caller, &m, &role, NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::SetRole {
                    membership: m,
                    role,
                }]
            }))
        }
        Op::CreateOrg { parent } => {
            let parent = pick(&reg.orgs, parent);
            let id = t.create_org(caller, &parent, "org", NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::CreateOrg {
                    id,
                    parent: Some(parent),
                }]
            }))
        }
        Op::DeleteOrg { org } => {
            let org = pick(&reg.orgs, org);
            // The roles defined in it that this replica knew go with it, in
            // the same change (DESIGN §3); one created concurrently elsewhere
            // does not.
            let roles: Vec<String> = t
                .state()
                .ok()?
                .roles()
                .values()
                .filter(|r| r.org == org && !r.deleted)
                .map(|r| r.id.clone())
                .collect();
            t.delete_org(caller, &org, NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                let mut out = vec![Effect::DeleteOrg(org)];
                out.extend(roles.into_iter().map(Effect::DeleteRole));
                out
            }))
        }
        Op::AddDevice { org } => {
            let id = t
                .add_device(caller, &pick(&reg.orgs, org), "device", None, NOW)
                .ok()?;
            Some(Box::new(move |s: &TenantState| {
                vec![Effect::CreateDevice {
                    placement: s.devices()[&id].placement.clone(),
                    id,
                }]
            }))
        }
        Op::MoveDevice { device, org } => {
            let device = pick(&reg.devices, device);
            t.move_device(caller, &device, &pick(&reg.orgs, org), NOW)
                .ok()?;
            Some(Box::new(move |s: &TenantState| {
                vec![Effect::SetPlacement {
                    placement: s.devices()[&device].placement.clone(),
                    device,
                }]
            }))
        }
        Op::Transfer {
            device,
            email,
            dest,
        } => {
            let device = pick(&reg.devices, device);
            let dest = dest.map(|d| pick(&reg.orgs, d));
            match t
                .transfer(
                    caller,
                    &device,
                    EMAILS[email as usize],
                    dest.as_deref(),
                    NOW,
                )
                .ok()?
            {
                Transfer::AlreadyOwner(_) => None,
                Transfer::Done { .. } => Some(Box::new(move |s: &TenantState| {
                    vec![Effect::SetPlacement {
                        placement: s.devices()[&device].placement.clone(),
                        device,
                    }]
                })),
            }
        }
        Op::Share {
            device,
            email,
            control,
            hours,
        } => {
            let level = if control { Level::Control } else { Level::View };
            let expires = hours.map(|h| NOW + (i64::from(h) + 1) * HOUR);
            let id = t
                .share(
                    caller,
                    &pick(&reg.devices, device),
                    EMAILS[email as usize],
                    level,
                    expires,
                    NOW,
                )
                .ok()?;
            Some(Box::new(move |s: &TenantState| {
                let sh = &s.shares()[&id];
                vec![Effect::CreateShare {
                    id: id.clone(),
                    device: sh.device.clone(),
                    user: sh.user.clone(),
                    level: sh.level,
                    expires: sh.expires,
                    membership: sh.membership.clone(),
                }]
            }))
        }
        Op::Unshare { share } => {
            let share = pick(&reg.shares, share);
            t.unshare(caller, &share, NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::RevokeShare(share)]
            }))
        }
        Op::CreateRole { org, perms: bits } => {
            let org = pick(&reg.orgs, org);
            let id = t
                .create_role(caller, &org, &format!("role-{bits}"), perms(bits), NOW)
                .ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::CreateRole {
                    id,
                    org,
                    perms: perms(bits),
                }]
            }))
        }
        Op::DeleteDevice { device } => {
            let device = pick(&reg.devices, device);
            t.delete_device(caller, &device, NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::DeleteDevice(device)]
            }))
        }
        Op::DeleteRole { role } => {
            let role = pick(&reg.custom_roles, role);
            t.delete_role(caller, &role, NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::DeleteRole(role)]
            }))
        }
        Op::ChangeEmail { user, email } => {
            let user = pick(&reg.users, user);
            let email = EMAILS[email as usize];
            t.change_email(caller, &user, email, NOW).ok()?;
            let email = email.to_owned();
            // It writes every account of that person (canonical and aliases),
            // so right after it exactly those carry the new address locally.
            Some(Box::new(move |s: &TenantState| {
                s.users()
                    .values()
                    .filter(|u| u.email == email)
                    .map(|u| Effect::SetEmail {
                        user: u.id.clone(),
                        email: email.clone(),
                    })
                    .collect()
            }))
        }
        Op::EditRole { role, perms: bits } => {
            let role = pick(&reg.roles, role);
            t.edit_role(caller, &role, perms(bits), NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::SetPerms {
                    role,
                    perms: perms(bits),
                }]
            }))
        }
        Op::Rename { org, target, name } => {
            let name = format!("name-{name}");
            let (what, id) = if org {
                let id = pick(&reg.orgs, target);
                t.rename_org(caller, &id, &name, NOW).ok()?;
                (Named::Org, id)
            } else {
                let id = pick(&reg.devices, target);
                t.rename_device(caller, &id, &name, NOW).ok()?;
                (Named::Device, id)
            };
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::Rename { what, id, name }]
            }))
        }
        Op::RewriteRole { role } => {
            let role = pick(&reg.roles, role);
            let perms = t.state().ok()?.roles().get(&role)?.perms;
            t.edit_role(caller, &role, perms, NOW).ok()?;
            Some(Box::new(move |_: &TenantState| {
                vec![Effect::SetPerms { role, perms }]
            }))
        }
        Op::Template { org, pins, edit } => {
            let definition = Definition {
                datastreams: (0..pins)
                    .map(|pin| Datastream {
                        pin,
                        name: format!("V{pin}"),
                        kind: DatastreamKind::Double {
                            min: 0.0,
                            max: 100.0,
                            default: None,
                            step: None,
                        },
                        unit: Some("%".into()),
                        history: true,
                        retention_days: None,
                        sync_on_connect: false,
                        invalidate_after_secs: None,
                        wait_for_confirmation: false,
                    })
                    .collect(),
                events: Vec::new(),
            };
            if edit && !reg.templates.is_empty() {
                let template = pick(&reg.templates, 0);
                t.edit_template(caller, &template, &definition, NOW).ok()?;
                Some(Box::new(|_: &TenantState| Vec::new()))
            } else {
                let org = pick(&reg.orgs, org);
                let id = t
                    .create_template(caller, &org, "template", &definition, NOW)
                    .ok()?;
                Some(Box::new(move |_: &TenantState| {
                    vec![Effect::CreateTemplate(id)]
                }))
            }
        }
        Op::SetBleMac { device, mac } => {
            let mac = mac.map(|m| format!("A4:C1:38:00:00:0{m}"));
            t.set_ble_mac(caller, &pick(&reg.devices, device), mac.as_deref(), NOW)
                .ok()?;
            Some(Box::new(|_: &TenantState| Vec::new()))
        }
    }
}

/// `n` replicas of one tenant: r0 founds it and sets up a household, then
/// every replica fetches the document from r0.
async fn new_world(n: usize) -> World {
    let mut repos = Vec::new();
    for i in 0..n {
        let repo = Repo::build_tokio()
            .with_peer_id(PeerId::from(format!("r{i}")))
            .load()
            .await;
        let acceptor = repo
            .make_acceptor(Url::parse(&format!("channel://r{i}")).unwrap())
            .unwrap();
        repos.push((repo, acceptor));
    }
    let (tenant, founded) = Tenant::found("r0", "Home", "admin@h.test", NOW).unwrap();
    let founding = TenantState::read(tenant.doc()).unwrap();
    let founding_op = audit_entries(tenant.doc()).unwrap()[0].op.clone();
    let first = repos[0].0.create(tenant.into_doc()).await.unwrap();
    let mut replicas: Vec<Replica> = Vec::new();
    for (i, (repo, acceptor)) in repos.into_iter().enumerate() {
        let handle = if i == 0 {
            first.clone()
        } else {
            let dialer = Arc::new(ChannelDialer::new(replicas[0].acceptor.clone()));
            let dh = repo.dial(BackoffConfig::default(), dialer).unwrap();
            tokio::time::timeout(WAIT, dh.established())
                .await
                .expect("connect")
                .expect("handshake");
            let handle = tokio::time::timeout(WAIT, repo.find(first.document_id().clone()))
                .await
                .expect("find")
                .unwrap()
                .expect("r0 has the document");
            dh.close();
            handle
        };
        replicas.push(Replica {
            repo,
            handle,
            acceptor,
            name: format!("r{i}"),
            clock: vec![0; n],
            view: Materialized::default(),
        });
    }
    let mut world = World {
        replicas,
        model: Model::default(),
        registry: Registry::default(),
        admin: founded.admin.clone(),
        accepted: BTreeSet::new(),
    };
    // The founding change happened before everything else: an all-zero clock.
    let zero = vec![0; n];
    world.model.apply(
        &zero,
        &founding_op,
        &Effect::CreateOrg {
            id: founded.root_org.clone(),
            parent: None,
        },
    );
    for (id, role) in founding.roles() {
        world.model.apply(
            &zero,
            &founding_op,
            &Effect::CreateRole {
                id: id.clone(),
                org: role.org.clone(),
                perms: role.perms,
            },
        );
        world.registry.roles.push(id.clone());
    }
    world.model.apply(
        &zero,
        &founding_op,
        &Effect::CreateUser {
            id: founded.admin.clone(),
            email: "admin@h.test".into(),
        },
    );
    world.model.apply(
        &zero,
        &founding_op,
        &Effect::CreateMembership {
            id: founded.admin_membership.clone(),
            user: founded.admin.clone(),
            org: founded.root_org.clone(),
            role: "admin".into(),
        },
    );
    world.registry.orgs.push(founded.root_org.clone());
    world.registry.users.push(founded.admin.clone());
    world.accepted.insert(founding_op.clone());
    // A household to act on: two members, a sub-organization, two devices,
    // a share and a custom role.
    let admin = Caller::user(&founded.admin);
    // Roles were pushed in id order: admin, staff, user (index 0 = newest = user).
    world.run(
        0,
        &admin,
        &Op::Invite {
            email: 0,
            org: 0,
            role: 0,
        },
    ); // ann: User at the root
    world.run(
        0,
        &admin,
        &Op::Invite {
            email: 1,
            org: 0,
            role: 1,
        },
    ); // ben: Staff at the root
    world.run(0, &admin, &Op::CreateOrg { parent: 0 });
    world.run(0, &admin, &Op::AddDevice { org: 1 }); // in the root
    world.run(0, &admin, &Op::AddDevice { org: 0 }); // in the sub-organization
    world.run(
        0,
        &admin,
        &Op::Share {
            device: 1,
            email: 0,
            control: true,
            hours: Some(0),
        },
    );
    // A custom role at the root (view org devices, control own), held by
    // nobody yet: deleting it can succeed, and it races assignments to it.
    world.run(
        0,
        &admin,
        &Op::CreateRole {
            org: 1,
            perms: 0b1001,
        },
    );
    assert_eq!(world.accepted.len(), 8, "the setup must succeed");
    world.full_sync().await;
    world
}

impl World {
    /// Every replica exchanges with r0 twice: afterwards all hold everything.
    async fn full_sync(&mut self) {
        for _ in 0..2 {
            for i in 1..self.replicas.len() {
                self.sync(0, i).await;
            }
        }
    }

    fn caller(&self, c: u8) -> Caller {
        match c {
            0..=2 => Caller::user(&self.admin),
            _ => Caller::user(&pick(&self.registry.users, c)),
        }
    }

    async fn stop(self) {
        for r in self.replicas {
            r.repo.stop().await;
        }
    }
}

/// After full sync: M1 (identical state and decisions), M5 (every accepted
/// operation in every log), M6 (syncing again changes nothing), and every
/// access decision equal to the reference model's (M2–M4 by construction).
async fn check(world: &mut World) {
    world.full_sync().await;
    let heads: Vec<_> = world
        .replicas
        .iter()
        .map(|r| r.handle.with_document(|d| d.get_heads()))
        .collect();
    assert!(
        heads.windows(2).all(|w| w[0] == w[1]),
        "M1: replicas hold different changes"
    );
    let states: Vec<(TenantState, Vec<AuditEntry>)> =
        (0..world.replicas.len()).map(|r| world.state(r)).collect();
    let reference = &states[0].0;
    world.model.resolve(reference);
    let users: Vec<String> = world.model.users().cloned().collect();
    let devices: Vec<String> = world.model.devices().cloned().collect();
    for (state, log) in &states {
        let logged: BTreeSet<String> = log.iter().map(|e| e.op.clone()).collect();
        assert_eq!(
            logged, world.accepted,
            "M5: the audit log lacks or invents operations"
        );
        // M5: each operation's outcome is what the concurrent writes say.
        for view in audit::read(state, log, NOW, &Caller::Console) {
            let e = &view.entry;
            let Some(want) = world.model.expected(&e.op, &e.kind, &e.subject) else {
                continue;
            };
            let got = match &view.outcome {
                Outcome::Effective => Expected::Effective,
                Outcome::LostTo { to } => Expected::LostTo(to.clone()),
                Outcome::SupersededBy { by_op } => Expected::SupersededBy(by_op.clone()),
                Outcome::Merged { .. } => Expected::Merged,
                Outcome::Inert { .. } => Expected::Inert,
            };
            assert_eq!(
                got, want,
                "M5: the outcome of {} {} on {}",
                e.kind, e.op, e.subject
            );
        }
        // Around a one-hour share's expiry to the millisecond (M4, issue 14 item 5).
        for now in [NOW, NOW + HOUR - 1, NOW + HOUR, NOW + 5 * HOUR] {
            let access = Access::new(state, now);
            for user in &users {
                for device in &devices {
                    let got = access.device_level(user, &state.devices()[device]);
                    let want = world.model.level(user, device, now);
                    assert_eq!(
                        got,
                        want,
                        "user {user} device {device} at +{}h",
                        (now - NOW) / HOUR
                    );
                    let target = Target::Device(device);
                    assert_eq!(access.can(user, Action::View, target), want.is_some());
                    assert_eq!(
                        access.can(user, Action::Control, target),
                        want == Some(Level::Control)
                    );
                }
                // The listing (built from the indexes) names exactly the
                // devices the model lets the user reach, at the same level.
                let listed: Vec<(String, Level)> = access
                    .devices_of(user)
                    .into_iter()
                    .map(|d| (d.id, d.level))
                    .collect();
                let reachable: Vec<(String, Level)> = devices
                    .iter()
                    .filter_map(|d| Some((d.clone(), world.model.level(user, d, now)?)))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    .collect();
                assert_eq!(listed, reachable, "device list of {user}");
                let mut got: Vec<String> = access
                    .visible_orgs(user)
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                got.sort();
                assert_eq!(
                    got,
                    world.model.visible_orgs(user),
                    "visible organizations of {user}"
                );
                for org in world.model.orgs() {
                    assert_eq!(
                        access.can(user, Action::View, Target::Org(org)),
                        got.contains(org),
                        "can {user} view org {org}"
                    );
                }
            }
        }
    }
    world.full_sync().await;
    let again: Vec<_> = world
        .replicas
        .iter()
        .map(|r| r.handle.with_document(|d| d.get_heads()))
        .collect();
    assert_eq!(again, heads, "M6: a repeated sync changed something");
}

/// Histories per test function; the three functions below share the
/// total (they run in parallel).
fn cases() -> u32 {
    let total = std::env::var("HEARTH_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000u32);
    total.div_ceil(3)
}

fn run_history(replicas: usize, steps: &[Step]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut world = new_world(replicas).await;
        for step in steps {
            match step {
                Step::Op {
                    replica,
                    caller,
                    op,
                } => {
                    let caller = world.caller(*caller);
                    world.run(*replica as usize, &caller, op);
                }
                Step::Sync { a, b } => world.sync(*a as usize, *b as usize).await,
            }
        }
        check(&mut world).await;
        world.stop().await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn merge_rules_hold_and_match_the_reference_model((replicas, steps) in history()) {
        run_history(replicas, &steps);
    }

    /// The same property again, so the default 2000 histories use both cores.
    #[test]
    fn merge_rules_hold_and_match_the_reference_model_too((replicas, steps) in history()) {
        run_history(replicas, &steps);
    }

    #[test]
    fn merge_rules_hold_over_repeated_partitions_of_a_star(steps in partitions()) {
        run_history(3, &steps);
    }
}

/// Found by CI (random seed): a role "edited" on one replica to the
/// permissions it already had, concurrently with a real edit elsewhere. The
/// same-value write never reached the document (Automerge drops it), so it
/// could not take part in the intersection the model expected; such an edit
/// is now refused as changing nothing.
#[test]
fn regression_an_edit_to_the_same_permissions_changes_nothing() {
    let steps = vec![
        Step::Op {
            replica: 0,
            caller: 0,
            op: Op::DeleteDevice { device: 0 },
        },
        Step::Op {
            replica: 0,
            caller: 0,
            op: Op::EditRole { role: 1, perms: 37 },
        },
        Step::Op {
            replica: 0,
            caller: 0,
            op: Op::EditRole { role: 0, perms: 0 },
        },
        Step::Op {
            replica: 0,
            caller: 3,
            op: Op::Invite {
                email: 0,
                org: 0,
                role: 0,
            },
        },
        Step::Op {
            replica: 1,
            caller: 0,
            op: Op::EditRole { role: 5, perms: 12 },
        },
    ];
    run_history(4, &steps);
}

/// Found by CI: a role edited, then its organization deleted (which deletes
/// the roles defined there): the edit reads inert, "the role was deleted".
#[test]
fn regression_an_edit_of_a_role_whose_organization_was_deleted_is_inert() {
    let on_r1 = |op| Step::Op {
        replica: 1,
        caller: 0,
        op,
    };
    let steps = vec![
        on_r1(Op::CreateRole { org: 0, perms: 0 }),
        on_r1(Op::EditRole { role: 0, perms: 1 }),
        on_r1(Op::DeleteDevice { device: 0 }),
        on_r1(Op::DeleteOrg { org: 0 }),
        Step::Op {
            replica: 0,
            caller: 0,
            op: Op::Invite {
                email: 0,
                org: 0,
                role: 0,
            },
        },
    ];
    run_history(3, &steps);
}

/// Found by the star partitions: an email changed to the address it already
/// had, concurrently with a change to another. Automerge stored no new
/// value for the first (a put of the current value), only its `email_op`,
/// so the other change won the address while the first won the op: the log
/// called the lost change effective.
#[test]
fn regression_a_write_of_the_current_value_still_takes_part_in_the_conflict() {
    let steps = vec![
        Step::Op {
            replica: 0,
            caller: 0,
            op: Op::MoveDevice { device: 0, org: 1 },
        },
        Step::Op {
            replica: 2,
            caller: 0,
            op: Op::ChangeEmail { user: 1, email: 2 },
        },
        Step::Op {
            replica: 0,
            caller: 0,
            op: Op::ChangeEmail { user: 1, email: 0 },
        },
        Step::Op {
            replica: 0,
            caller: 0,
            op: Op::EditRole { role: 0, perms: 3 },
        },
    ];
    run_history(3, &steps);
}

/// Issue 14's escalation, step by step: a role edited concurrently on two
/// replicas (merged to the intersection), then, in a second partition, one
/// replica writes exactly the intersection that won while the other grants
/// manage_users and manage_roles. The role must hold only what both
/// concurrent edits granted, and the log must call both merged.
#[test]
fn regression_a_rewrite_of_the_winning_value_takes_part_in_the_next_conflict() {
    let edit = |replica, perms| Step::Op {
        replica,
        caller: 0,
        op: Op::EditRole { role: 0, perms },
    };
    let heal = [Step::Sync { a: 0, b: 1 }, Step::Sync { a: 0, b: 2 }];
    let mut steps = vec![edit(1, PALETTE[0]), edit(2, PALETTE[1])];
    steps.extend(heal.clone());
    steps.push(Step::Op {
        replica: 2,
        caller: 0,
        op: Op::RewriteRole { role: 0 },
    });
    steps.push(edit(1, PALETTE[2]));
    steps.extend(heal);
    run_history(3, &steps);
}
