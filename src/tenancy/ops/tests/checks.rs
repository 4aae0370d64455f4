//! The checks operations make before writing: templates per organization,
//! BLE MACs, who may change an email, name lengths, and what a refusal
//! names. They never sync except in memory, and the clock is `NOW`.

use super::*;

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
            step: None,
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
    // A device becomes another kind only with a template usable where it is.
    for template in [door.as_str(), "no-such-template"] {
        let err =
            h.t.set_device_template(&h.admin, &h.garage, Some(template), NOW);
        assert!(
            matches!(&err, Err(OpError::Refused(m)) if m.contains("its own organization")),
            "the same answer whether it exists or not: {err:?}"
        );
    }
    h.t.set_device_template(&h.admin, &front, None, NOW)
        .unwrap();
    assert_eq!(snapshot(&mut h.t).devices()[&front].template, None);
    h.t.set_device_template(&h.admin, &front, Some(&door), NOW)
        .unwrap();
    assert_eq!(
        snapshot(&mut h.t).devices()[&front].template.as_deref(),
        Some(door.as_str())
    );

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
