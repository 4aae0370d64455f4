//! The API's TLS identity, tested: the authority made once and pinned, a pin
//! that survives a reissue and refuses an impostor, renewal before the end,
//! the name constraints, configured files. They never touch the network
//! beyond loopback.

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::authority::{Authority, CA_KEY_FILE, Names};
use super::*;

const DAY_MS: i64 = 86_400_000;

fn own(dir: &Path, clock: &Clock) -> TlsIdentity {
    load_or_create(&ApiConfig::default(), dir, "hearth-abc.local", clock).unwrap()
}

/// Serves one TLS connection with `config` on loopback and says, for a
/// client pinning `pin`, whether the handshake succeeded and the server's
/// certificate (its leaf).
async fn handshake(config: Arc<rustls::ServerConfig>, pin: &str) -> Result<Vec<u8>, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        if let Ok(mut tls) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
            let _ = tls.write_all(b"x").await;
            let _ = tls.shutdown().await;
        }
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(crate::client::pinned::config(pin)));
    let name = rustls::pki_types::ServerName::try_from("192.0.2.1").unwrap();
    let outcome = match connector.connect(name, tcp).await {
        Ok(mut tls) => {
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
            let (_, session) = tls.get_ref();
            Ok(session.peer_certificates().unwrap()[0].to_vec())
        }
        Err(e) => Err(e.to_string()),
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    outcome
}

#[test]
fn the_authority_is_made_once_and_is_what_clients_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_800_000_000_000);
    let first = own(tmp.path(), &clock);
    let again = own(tmp.path(), &clock);
    assert_eq!(first.fingerprint, again.fingerprint);
    let authority = Authority::load_or_create(tmp.path()).unwrap();
    assert_eq!(first.fingerprint, fingerprint(authority.der()));
    assert_eq!(first.fingerprint.len(), 64);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(tmp.path().join(CA_KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the authority's key is its owner's only");
    let (names, _) = first.serving.as_ref().unwrap().serving();
    assert!(
        names.dns.contains(&"hearth-abc.local".to_owned()),
        "{names:?}"
    );
    assert!(names.dns.contains(&"localhost".to_owned()));
    assert!(names.ips.contains(&"127.0.0.1".parse().unwrap()));
}

/// A client pinned to the authority accepts the serving certificate, and
/// the one issued after the hub's addresses changed; one pinned to anything
/// else is refused.
#[tokio::test]
async fn a_pin_of_the_authority_survives_a_reissue_and_no_other_pin_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    // The client checks validity against the real time.
    let clock = Clock::system();
    let tls = own(tmp.path(), &clock);
    let serving = tls.serving.clone().unwrap();
    let before = handshake(tls.server_config.clone(), &tls.fingerprint)
        .await
        .expect("pinned to the authority");

    let moved: IpAddr = "192.168.77.5".parse().unwrap();
    assert!(serving.renew([moved]).unwrap(), "a new address: reissued");
    assert!(!serving.renew([moved]).unwrap(), "the same addresses: kept");
    assert!(serving.serving().0.ips.contains(&moved));
    let after = handshake(tls.server_config.clone(), &tls.fingerprint)
        .await
        .expect("the pin still holds after the reissue");
    assert_ne!(before, after, "a different serving certificate");

    let leaf = fingerprint(&CertificateDer::from(after));
    handshake(tls.server_config.clone(), &leaf)
        .await
        .expect("pinned to the serving certificate itself");
    let other = tempfile::tempdir().unwrap();
    let stranger = own(other.path(), &clock).fingerprint;
    let refused = handshake(tls.server_config.clone(), &stranger).await;
    assert!(refused.is_err(), "another hub's authority: {refused:?}");

    // A server that copies the hub's (public) authority certificate into its
    // chain behind a certificate of its own is not the hub.
    let impostor = rcgen::generate_simple_self_signed(vec!["hearth-abc.local".to_owned()]).unwrap();
    let chain = vec![
        impostor.cert.der().clone(),
        serving.authority().der().clone(),
    ];
    let key = PrivateKeyDer::Pkcs8(impostor.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let refused = handshake(Arc::new(config), &tls.fingerprint).await;
    assert!(
        refused.is_err(),
        "an impostor behind the authority: {refused:?}"
    );
}

#[test]
fn the_serving_certificate_is_reissued_a_month_before_it_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_800_000_000_000);
    let tls = own(tmp.path(), &clock);
    let serving = tls.serving.unwrap();
    let addresses: Vec<IpAddr> = serving.serving().0.ips;
    let (_, ends) = serving.serving();
    assert!(
        ends - clock.now_ms() < 397 * DAY_MS,
        "a year and a month, the day before included"
    );
    clock.set(ends - 31 * DAY_MS);
    assert!(!serving.renew(addresses.clone()).unwrap());
    clock.set(ends - 29 * DAY_MS);
    assert!(serving.renew(addresses).unwrap());
    assert!(serving.serving().1 > ends);
}

/// The authority's name constraints: a certificate it were made to sign
/// for a public name or address is refused by a verifier that trusts it.
#[test]
fn the_authority_cannot_vouch_for_names_outside_the_lan() {
    let tmp = tempfile::tempdir().unwrap();
    let now = 1_800_000_000_000;
    let authority = Authority::load_or_create(tmp.path()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(authority.der().clone()).unwrap();
    let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let when = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_millis(
        u64::try_from(now).unwrap(),
    ));
    let verify = |names: Names| {
        let issued = authority.issue(&names, now).unwrap();
        let parsed = rustls::server::ParsedCertificate::try_from(&issued.cert).unwrap();
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots,
            &[],
            when,
            algs.all,
        )
    };
    verify(Names::wanted(
        "hearth-abc.local",
        ["10.1.2.3".parse().unwrap()],
    ))
    .expect("LAN names and addresses");
    let public_name = verify(Names {
        dns: vec!["bank.example".into()],
        ips: vec![],
    });
    assert!(public_name.is_err(), "{public_name:?}");
    let public_address = verify(Names {
        dns: vec!["hearth-abc.local".into()],
        ips: vec!["8.8.8.8".parse().unwrap()],
    });
    assert!(public_address.is_err(), "{public_address:?}");
    let wanted = Names::wanted(
        "h.local",
        ["8.8.8.8".parse().unwrap(), "2001:db8::1".parse().unwrap()],
    );
    assert!(
        !wanted.ips.iter().any(|ip| !authority::may_sign_for(*ip)),
        "public addresses are left out of what is wanted: {wanted:?}"
    );
}

#[test]
fn configured_files_are_used_and_bad_ones_named() {
    let tmp = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["h.example".to_owned()]).unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let config = ApiConfig {
        tls_cert_file: Some(cert.clone()),
        tls_key_file: Some(key),
        ..ApiConfig::default()
    };
    let other = tempfile::tempdir().unwrap();
    let clock = Clock::manual(0);
    let used = load_or_create(&config, other.path(), "h.local", &clock).unwrap();
    assert_eq!(used.fingerprint, fingerprint(made.cert.der()));
    assert!(used.serving.is_none());
    assert!(!other.path().join(authority::CA_CERT_FILE).exists());

    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not pem").unwrap();
    let bad = ApiConfig {
        tls_cert_file: Some(junk.clone()),
        ..config
    };
    let err = load_or_create(&bad, other.path(), "h.local", &clock)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("junk.pem"), "{err}");
}

#[test]
fn firmware_is_given_the_issuer_of_a_configured_chain_not_its_leaf() {
    let tmp = tempfile::tempdir().unwrap();
    let issuer_key = rcgen::KeyPair::generate().unwrap();
    let mut issuer_params = rcgen::CertificateParams::new(vec!["Home CA".to_owned()]).unwrap();
    issuer_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer_cert = issuer_params.self_signed(&issuer_key).unwrap();
    let issuer = rcgen::Issuer::new(issuer_params, issuer_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["h.example".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let (cert, key) = (tmp.path().join("chain.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert, format!("{}{}", leaf.pem(), issuer_cert.pem())).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    let config = ApiConfig {
        tls_cert_file: Some(cert),
        tls_key_file: Some(key),
        ..ApiConfig::default()
    };
    let used = load_or_create(&config, tmp.path(), "h.local", &Clock::manual(0)).unwrap();
    assert_eq!(used.fingerprint, fingerprint(leaf.der()), "the leaf serves");
    assert_eq!(
        used.device_ca_pem.trim(),
        issuer_cert.pem().trim(),
        "the issuer is the CA"
    );

    let own = own(tempfile::tempdir().unwrap().path(), &Clock::manual(0));
    assert_eq!(own.device_ca_pem.matches("BEGIN CERTIFICATE").count(), 1);
}

/// Verifies `cert` against `authority` (the only root) at `at_ms`.
fn verifies(
    authority: &CertificateDer<'static>,
    cert: &CertificateDer<'_>,
    at_ms: u64,
) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(authority.clone()).unwrap();
    let parsed = rustls::server::ParsedCertificate::try_from(cert).unwrap();
    rustls::client::verify_server_cert_signed_by_trust_anchor(
        &parsed,
        &roots,
        &[],
        rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_millis(at_ms)),
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .all,
    )
}

fn real_now_ms() -> u64 {
    u64::try_from(Clock::system().now_ms()).unwrap()
}

/// A Pi without a real-time clock may start reading 1970: the authority it
/// makes then is not born expired, and the certificate it serves is one
/// clients with the right time accept.
#[test]
fn a_hub_whose_clock_reads_1970_serves_what_clients_accept() {
    let tmp = tempfile::tempdir().unwrap();
    let tls = own(tmp.path(), &Clock::manual(0));
    let authority = Authority::load_or_create(tmp.path()).unwrap();
    let leaf = authority.issue(&Names::wanted("h.local", []), 0).unwrap();
    verifies(authority.der(), &leaf.cert, real_now_ms()).expect("valid today");
    let (_, ends) = tls.serving.unwrap().serving();
    assert!(ends > Clock::system().now_ms(), "its end is after today");
}

/// Losing `ca.pem` never replaces the key browsers trust: the certificate
/// is made again from it, and what the hub then serves still verifies
/// against the one people installed.
#[test]
fn a_lost_authority_certificate_is_made_again_from_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let installed = Authority::load_or_create(tmp.path()).unwrap();
    std::fs::remove_file(tmp.path().join(authority::CA_CERT_FILE)).unwrap();
    let again = Authority::load_or_create(tmp.path()).unwrap();
    assert_eq!(again.name(), installed.name(), "the same key");
    let leaf = again
        .issue(&Names::wanted("h.local", []), Clock::system().now_ms())
        .unwrap();
    verifies(installed.der(), &leaf.cert, real_now_ms()).expect("the installed one still vouches");
}

/// A certificate and a key that do not belong together (a partial restore,
/// a hand edit) fail the start, naming the files.
#[test]
fn an_authority_whose_files_do_not_match_is_refused() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    Authority::load_or_create(one.path()).unwrap();
    Authority::load_or_create(two.path()).unwrap();
    std::fs::copy(
        two.path().join(authority::CA_CERT_FILE),
        one.path().join(authority::CA_CERT_FILE),
    )
    .unwrap();
    let err = Authority::load_or_create(one.path())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("ca.pem") && err.contains("does not go with"),
        "{err}"
    );
}

/// Devices get the hub's self-signed certificate, the same across starts
/// (firmware carries it), whatever the authority serves.
#[test]
fn devices_keep_one_self_signed_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Clock::system();
    own(tmp.path(), &clock);
    let first = std::fs::read(tmp.path().join(DEVICE_CERT_FILE)).unwrap();
    own(tmp.path(), &clock);
    assert_eq!(
        std::fs::read(tmp.path().join(DEVICE_CERT_FILE)).unwrap(),
        first
    );
}
