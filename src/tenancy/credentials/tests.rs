//! Unit tests of the credentials document: tokens, bridges, hub credentials and password hashes,
//! merged across in-memory replicas; they never open a store or read the clock (`NOW` is fixed).

use super::*;
use crate::tenancy::Tenant;

const NOW: i64 = 1_700_000_000_000;

fn merged(a: &mut Automerge, b: &mut Automerge) {
    a.merge(b).unwrap();
    b.merge(a).unwrap();
}

#[test]
fn a_device_token_authenticates_until_it_is_replaced() {
    let mut doc = create("tenant-1").unwrap();
    let creds = Credentials::read(&doc).unwrap();
    assert_eq!((creds.schema, creds.tenant_id.as_str()), (1, "tenant-1"));
    let first = new_token();
    assert_eq!(first.len(), 32);
    put_device_token(&mut doc, "dev1", &token_hash(&first)).unwrap();
    let creds = Credentials::read(&doc).unwrap();
    assert_eq!(creds.device_for_token(&first), Some("dev1"));
    assert_eq!(creds.device_for_token("not-a-token"), None);
    // Only the hash is stored.
    assert!(!format!("{:?}", doc.save()).contains(&first));

    let second = new_token();
    put_device_token(&mut doc, "dev1", &token_hash(&second)).unwrap();
    let creds = Credentials::read(&doc).unwrap();
    assert_eq!(creds.device_for_token(&first), None, "the old token stops");
    assert_eq!(creds.device_for_token(&second), Some("dev1"));
}

#[test]
fn concurrent_token_regenerations_leave_one_working_token_everywhere() {
    let mut a = create("t").unwrap();
    let mut b = a.fork();
    let (ta, tb) = (new_token(), new_token());
    put_device_token(&mut a, "dev", &token_hash(&ta)).unwrap();
    put_device_token(&mut b, "dev", &token_hash(&tb)).unwrap();
    merged(&mut a, &mut b);
    let (ca, cb) = (
        Credentials::read(&a).unwrap(),
        Credentials::read(&b).unwrap(),
    );
    assert_eq!(ca, cb, "replicas agree");
    let working: Vec<_> = [&ta, &tb]
        .into_iter()
        .filter(|t| ca.device_for_token(t).is_some())
        .collect();
    assert_eq!(working.len(), 1, "exactly one of the two tokens works");
}

#[test]
fn a_revoked_bridge_stays_revoked() {
    let mut a = create("t").unwrap();
    let token = new_token();
    let id = put_bridge(&mut a, "Theengs in the hall", "org", &token_hash(&token)).unwrap();
    let creds = Credentials::read(&a).unwrap();
    assert_eq!(
        creds.bridge_for_token(&token).map(|b| b.id.as_str()),
        Some(id.as_str())
    );
    let mut b = a.fork();
    revoke_bridge(&mut a, &id).unwrap();
    // Concurrently the other side renames nothing but writes the token again.
    put_device_token(&mut b, "dev", "x").unwrap();
    merged(&mut a, &mut b);
    assert!(
        Credentials::read(&b)
            .unwrap()
            .bridge_for_token(&token)
            .is_none()
    );
    assert!(matches!(
        revoke_bridge(&mut a, "nope"),
        Err(OpError::NotFound(_))
    ));
    assert!(matches!(
        put_bridge(&mut a, " ", "org", "h"),
        Err(OpError::Invalid(_))
    ));
}

#[test]
fn only_argon2id_password_hashes_are_stored() {
    let mut doc = create("t").unwrap();
    let phc = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    put_password_hash(&mut doc, "u1", phc).unwrap();
    assert_eq!(
        Credentials::read(&doc).unwrap().password_hash("u1"),
        Some(phc)
    );
    assert!(matches!(
        put_password_hash(&mut doc, "u1", "hunter2"),
        Err(OpError::Invalid(_))
    ));
}

#[test]
fn who_may_write_credentials_follows_the_sharing_state() {
    let (mut t, f) = Tenant::found("hub", "Home", "admin@example.org", NOW).unwrap();
    let admin = Caller::user(&f.admin);
    let garage = t
        .add_device(&admin, &f.root_org, "Garage door", None, NOW)
        .unwrap();
    let spouse = t
        .invite(&admin, "spouse@example.org", &f.root_org, "user", NOW)
        .unwrap();
    t.transfer(&admin, &garage, &spouse.user, None, NOW)
        .unwrap();
    let family = t.create_org(&admin, &f.root_org, "Family", NOW).unwrap();
    let kid = t
        .invite(&admin, "kid@example.org", &family, "admin", NOW)
        .unwrap();
    let state = t.state().unwrap();
    let (spouse_c, kid_c) = (Caller::user(&spouse.user), Caller::user(&kid.user));

    assert!(authorize::device_token(state, &admin, &garage, NOW).is_ok());
    assert!(authorize::device_token(state, &Caller::Console, &garage, NOW).is_ok());
    // The owner sees it but lacks manage_devices.
    assert!(matches!(
        authorize::device_token(state, &spouse_c, &garage, NOW),
        Err(OpError::Denied { .. })
    ));
    // A sub-organization admin cannot even learn the root's device exists.
    assert!(matches!(
        authorize::device_token(state, &kid_c, &garage, NOW),
        Err(OpError::NotFound(_))
    ));
    assert!(authorize::bridge(state, &kid_c, &family, NOW).is_ok());
    assert!(matches!(
        authorize::bridge(state, &kid_c, &f.root_org, NOW),
        Err(OpError::NotFound(_))
    ));
    assert!(authorize::password(state, &spouse_c, &spouse.user).is_ok());
    assert!(authorize::password(state, &Caller::Console, &spouse.user).is_ok());
    assert!(matches!(
        authorize::password(state, &admin, &spouse.user),
        Err(OpError::Refused(_))
    ));
}

#[test]
fn a_hub_token_authenticates_until_the_hub_is_revoked_even_against_a_concurrent_reissue() {
    let mut a = create("tenant-1").unwrap();
    let token = new_token();
    put_hub(&mut a, "hubB", &token_hash(&token), Some("ab12")).unwrap();
    let creds = Credentials::read(&a).unwrap();
    let hub = creds.hub_for_token(&token).unwrap();
    assert_eq!(
        (hub.id.as_str(), hub.fingerprint.as_deref()),
        ("hubB", Some("ab12"))
    );
    assert!(creds.hub_for_token("nope").is_none());

    // One replica revokes it while the other replaces its token: revoked.
    let mut b = a.fork();
    revoke_hub(&mut a, "hubB").unwrap();
    let fresh = new_token();
    put_hub(&mut b, "hubB", &token_hash(&fresh), Some("cd34")).unwrap();
    merged(&mut a, &mut b);
    for doc in [&a, &b] {
        let creds = Credentials::read(doc).unwrap();
        assert!(creds.hub_for_token(&token).is_none());
        assert!(creds.hub_for_token(&fresh).is_none(), "revocation wins");
        assert!(creds.hubs()["hubB"].revoked);
    }
    assert!(matches!(
        revoke_hub(&mut a, "hubX"),
        Err(OpError::NotFound(_))
    ));
}
