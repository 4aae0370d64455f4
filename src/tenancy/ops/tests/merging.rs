//! Merge rules on replicas that exchange changes through Automerge's sync
//! protocol: concurrent transfers, removals, deletions, moves and role
//! edits. They never touch a store or a network; replicas sync in memory.

use super::*;

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
