//! A device's sharing panel at library level: who holds it and why, as far
//! as the reader may see, with each person's level the one their commands
//! are checked with.

use super::*;

fn holders(t: &mut Tenant, by: &Caller, device: &str, now: i64) -> Vec<Holder> {
    let state = t.state().unwrap().clone();
    let found = device_holders(&state, by, device, now).unwrap();
    let access = Access::new(&state, now);
    for h in &found {
        assert_eq!(
            h.level,
            access.device_level(&h.user, &state.devices()[device]),
            "the panel's level is the one commands are checked with: {h:?}"
        );
    }
    found
}

fn kinds(h: &Holder) -> Vec<&'static str> {
    h.reasons
        .iter()
        .map(|r| match r {
            Reason::Owner { .. } => "owner",
            Reason::Role { .. } => "role",
            Reason::Share { .. } => "share",
        })
        .collect()
}

#[test]
fn a_lent_garage_door_shows_the_share_with_its_expiry_until_it_ends() {
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
    let until = NOW + 48 * HOUR;
    let share =
        h.t.share(
            &h.admin,
            &h.garage,
            &spouse.user,
            Level::View,
            Some(until),
            NOW,
        )
        .unwrap();

    let list = holders(&mut h.t, &h.admin, &h.garage, NOW);
    let emails: Vec<&str> = list.iter().map(|h| h.email.as_str()).collect();
    assert_eq!(emails, ["admin@example.org", "spouse@example.org"]);
    assert_eq!(list[1].level, Some(Level::View));
    assert_eq!(
        list[1].reasons,
        [Reason::Share {
            share: share.clone(),
            level: Level::View,
            expires: Some(until)
        }]
    );
    assert_eq!(list[0].level, Some(Level::Control));
    assert_eq!(
        kinds(&list[0]),
        ["owner", "role"],
        "the admin owns it and administers Home"
    );
    // Not on the beer machine's panel.
    let beer = holders(&mut h.t, &h.admin, &h.beer, NOW);
    assert!(beer.iter().all(|x| x.user != spouse.user), "{beer:?}");

    // She may see the door, but not who else may: that is for its owner and managers.
    assert!(matches!(
        device_holders(
            h.t.state().unwrap(),
            &Caller::user(&spouse.user),
            &h.garage,
            NOW
        ),
        Err(OpError::Denied {
            permission: ManageDevices,
            ..
        })
    ));
    // A person who may not see it learns nothing of it.
    assert!(matches!(
        device_holders(
            h.t.state().unwrap(),
            &Caller::user(&spouse.user),
            &h.beer,
            NOW
        ),
        Err(OpError::NotFound(_))
    ));

    // At the expiry (by the hub's clock) she is off the list by herself.
    let later = holders(&mut h.t, &h.admin, &h.garage, until);
    assert!(later.iter().all(|x| x.user != spouse.user), "{later:?}");
}

#[test]
fn a_sub_organizations_manager_sees_its_people_and_nobody_from_above() {
    let mut h = household();
    let family = h.t.create_org(&h.admin, &h.root, "Family", NOW).unwrap();
    let keeper =
        h.t.create_role(
            &h.admin,
            &family,
            "Keeper",
            PermSet::of(&[ViewOrgDevices, ManageDevices]),
            NOW,
        )
        .unwrap();
    let owner_role =
        h.t.create_role(
            &h.admin,
            &family,
            "Owner",
            PermSet::of(&[ControlOwnDevices]),
            NOW,
        )
        .unwrap();
    let mum =
        h.t.invite(&h.admin, "mum@example.org", &family, &keeper, NOW)
            .unwrap();
    let kid =
        h.t.invite(&h.admin, "kid@example.org", &family, &owner_role, NOW)
            .unwrap();
    h.t.transfer(&h.admin, &h.garage, &kid.user, Some(&family), NOW)
        .unwrap();

    // Mum manages Family's devices: she sees the kid (owner) and herself
    // (role), never the root admin, whose access comes from Home.
    let list = holders(&mut h.t, &Caller::user(&mum.user), &h.garage, NOW);
    let emails: Vec<&str> = list.iter().map(|h| h.email.as_str()).collect();
    assert_eq!(emails, ["kid@example.org", "mum@example.org"]);
    assert_eq!(kinds(&list[0]), ["owner"]);
    assert_eq!(list[0].level, Some(Level::Control));
    assert_eq!(list[1].level, Some(Level::View));
    let text = serde_json::to_string(&list).unwrap();
    assert!(!text.contains("Home") && !text.contains(&h.root), "{text}");
    assert!(!text.contains(&h.admin_id), "{text}");

    // The root admin sees all three, and why.
    let all = holders(&mut h.t, &h.admin, &h.garage, NOW);
    let emails: Vec<&str> = all.iter().map(|h| h.email.as_str()).collect();
    assert_eq!(
        emails,
        ["admin@example.org", "kid@example.org", "mum@example.org"]
    );
    assert!(matches!(&all[0].reasons[..], [Reason::Role { org_name, .. }] if org_name == "Home"));
}
