//! The seed stories of the tenancy issue, told at library level, and the
//! merge rules checked on replicas that exchange changes through Automerge's
//! sync protocol.

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

#[test]
fn garage_door_to_a_spouse_who_may_view_but_not_control_own_devices() {
    let mut h = household();
    let viewer =
        h.t.create_role(
            &h.admin,
            &h.root,
            "Viewer",
            PermSet::of(&[ViewOwnDevices]),
            NOW,
        )
        .unwrap();
    let spouse =
        h.t.invite(&h.admin, "spouse@example.org", &h.root, &viewer, NOW)
            .unwrap();
    assert!(spouse.warning.is_none());

    let done =
        h.t.transfer(&h.admin, &h.garage, "spouse@example.org", None, NOW)
            .unwrap();
    assert!(matches!(done, Transfer::Done { .. }), "{done:?}");

    assert_eq!(
        level(&mut h.t, &spouse.user, &h.garage, NOW),
        Some(Level::View)
    );
    assert_eq!(
        level(&mut h.t, &spouse.user, &h.beer, NOW),
        None,
        "the beer machine stays invisible"
    );
    let state = snapshot(&mut h.t);
    let hers = Access::new(&state, NOW).devices_of(&spouse.user);
    assert_eq!(
        hers.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["Garage door"]
    );
    assert!(hers[0].owned);
    // The admin still sees (and controls) both.
    assert_eq!(Access::new(&state, NOW).devices_of(&h.admin_id).len(), 2);
    assert_eq!(
        level(&mut h.t, &h.admin_id, &h.garage, NOW),
        Some(Level::Control)
    );

    // The two refusals Blynk's users trip on, said properly.
    let again =
        h.t.transfer(&h.admin, &h.garage, &spouse.user, None, NOW)
            .unwrap();
    assert!(
        matches!(&again, Transfer::AlreadyOwner(m) if m.contains("already owns Garage door")),
        "{again:?}"
    );
    let err =
        h.t.transfer(&h.admin, &h.garage, "neighbour@example.org", None, NOW)
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "neighbour@example.org is not a member of this household; invite them first — they keep their other memberships"
    );
    // She may not hand the beer machine to herself.
    let err =
        h.t.transfer(
            &Caller::user(&spouse.user),
            &h.beer,
            &spouse.user,
            None,
            NOW,
        )
        .unwrap_err();
    assert_eq!(err, OpError::NotFound(format!("device {}", h.beer)));

    // Her audit log tells nothing of the beer machine (issue 13, 6b): not
    // its adding, not its name, not its id; the garage door's story shows.
    h.t.rename_device(&h.admin, &h.beer, "Kegerator", NOW)
        .unwrap();
    let state = snapshot(&mut h.t);
    let log = audit::read(
        &state,
        &h.t.audit_log().unwrap(),
        NOW,
        &Caller::user(&spouse.user),
    );
    for view in &log {
        let text = serde_json::to_string(view).unwrap();
        assert!(!text.contains(&h.beer), "{text}");
        assert!(
            !text.contains("Beer machine") && !text.contains("Kegerator"),
            "{text}"
        );
    }
    assert!(
        log.iter()
            .any(|v| v.entry.subject == h.garage && v.entry.kind == "transfer")
    );
    let admins = audit::read(&state, &h.t.audit_log().unwrap(), NOW, &h.admin);
    assert!(
        admins.iter().any(|v| v.entry.subject == h.beer),
        "the admin sees it all"
    );
}

#[test]
fn a_family_sub_organization_sees_its_device_and_nothing_of_the_root() {
    let mut h = household();
    let family = h.t.create_org(&h.admin, &h.root, "Family", NOW).unwrap();
    let family_role =
        h.t.create_role(
            &h.admin,
            &family,
            "Family",
            PermSet::of(&[ViewOrgDevices]),
            NOW,
        )
        .unwrap();
    let kid =
        h.t.invite(&h.admin, "kid@example.org", &family, &family_role, NOW)
            .unwrap();
    h.t.transfer(&h.admin, &h.garage, &kid.user, Some(&family), NOW)
        .unwrap();

    let state = snapshot(&mut h.t);
    let access = Access::new(&state, NOW);
    let theirs = access.devices_of(&kid.user);
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].org_path, ["Family"], "no root organization name");
    assert_eq!(
        access.device_level(&kid.user, &state.devices()[&h.beer]),
        None
    );
    assert_eq!(
        access
            .visible_orgs(&kid.user)
            .into_iter()
            .collect::<Vec<_>>(),
        [family.as_str()]
    );

    // The root admin lists it without switching, labelled with its path.
    let admins = access.devices_of(&h.admin_id);
    let garage = admins.iter().find(|d| d.id == h.garage).unwrap();
    assert_eq!(garage.org_path, ["Home", "Family"]);

    // Probing the root from below learns nothing.
    let kid_caller = Caller::user(&kid.user);
    assert!(matches!(
        h.t.create_org(&kid_caller, &h.root, "x", NOW),
        Err(OpError::NotFound(_))
    ));
    assert!(matches!(
        h.t.rename_device(&kid_caller, &h.beer, "x", NOW),
        Err(OpError::NotFound(_))
    ));
    let root_admin_membership = state
        .memberships()
        .values()
        .find(|m| m.user == h.admin_id)
        .unwrap()
        .id
        .clone();
    assert!(matches!(
        h.t.change_role(&kid_caller, &root_admin_membership, "user", NOW),
        Err(OpError::NotFound(_))
    ));

    // Their audit view holds no root-organization event and no root actor.
    let log = audit::read(&state, &h.t.audit_log().unwrap(), NOW, &kid_caller);
    assert!(!log.is_empty());
    for view in &log {
        assert_ne!(view.entry.subject, h.beer);
        assert_ne!(view.entry.subject, h.root);
        assert_ne!(view.entry.by, h.admin_id);
        assert!(!view.entry.detail.to_string().contains(&h.root), "{view:?}");
    }
    assert!(log.iter().any(|v| v.entry.by == audit::HIDDEN_ACTOR));
}

#[test]
fn inviting_an_address_present_elsewhere_is_normal() {
    let mut h = household();
    let garden =
        h.t.create_org(&h.admin, &h.root, "Garden club", NOW)
            .unwrap();
    let first =
        h.t.invite(&h.admin, "friend@example.org", &h.root, "user", NOW)
            .unwrap();
    let second =
        h.t.invite(&h.admin, " FRIEND@example.org", &garden, "staff", NOW)
            .unwrap();
    assert!(!first.existing_user && second.existing_user);
    assert_eq!(first.user, second.user);
    assert_ne!(first.membership, second.membership);
    // A second household may have the same person too.
    let (_, other) = Tenant::found("hub-b", "Cottage", "friend@example.org", NOW).unwrap();
    assert!(!other.admin.is_empty());
    // Inviting with a role that can see nothing is allowed, and said.
    let guests = h.t.create_org(&h.admin, &h.root, "Guests", NOW).unwrap();
    let nothing =
        h.t.create_role(&h.admin, &guests, "Guest", PermSet::EMPTY, NOW)
            .unwrap();
    let guest =
        h.t.invite(&h.admin, "guest@example.org", &guests, &nothing, NOW)
            .unwrap();
    assert!(guest.warning.unwrap().contains("can see no devices"));
}

#[test]
fn a_guests_expiring_share_stops_at_expiry_by_the_hubs_clock() {
    let mut h = household();
    let guests = h.t.create_org(&h.admin, &h.root, "Guests", NOW).unwrap();
    let nothing =
        h.t.create_role(&h.admin, &guests, "Guest", PermSet::EMPTY, NOW)
            .unwrap();
    let guest =
        h.t.invite(&h.admin, "guest@example.org", &guests, &nothing, NOW)
            .unwrap();
    h.t.share(
        &h.admin,
        &h.garage,
        "guest@example.org",
        Level::Control,
        Some(NOW + HOUR),
        NOW,
    )
    .unwrap();

    assert_eq!(
        level(&mut h.t, &guest.user, &h.garage, NOW + HOUR - 1),
        Some(Level::Control)
    );
    assert_eq!(level(&mut h.t, &guest.user, &h.garage, NOW + HOUR), None);
    let state = snapshot(&mut h.t);
    let shown = Access::new(&state, NOW).devices_of(&guest.user);
    assert_eq!(shown.len(), 1);
    assert!(
        shown[0].org_path.is_empty(),
        "a share shows nothing of the device's organization"
    );
    assert_eq!(level(&mut h.t, &guest.user, &h.beer, NOW), None);
}

#[test]
fn errors_say_what_to_do() {
    let mut h = household();
    let family = h.t.create_org(&h.admin, &h.root, "Family", NOW).unwrap();
    h.t.move_device(&h.admin, &h.garage, &family, NOW).unwrap();
    let err =
        h.t.delete_org(&h.admin, &family, NOW)
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("devices: Garage door") && err.contains("move or remove them first"),
        "{err}"
    );
    let err =
        h.t.delete_org(&h.admin, &h.root, NOW)
            .unwrap_err()
            .to_string();
    assert!(err.contains("root organization cannot be deleted"), "{err}");
    let me = snapshot(&mut h.t)
        .memberships()
        .values()
        .next()
        .unwrap()
        .id
        .clone();
    let err =
        h.t.remove_member(&h.admin, &me, NOW)
            .unwrap_err()
            .to_string();
    assert!(err.contains("last administrator"), "{err}");
    let plain =
        h.t.invite(&h.admin, "p@example.org", &h.root, "user", NOW)
            .unwrap();
    let err =
        h.t.add_device(&Caller::user(&plain.user), &h.root, "x", None, NOW)
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "you need the manage_devices permission in organization \"Home\" for this"
    );
    // Removing a member who owns devices is allowed and lists them.
    h.t.transfer(&h.admin, &h.beer, &plain.user, None, NOW)
        .unwrap();
    let removed = h.t.remove_member(&h.admin, &plain.membership, NOW).unwrap();
    assert_eq!(removed.ownerless_devices, [h.beer.clone()]);
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

#[test]
fn concurrent_transfers_leave_one_owner_and_the_log_says_who_lost() {
    let mut h = household();
    let alice =
        h.t.invite(&h.admin, "alice@example.org", &h.root, "user", NOW)
            .unwrap();
    let bob =
        h.t.invite(&h.admin, "bob@example.org", &h.root, "user", NOW)
            .unwrap();
    let mut other = replica(&mut h.t, "hub-b");
    h.t.transfer(&h.admin, &h.garage, &alice.user, None, NOW)
        .unwrap();
    other
        .transfer(&h.admin, &h.garage, &bob.user, None, NOW)
        .unwrap();
    converge(&mut h.t, &mut other);

    let (sa, sb) = (snapshot(&mut h.t), snapshot(&mut other));
    let owner = |s: &TenantState| {
        Access::new(s, NOW)
            .effective_owner(&s.devices()[&h.garage])
            .map(|m| m.user.clone())
    };
    assert_eq!(
        owner(&sa),
        owner(&sb),
        "M1/M2: one owner, the same everywhere"
    );
    assert!(owner(&sa) == Some(alice.user.clone()) || owner(&sa) == Some(bob.user.clone()));
    let logs = [h.t.audit_log().unwrap(), other.audit_log().unwrap()];
    for (state, log) in [(&sa, &logs[0]), (&sb, &logs[1])] {
        let log = audit::read(state, log, NOW, &h.admin);
        let transfers: Vec<_> = log.iter().filter(|v| v.entry.kind == "transfer").collect();
        assert_eq!(transfers.len(), 2, "M5: both operations are in every log");
        let winner = transfers
            .iter()
            .find(|v| v.outcome == Outcome::Effective)
            .unwrap();
        let loser = transfers
            .iter()
            .find(|v| v.outcome != Outcome::Effective)
            .unwrap();
        assert_eq!(
            loser.outcome,
            Outcome::LostTo {
                to: winner.entry.op.clone()
            }
        );
    }
}

#[test]
fn removal_wins_over_a_concurrent_share_transfer_or_role_change() {
    let mut h = household();
    let carol =
        h.t.invite(&h.admin, "carol@example.org", &h.root, "user", NOW)
            .unwrap();
    let mut other = replica(&mut h.t, "hub-b");
    h.t.remove_member(&h.admin, &carol.membership, NOW).unwrap();
    other
        .share(&h.admin, &h.beer, &carol.user, Level::Control, None, NOW)
        .unwrap();
    other
        .transfer(&h.admin, &h.garage, &carol.user, None, NOW)
        .unwrap();
    other
        .change_role(&h.admin, &carol.membership, "staff", NOW)
        .unwrap();
    converge(&mut h.t, &mut other);

    for t in [&mut h.t, &mut other] {
        let state = snapshot(t);
        let access = Access::new(&state, NOW);
        assert!(
            state.memberships()[&carol.membership].removed,
            "M3: stays removed"
        );
        assert_eq!(
            access.device_level(&carol.user, &state.devices()[&h.beer]),
            None
        );
        assert_eq!(
            access.device_level(&carol.user, &state.devices()[&h.garage]),
            None
        );
        assert!(
            access
                .effective_owner(&state.devices()[&h.garage])
                .is_none(),
            "ownerless, not owned by an outsider"
        );
        let log = audit::read(&state, &t.audit_log().unwrap(), NOW, &Caller::Console);
        let share = log.iter().find(|v| v.entry.kind == "share").unwrap();
        assert!(
            matches!(&share.outcome, Outcome::Inert { reason } if reason.contains("membership")),
            "{share:?}"
        );
    }
}

#[test]
fn deleting_an_organization_deletes_its_roles_visibly_even_against_a_concurrent_edit_or_invite() {
    let mut h = household();
    let club = h.t.create_org(&h.admin, &h.root, "Club", NOW).unwrap();
    let coach =
        h.t.create_role(
            &h.admin,
            &club,
            "Coach",
            PermSet::of(&[ViewOrgDevices]),
            NOW,
        )
        .unwrap();
    let mut b = replica(&mut h.t, "hub-b");
    let deleted = h.t.delete_org(&h.admin, &club, NOW).unwrap();
    let edit = b
        .edit_role(
            &h.admin,
            &coach,
            PermSet::of(&[ViewOrgDevices, ManageUsers]),
            NOW,
        )
        .unwrap();
    let invited = b
        .invite(&h.admin, "player@example.org", &club, &coach, NOW)
        .unwrap();
    converge(&mut h.t, &mut b);
    for t in [&mut h.t, &mut b] {
        let state = snapshot(t);
        assert!(
            state.roles()[&coach].deleted,
            "the role went with its organization"
        );
        let log = audit::read(&state, &t.audit_log().unwrap(), NOW, &h.admin);
        let entry = log.iter().find(|v| v.entry.op == deleted).unwrap();
        assert_eq!(
            entry.entry.detail["roles_deleted"],
            serde_json::json!(["Coach"])
        );
        let outcome = |op: &str| {
            log.iter()
                .find(|v| v.entry.op == op)
                .unwrap()
                .outcome
                .clone()
        };
        assert!(
            matches!(outcome(&edit), Outcome::Inert { .. }),
            "{:?}",
            outcome(&edit)
        );
        assert!(
            matches!(outcome(&invited.op), Outcome::Inert { .. }),
            "{:?}",
            outcome(&invited.op)
        );
        let access = Access::new(&state, NOW);
        assert_eq!(access.memberships_of(&invited.user).count(), 0);
    }
    // Later operations on it say it was deleted.
    let err =
        h.t.edit_role(&h.admin, &coach, PermSet::EMPTY, NOW)
            .unwrap_err();
    assert!(err.to_string().contains("was deleted"), "{err}");
}

#[test]
fn a_device_moved_into_a_concurrently_deleted_org_falls_back_to_its_parent() {
    let mut h = household();
    let shed = h.t.create_org(&h.admin, &h.root, "Shed", NOW).unwrap();
    let mut other = replica(&mut h.t, "hub-b");
    h.t.delete_org(&h.admin, &shed, NOW).unwrap();
    other.move_device(&h.admin, &h.garage, &shed, NOW).unwrap();
    converge(&mut h.t, &mut other);
    let state = snapshot(&mut h.t);
    let access = Access::new(&state, NOW);
    assert_eq!(
        access.effective_org(&state.devices()[&h.garage]),
        Some(h.root.as_str())
    );
    assert_eq!(
        access.device_level(&h.admin_id, &state.devices()[&h.garage]),
        Some(Level::Control)
    );
}

#[test]
fn concurrent_role_edits_intersect_and_concurrent_invites_are_one_person() {
    let mut h = household();
    let role =
        h.t.create_role(
            &h.admin,
            &h.root,
            "Helper",
            PermSet::of(&[ViewOrgDevices, ControlOrgDevices]),
            NOW,
        )
        .unwrap();
    let mut other = replica(&mut h.t, "hub-b");
    h.t.edit_role(&h.admin, &role, PermSet::of(&[ViewOrgDevices]), NOW)
        .unwrap();
    other
        .edit_role(
            &h.admin,
            &role,
            PermSet::of(&[ViewOrgDevices, ControlOrgDevices, ManageUsers]),
            NOW,
        )
        .unwrap();
    let a =
        h.t.invite(&h.admin, "dave@example.org", &h.root, &role, NOW)
            .unwrap();
    let b = other
        .invite(&h.admin, "dave@example.org", &h.root, "user", NOW)
        .unwrap();
    assert_ne!(a.user, b.user);
    converge(&mut h.t, &mut other);

    let state = snapshot(&mut h.t);
    assert_eq!(
        state.roles()[&role].perms,
        PermSet::of(&[ViewOrgDevices]),
        "removal wins: intersection"
    );
    assert_eq!(
        state.canonical(&a.user),
        state.canonical(&b.user),
        "one person"
    );
    let lowest = a.user.clone().min(b.user.clone());
    assert_eq!(state.user_by_email("dave@example.org").unwrap().id, lowest);
    let access = Access::new(&state, NOW);
    assert_eq!(access.memberships_of(&a.user).count(), 2);
    assert_eq!(
        access.device_level(&b.user, &state.devices()[&h.beer]),
        Some(Level::View)
    );
}

#[test]
fn an_edit_that_rewrites_the_value_that_won_a_conflict_still_intersects() {
    // Issue 14's history, for two roles so that on one of them the value
    // rewritten is the one the register shows (whichever side wins ties):
    // a conflict whose intersection equals one side's value, then that
    // side writes it again while the other side grants more.
    let mut h = household();
    let roles: Vec<_> = ["Helper", "Sitter"]
        .iter()
        .map(|name| {
            h.t.create_role(&h.admin, &h.root, name, PermSet::EMPTY, NOW)
                .unwrap()
        })
        .collect();
    let mut b = replica(&mut h.t, "hub-b");
    let small = PermSet::of(&[ViewOrgDevices]);
    let large = PermSet::of(&[ViewOrgDevices, ControlOrgDevices]);
    let grab = PermSet::of(&[ViewOrgDevices, ManageUsers, ManageRoles]);
    // Role 0: hub-b writes the small set; role 1: this hub does.
    h.t.edit_role(&h.admin, &roles[0], large, NOW).unwrap();
    b.edit_role(&h.admin, &roles[0], small, NOW).unwrap();
    h.t.edit_role(&h.admin, &roles[1], small, NOW).unwrap();
    b.edit_role(&h.admin, &roles[1], large, NOW).unwrap();
    converge(&mut h.t, &mut b);
    for role in &roles {
        assert_eq!(snapshot(&mut h.t).roles()[role].perms, small);
    }
    // The side that wrote the small set writes it again; the other grabs.
    b.edit_role(&h.admin, &roles[0], small, NOW).unwrap();
    h.t.edit_role(&h.admin, &roles[0], grab, NOW).unwrap();
    h.t.edit_role(&h.admin, &roles[1], small, NOW).unwrap();
    b.edit_role(&h.admin, &roles[1], grab, NOW).unwrap();
    converge(&mut h.t, &mut b);
    for state in [snapshot(&mut h.t), snapshot(&mut b)] {
        for role in &roles {
            assert_eq!(
                state.roles()[role].perms,
                small,
                "no edit granted manage_users or manage_roles alone"
            );
        }
    }
}

/// The one effective entry of `kind` on `subject`, and the others' outcomes,
/// in the log as the admin reads it.
fn outcomes_of(t: &mut Tenant, admin: &Caller, kind: &str, subject: &str) -> Vec<(Id, Outcome)> {
    let state = snapshot(t);
    audit::read(&state, &t.audit_log().unwrap(), NOW, admin)
        .into_iter()
        .filter(|v| v.entry.kind == kind && v.entry.subject == subject)
        .map(|v| (v.entry.op, v.outcome))
        .collect()
}

#[test]
fn every_last_writer_wins_field_says_which_operation_won_and_which_lost() {
    let mut h = household();
    let member =
        h.t.invite(&h.admin, "carol@example.org", &h.root, "user", NOW)
            .unwrap();
    let kids = h.t.create_org(&h.admin, &h.root, "Kids", NOW).unwrap();
    let mut b = replica(&mut h.t, "hub-b");
    // Concurrent writes of each field, one on each replica.
    h.t.rename_device(&h.admin, &h.beer, "Kegerator", NOW)
        .unwrap();
    b.rename_device(&h.admin, &h.beer, "Tap", NOW).unwrap();
    h.t.rename_org(&h.admin, &kids, "Children", NOW).unwrap();
    b.rename_org(&h.admin, &kids, "Young ones", NOW).unwrap();
    h.t.change_email(&h.admin, &member.user, "carol@home.example", NOW)
        .unwrap();
    b.change_email(&h.admin, &member.user, "c@home.example", NOW)
        .unwrap();
    h.t.change_role(&h.admin, &member.membership, "staff", NOW)
        .unwrap();
    b.change_role(&h.admin, &member.membership, "admin", NOW)
        .unwrap();
    converge(&mut h.t, &mut b);
    let fields = [
        ("rename_device", h.beer.clone()),
        ("rename_org", kids.clone()),
        ("change_email", member.user.clone()),
        ("change_role", member.membership.clone()),
    ];
    for (kind, subject) in &fields {
        for t in [&mut h.t, &mut b] {
            let seen = outcomes_of(t, &h.admin, kind, subject);
            assert_eq!(seen.len(), 2, "{kind}: both in the log: {seen:?}");
            let winners: Vec<_> = seen
                .iter()
                .filter(|(_, o)| *o == Outcome::Effective)
                .collect();
            assert_eq!(
                winners.len(),
                1,
                "{kind}: exactly one took effect: {seen:?}"
            );
            let winner = &winners[0].0;
            let loser = seen.iter().find(|(op, _)| op != winner).unwrap();
            assert_eq!(
                loser.1,
                Outcome::LostTo { to: winner.clone() },
                "{kind}: the other lost to the one that won, not to itself: {seen:?}"
            );
        }
    }
    // The value that stands is the winner's.
    let state = snapshot(&mut h.t);
    let name = &state.devices()[&h.beer].name;
    let seen = outcomes_of(&mut h.t, &h.admin, "rename_device", &h.beer);
    let log = h.t.audit_log().unwrap();
    let winner = seen.iter().find(|(_, o)| *o == Outcome::Effective).unwrap();
    let entry = log.iter().find(|e| e.op == winner.0).unwrap();
    assert_eq!(&entry.detail["name"], name.as_str());
    // A later rename overwrites both: they read superseded by it, it stands.
    let later = h.t.rename_device(&h.admin, &h.beer, "Beer", NOW).unwrap();
    for (op, outcome) in outcomes_of(&mut h.t, &h.admin, "rename_device", &h.beer) {
        if op == later {
            assert_eq!(outcome, Outcome::Effective);
        } else {
            assert_eq!(
                outcome,
                Outcome::SupersededBy {
                    by_op: later.clone()
                }
            );
        }
    }
    // A role edit overwritten later reads superseded, not effective.
    let role =
        h.t.create_role(
            &h.admin,
            &h.root,
            "Helper",
            PermSet::of(&[ViewOrgDevices]),
            NOW,
        )
        .unwrap();
    let first =
        h.t.edit_role(&h.admin, &role, PermSet::of(&[ViewOwnDevices]), NOW)
            .unwrap();
    let second = h.t.edit_role(&h.admin, &role, PermSet::EMPTY, NOW).unwrap();
    let seen = outcomes_of(&mut h.t, &h.admin, "edit_role", &role);
    assert!(
        seen.contains(&(
            first,
            Outcome::SupersededBy {
                by_op: second.clone()
            }
        )),
        "{seen:?}"
    );
    assert!(seen.contains(&(second, Outcome::Effective)), "{seen:?}");
}

#[test]
fn receiving_the_same_changes_again_changes_nothing() {
    let mut h = household();
    let mut other = replica(&mut h.t, "hub-b");
    other
        .rename_device(&h.admin, &h.beer, "Kegerator", NOW)
        .unwrap();
    converge(&mut h.t, &mut other);
    let before = h.t.doc().save();
    let changes: Vec<automerge::Change> = other.doc().get_changes(&[]);
    h.t.doc_mut().apply_changes(changes).unwrap();
    converge(&mut h.t, &mut other);
    assert_eq!(h.t.doc().save(), before, "M6");
    assert_eq!(h.t.state().unwrap().devices()[&h.beer].name, "Kegerator");
}

#[test]
fn a_newer_schema_keeps_syncing_but_refuses_operations_saying_why() {
    use automerge::transaction::Transactable;
    let mut h = household();
    let mut newer = replica(&mut h.t, "hub-from-the-future");
    newer
        .doc_mut()
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "schema", schema::SCHEMA_VERSION + 1)?;
            Ok(())
        })
        .unwrap();
    converge(&mut h.t, &mut newer);
    let err =
        h.t.rename_device(&h.admin, &h.beer, "Kegerator", NOW)
            .unwrap_err();
    assert_eq!(err, OpError::SchemaTooNew(schema::SCHEMA_VERSION + 1));
    assert!(
        err.to_string().contains("keeps syncing, but update hearth"),
        "{err}"
    );
    // Reading and access decisions go on.
    let state = snapshot(&mut h.t);
    assert_eq!(Access::new(&state, NOW).devices_of(&h.admin_id).len(), 2);
}

#[test]
fn changing_the_email_of_a_person_with_two_accounts_moves_both() {
    let mut h = household();
    let mut other = replica(&mut h.t, "hub-b");
    let a =
        h.t.invite(&h.admin, "erin@example.org", &h.root, "user", NOW)
            .unwrap();
    let b = other
        .invite(&h.admin, "erin@example.org", &h.root, "staff", NOW)
        .unwrap();
    converge(&mut h.t, &mut other);
    h.t.change_email(&h.admin, &b.user, "erin@new.example", NOW)
        .unwrap();
    let state = snapshot(&mut h.t);
    assert_eq!(state.users()[&a.user].email, "erin@new.example");
    assert_eq!(state.users()[&b.user].email, "erin@new.example");
    assert_eq!(
        state.canonical(&a.user),
        state.canonical(&b.user),
        "still one person"
    );
    assert_eq!(Access::new(&state, NOW).memberships_of(&a.user).count(), 2);
}

/// The state kept incrementally (local operations, then changes received by
/// sync) equals a read from scratch after every step, and was not simply
/// re-read in full each time.
#[test]
fn the_materialized_state_equals_a_read_from_scratch_after_every_step() {
    fn agrees(t: &mut Tenant) {
        let scratch = TenantState::read(t.doc()).unwrap();
        assert!(
            *t.state().unwrap() == scratch,
            "index and scratch read differ"
        );
    }
    let mut h = household();
    agrees(&mut h.t);
    let family = h.t.create_org(&h.admin, &h.root, "Family", NOW).unwrap();
    agrees(&mut h.t);
    let kid =
        h.t.invite(&h.admin, "kid@example.org", &family, "user", NOW)
            .unwrap();
    agrees(&mut h.t);
    let mut other = replica(&mut h.t, "hub-b");
    // Concurrently: one side moves the garage door into Family and shares
    // it, the other invites the kid's address again (one person, two ids).
    h.t.move_device(&h.admin, &h.garage, &family, NOW).unwrap();
    agrees(&mut h.t);
    h.t.share(&h.admin, &h.garage, &kid.user, Level::Control, None, NOW)
        .unwrap();
    other
        .invite(&h.admin, "kid@example.org", &h.root, "staff", NOW)
        .unwrap();
    agrees(&mut other);
    converge(&mut h.t, &mut other);
    agrees(&mut h.t);
    agrees(&mut other);
    h.t.remove_member(&h.admin, &kid.membership, NOW).unwrap();
    agrees(&mut h.t);
    let view = h.t.materialized();
    assert_eq!(view.full_reads, 1, "only the first look reads everything");
    assert!(view.refreshes >= 5, "{} refreshes", view.refreshes);
}

#[test]
fn templates_are_defined_per_organization_and_written_whole() {
    use crate::tenancy::template::{Datastream, DatastreamKind, Definition};
    let mut h = household();
    let family = h.t.create_org(&h.admin, &h.root, "Family", NOW).unwrap();
    let pin = |pin: u8, name: &str, min: i64, max: i64| Datastream {
        pin,
        name: name.into(),
        kind: DatastreamKind::Int {
            min,
            max,
            default: None,
        },
        unit: None,
        history: true,
        retention_days: None,
        sync_on_connect: false,
        invalidate_after_secs: None,
        wait_for_confirmation: false,
    };
    let def = Definition {
        datastreams: vec![pin(0, "Door", 0, 1)],
        events: vec![],
    };
    let bad = Definition {
        datastreams: vec![pin(1, "A", 0, 1), pin(1, "B", 0, 1)],
        events: vec![],
    };
    let err =
        h.t.create_template(&h.admin, &family, "Door", &bad, NOW)
            .unwrap_err();
    assert!(
        err.to_string().contains("two datastreams use pin V1"),
        "{err}"
    );
    let door =
        h.t.create_template(&h.admin, &family, "Door", &def, NOW)
            .unwrap();
    // Usable in Family, not in the root above it.
    let err =
        h.t.add_device(&h.admin, &h.root, "Front door", Some(&door), NOW);
    assert!(matches!(err, Err(OpError::NotFound(_))), "{err:?}");
    let front =
        h.t.add_device(&h.admin, &family, "Front door", Some(&door), NOW)
            .unwrap();

    // Concurrent edits: one whole definition wins on both replicas.
    let mut other = replica(&mut h.t, "hub-b");
    let two = Definition {
        datastreams: vec![pin(0, "Door", 0, 1), pin(1, "Battery", 0, 100)],
        events: vec![],
    };
    let three = Definition {
        datastreams: vec![pin(5, "Lock", 0, 1)],
        events: vec![],
    };
    h.t.edit_template(&h.admin, &door, &two, NOW).unwrap();
    other.edit_template(&h.admin, &door, &three, NOW).unwrap();
    converge(&mut h.t, &mut other);
    let a = snapshot(&mut h.t).templates()[&door].definition.clone();
    let b = snapshot(&mut other).templates()[&door].definition.clone();
    assert_eq!(a, b);
    assert!(a == two || a == three, "never a mix: {a:?}");

    let err = h.t.delete_template(&h.admin, &door, NOW).unwrap_err();
    assert!(err.to_string().contains("Front door"), "{err}");
    h.t.delete_device(&h.admin, &front, NOW).unwrap();
    h.t.delete_template(&h.admin, &door, NOW).unwrap();
}

#[test]
fn a_ble_mac_identifies_one_device() {
    let mut h = household();
    assert_eq!(
        normalize_mac("a4-c1-38-12-34-5f").unwrap(),
        "A4:C1:38:12:34:5F"
    );
    assert!(matches!(
        normalize_mac("a4:c1:38"),
        Err(OpError::Invalid(_))
    ));
    h.t.set_ble_mac(&h.admin, &h.garage, Some("a4c13812345f"), NOW)
        .unwrap();
    assert_eq!(
        snapshot(&mut h.t).devices()[&h.garage].ble_mac.as_deref(),
        Some("A4:C1:38:12:34:5F")
    );
    let err =
        h.t.set_ble_mac(&h.admin, &h.beer, Some("A4:C1:38:12:34:5F"), NOW)
            .unwrap_err();
    assert!(err.to_string().contains("Garage door"), "{err}");
    h.t.set_ble_mac(&h.admin, &h.garage, None, NOW).unwrap();
    h.t.set_ble_mac(&h.admin, &h.beer, Some("A4:C1:38:12:34:5F"), NOW)
        .unwrap();
    assert_eq!(snapshot(&mut h.t).devices()[&h.garage].ble_mac, None);
}

#[test]
fn a_sub_organization_admin_cannot_redirect_a_member_of_the_root() {
    let mut h = household();
    let family = h.t.create_org(&h.admin, &h.root, "Family", NOW).unwrap();
    let kid =
        h.t.invite(&h.admin, "kid@example.org", &family, "admin", NOW)
            .unwrap();
    let spouse =
        h.t.invite(&h.admin, "spouse@example.org", &h.root, "user", NOW)
            .unwrap();
    h.t.invite(&h.admin, "spouse@example.org", &family, "user", NOW)
        .unwrap();
    let kid_c = Caller::user(&kid.user);
    assert!(matches!(
        h.t.change_email(&kid_c, &spouse.user, "kid-owned@example.org", NOW),
        Err(OpError::Denied {
            permission: ManageUsers,
            ..
        })
    ));
    assert!(matches!(
        h.t.change_email(&kid_c, &h.admin_id, "kid-owned@example.org", NOW),
        Err(OpError::NotFound(_))
    ));
    // Within their own organization they may, and anyone may change their own.
    let cousin =
        h.t.invite(&h.admin, "cousin@example.org", &family, "user", NOW)
            .unwrap();
    h.t.change_email(&kid_c, &cousin.user, "cousin@example.net", NOW)
        .unwrap();
    h.t.change_email(
        &Caller::user(&spouse.user),
        &spouse.user,
        "me@example.net",
        NOW,
    )
    .unwrap();
}

#[test]
fn a_name_is_counted_in_characters_not_bytes() {
    let mut h = household();
    // 200 characters of two bytes each: as long as a name may be.
    let long: String = "é".repeat(200);
    h.t.rename_device(&h.admin, &h.beer, &long, NOW).unwrap();
    let too_long = format!("{long}é");
    let refused = h.t.rename_device(&h.admin, &h.beer, &too_long, NOW);
    assert!(
        matches!(&refused, Err(OpError::Invalid(m)) if m.contains("1 to 200 characters")),
        "{refused:?}"
    );
}

#[test]
fn a_refusal_names_only_the_devices_its_reader_may_see() {
    use crate::tenancy::template::Definition;
    let mut h = household();
    // Manages organizations and devices, but sees no device of the household.
    let keeper_role =
        h.t.create_role(
            &h.admin,
            &h.root,
            "Keeper",
            PermSet::of(&[ManageOrgs, ManageDevices]),
            NOW,
        )
        .unwrap();
    let keeper =
        h.t.invite(&h.admin, "keeper@example.org", &h.root, &keeper_role, NOW)
            .unwrap();
    let keeper = Caller::user(&keeper.user);
    let shed = h.t.create_org(&h.admin, &h.root, "Shed", NOW).unwrap();
    let def = Definition {
        datastreams: vec![],
        events: vec![],
    };
    let gate_kind =
        h.t.create_template(&h.admin, &shed, "Gate", &def, NOW)
            .unwrap();
    h.t.add_device(&h.admin, &shed, "Mower", Some(&gate_kind), NOW)
        .unwrap();

    let err = h.t.delete_org(&keeper, &shed, NOW).unwrap_err().to_string();
    assert!(
        err.contains("devices: 1 you may not see") && !err.contains("Mower"),
        "{err}"
    );
    let err =
        h.t.delete_template(&keeper, &gate_kind, NOW)
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("1 you may not see") && !err.contains("Mower"),
        "{err}"
    );
    // Who may see it is told its name.
    let err =
        h.t.delete_org(&h.admin, &shed, NOW)
            .unwrap_err()
            .to_string();
    assert!(err.contains("devices: Mower;"), "{err}");
}
