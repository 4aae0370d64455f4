//! The hub's own certificate authority: made once (kept in the state
//! directory, so in every backup), it issues the serving certificate for
//! the names a browser reaches the hub by, whenever they change. A person
//! trusts the authority once; clients pin its fingerprint, which therefore
//! survives every reissue.
//!
//! The authority may sign only for what a hub is reached by on a LAN (name
//! constraints: `.local` and `localhost` names, private, link-local and
//! loopback addresses), so the key of a trusted hub CA, even if stolen from
//! the hub, cannot make a certificate a browser accepts for anyone's bank.
//! The serving certificate lives in memory only: it is issued at start and
//! again when the names change or it nears its end, never written.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use super::TlsError;
use crate::state_dir::{create_private_dir, write_atomic};

/// The authority's certificate and key, relative to the state directory.
pub const CA_CERT_FILE: &str = "tls/ca.pem";
pub const CA_KEY_FILE: &str = "tls/ca-key.pem";

/// The serving certificate is good for this long, the day before its issue
/// included (under the 398 days Apple platforms accept for a public one) …
const SERVING_DAYS: i64 = 396;
/// … and is issued again once it has less than this left.
pub const RENEW_BEFORE_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;
/// 2026-12-01: no certificate is dated before this. A hub without a
/// real-time clock may start reading 1970 before NTP; a serving certificate
/// dated by that clock would be refused by every client, so it is dated as
/// if it were this day (and is good for a year from it).
const CLOCK_FLOOR_MS: i64 = 1_796_083_200_000;
/// The authority's validity is fixed (2020-01-01 to 2099-12-31), not read
/// from the clock: one made while the clock read 1970 is not born expired.
const CA_FROM_MS: i64 = 1_577_836_800_000;
const CA_UNTIL_MS: i64 = 4_102_444_799_000;

/// The names a serving certificate is for: sorted, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
}

impl Names {
    /// `hostname` (`<instance>.local`), `localhost`, loopback, and each of
    /// `addresses` the authority may sign for (a public one is left out: the
    /// person reaches the hub by its `.local` name there).
    pub fn wanted(hostname: &str, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        let mut dns = vec![hostname.to_ascii_lowercase(), "localhost".to_owned()];
        dns.sort();
        dns.dedup();
        let mut ips: Vec<IpAddr> = [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
            .into_iter()
            .chain(
                addresses
                    .into_iter()
                    .map(unmapped)
                    .filter(|ip| may_sign_for(*ip)),
            )
            .collect();
        ips.sort();
        ips.dedup();
        Names { dns, ips }
    }

    /// Every name and address, as a person reads them.
    pub fn listed(&self) -> Vec<String> {
        self.dns
            .iter()
            .cloned()
            .chain(self.ips.iter().map(IpAddr::to_string))
            .collect()
    }
}

/// The address ranges the authority's certificate permits.
fn permitted_ranges() -> [(IpAddr, u8); 9] {
    [
        (Ipv4Addr::new(10, 0, 0, 0).into(), 8),
        (Ipv4Addr::new(172, 16, 0, 0).into(), 12),
        (Ipv4Addr::new(192, 168, 0, 0).into(), 16),
        (Ipv4Addr::new(169, 254, 0, 0).into(), 16),
        (Ipv4Addr::new(100, 64, 0, 0).into(), 10),
        (Ipv4Addr::new(127, 0, 0, 0).into(), 8),
        ("fc00::".parse::<Ipv6Addr>().expect("literal").into(), 7),
        ("fe80::".parse::<Ipv6Addr>().expect("literal").into(), 10),
        (Ipv6Addr::LOCALHOST.into(), 128),
    ]
}

/// An IPv4-mapped IPv6 address as the IPv4 one (as it is named in a SAN).
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is in one of the permitted ranges.
pub fn may_sign_for(ip: IpAddr) -> bool {
    let ip = unmapped(ip);
    permitted_ranges()
        .iter()
        .any(|(net, prefix)| match (ip, net) {
            (IpAddr::V4(a), IpAddr::V4(n)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(a) & mask == u32::from(*n) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(n)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(a) & mask == u128::from(*n) & mask
            }
            _ => false,
        })
}

/// This machine's addresses now (the interfaces that are up).
pub fn local_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.into_iter().map(|i| i.ip()).collect(),
        Err(e) => {
            tracing::warn!("tls: cannot list this machine's addresses: {e}");
            Vec::new()
        }
    }
}

/// A serving certificate, its key and what it is for.
pub struct Issued {
    pub cert: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
    pub names: Names,
    /// When it ends (Unix ms).
    pub not_after_ms: i64,
}

pub struct Authority {
    key: KeyPair,
    cert: CertificateDer<'static>,
    pem: String,
}

impl Authority {
    /// The hub's authority from the state directory, made on first use.
    ///
    /// # Errors
    /// [`TlsError`] naming the file that could not be read or written.
    pub fn load_or_create(state_dir: &Path) -> Result<Self, TlsError> {
        let (cert_path, key_path) = (state_dir.join(CA_CERT_FILE), state_dir.join(CA_KEY_FILE));
        let file_err = |path: &Path, reason: String| TlsError::File {
            path: path.to_owned(),
            reason,
        };
        // Only a file that is not there is made; one that cannot be read is
        // an error, never a reason to replace what browsers trust.
        let read = |path: &Path| match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_err(path, e.to_string())),
        };
        let key = match read(&key_path)? {
            Some(pem) => KeyPair::from_pem(&pem).map_err(|e| file_err(&key_path, e.to_string()))?,
            None => {
                let key = KeyPair::generate()?;
                write_private(&key_path, &key.serialize_pem(), 0o600)?;
                tracing::info!(key = %key_path.display(), "created the hub's certificate authority");
                key
            }
        };
        let pem = match read(&cert_path)? {
            Some(pem) => pem,
            None => {
                // Made again from the key (the same name and key, so what a
                // browser trusts still vouches for what the hub serves).
                let pem = authority_params(&key).self_signed(&key)?.pem();
                write_private(&cert_path, &pem, 0o644)?;
                pem
            }
        };
        use rustls::pki_types::pem::PemObject;
        let cert = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| file_err(&cert_path, e.to_string()))?;
        let authority = Authority { key, cert, pem };
        authority.check().map_err(|reason| {
            file_err(
                &cert_path,
                format!("does not go with {}: {reason}", key_path.display()),
            )
        })?;
        Ok(authority)
    }

    /// Does a certificate this authority issues verify against its stored
    /// certificate (the two files belong together, and the issuer rebuilt
    /// from the key is the stored one)?
    fn check(&self) -> Result<(), String> {
        let names = Names::wanted("check.local", []);
        let now = CLOCK_FLOOR_MS + DAY_MS;
        let issued = self.issue(&names, now).map_err(|e| e.to_string())?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).map_err(|e| e.to_string())?;
        let parsed =
            rustls::server::ParsedCertificate::try_from(&issued.cert).map_err(|e| e.to_string())?;
        let when = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_millis(
            u64::try_from(now).unwrap_or_default(),
        ));
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots,
            &[],
            when,
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .all,
        )
        .map_err(|e| e.to_string())
    }

    /// SHA-256 of the authority's certificate, lower-case hex: what clients
    /// pin and people compare.
    pub fn fingerprint(&self) -> String {
        super::fingerprint(&self.cert)
    }

    /// The name a trust store shows for it.
    pub fn name(&self) -> String {
        authority_name(&self.key)
    }

    pub fn der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A serving certificate for `names`, good from a day before `now_ms`
    /// (a client whose clock is a little behind still accepts it), or before
    /// [`CLOCK_FLOOR_MS`] when the clock reads earlier.
    ///
    /// # Errors
    /// [`TlsError::Generate`] when a key or certificate cannot be made.
    pub fn issue(&self, names: &Names, now_ms: i64) -> Result<Issued, TlsError> {
        let now_ms = now_ms.max(CLOCK_FLOOR_MS);
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut subject = DistinguishedName::new();
        subject.push(
            DnType::CommonName,
            names.dns.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = subject;
        params.subject_alt_names = names
            .dns
            .iter()
            .filter_map(|n| n.clone().try_into().ok().map(SanType::DnsName))
            .chain(names.ips.iter().map(|ip| SanType::IpAddress(*ip)))
            .collect();
        params.not_before = at(now_ms - DAY_MS);
        let not_after_ms = now_ms + SERVING_DAYS * DAY_MS;
        params.not_after = at(not_after_ms);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(serial(&key, now_ms));
        let issuer = Issuer::new(authority_params(&self.key), &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Issued {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            names: names.clone(),
            not_after_ms,
        })
    }
}

/// The authority's certificate parameters, fixed or derived from its key,
/// so the issuer of every serving certificate (its name and key
/// identifier) is the stored certificate's without parsing it.
fn authority_params(key: &KeyPair) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::OrganizationName, "Hearth");
    subject.push(DnType::CommonName, authority_name(key));
    params.distinguished_name = subject;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = at(CA_FROM_MS);
    params.not_after = at(CA_UNTIL_MS);
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: ["local", "localhost"]
            .into_iter()
            .map(|n| GeneralSubtree::DnsName(n.to_owned()))
            .chain(permitted_ranges().into_iter().map(|(net, prefix)| {
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(net, prefix))
            }))
            .collect(),
        excluded_subtrees: Vec::new(),
    });
    params.serial_number = Some(serial(key, 0));
    params
}

/// "Hearth hub CA 1a2b3c4d": the digits are its key's, so two hubs' authorities
/// are told apart in a trust store.
fn authority_name(key: &KeyPair) -> String {
    let digest = Sha256::digest(key.public_key_raw());
    format!("Hearth hub CA {}", hex::encode(&digest[..4]))
}

/// A positive 16-byte serial, different for every key and time.
fn serial(key: &KeyPair, now_ms: i64) -> SerialNumber {
    let mut hasher = Sha256::new();
    hasher.update(key.public_key_raw());
    hasher.update(now_ms.to_be_bytes());
    let mut bytes = hasher.finalize()[..16].to_vec();
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

fn at(unix_ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

pub(super) fn write_private(path: &Path, data: &str, mode: u32) -> Result<(), TlsError> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(|e| TlsError::File {
            path: dir.to_owned(),
            reason: e.to_string(),
        })?;
    }
    write_atomic(path, data.as_bytes(), mode).map_err(|e| TlsError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
