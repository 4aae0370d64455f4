//! What replicas agree on after syncing: which last-writer-wins operation
//! the audit log says won, idempotent re-delivery, a newer schema, one
//! person's two accounts, and the materialized state against a read from
//! scratch. They never touch a store or a network; replicas sync in memory.

use super::*;

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
    let empty = crate::tenancy::template::Definition {
        datastreams: vec![],
        events: vec![],
    };
    let keg =
        h.t.create_template(&h.admin, &h.root, "Keg", &empty, NOW)
            .unwrap();
    let tap =
        h.t.create_template(&h.admin, &h.root, "Tap", &empty, NOW)
            .unwrap();
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
    h.t.set_device_template(&h.admin, &h.beer, Some(&keg), NOW)
        .unwrap();
    b.set_device_template(&h.admin, &h.beer, Some(&tap), NOW)
        .unwrap();
    converge(&mut h.t, &mut b);
    let fields = [
        ("rename_device", h.beer.clone()),
        ("rename_org", kids.clone()),
        ("change_email", member.user.clone()),
        ("change_role", member.membership.clone()),
        ("set_device_template", h.beer.clone()),
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
