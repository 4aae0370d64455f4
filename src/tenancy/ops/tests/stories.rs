//! The seed stories of the tenancy issue, told at library level on one
//! replica: shares, sub-organizations, invites, expiring shares and what
//! errors say. They never sync a second replica, and the clock is `NOW`.

use super::*;

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
