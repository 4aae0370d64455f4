//! Sync: this node's links to the other replicas of its tenant (DESIGN §3
//! "What a peer may sync") and the telemetry outbox towards the cloud.
//!
//! - [`dial`]: dialing a peer over `ws://` or `wss://` (tokio-tungstenite
//!   over rustls, authenticated on the upgrade), handed to samod, which
//!   reconnects forever with exponential backoff and jitter.
//! - [`accept`]: the `/api/v1/sync` WebSocket a hub serves to its other
//!   hubs and to admin tooling with a read-only replication grant.
//! - [`links`]: the links this hub keeps (the cloud it was linked to) and
//!   the replication grants it issued, in SQLite.
//! - [`dialed`]: delivers the telemetry the devices core queues in its
//!   outbox ([`crate::devices::outbox`]).
//! - [`lan`]: hubs of the household found by mDNS (an opaque tenant tag).
//!
//! What each authenticated peer may sync is the tenancy's
//! [`TenantPolicy`](crate::tenancy::policy::TenantPolicy); this module only
//! proves who a peer is and binds the connection to that identity. It never
//! logs a token, nor the URL of the sync route (a JS peer's token rides in
//! its query string).

pub mod accept;
pub mod commands;
pub mod delivery;
pub mod dial;
pub mod lan;
pub mod links;
pub mod wire;

/// The schema of sync's tables (migration 6), for both roles:
/// - `sync_uplinks`: the cloud (or hub) this hub dials, with its credential;
/// - `sync_grants`: read-only replication grants this hub issued (hashes);
/// - `sync_pairings`: one-time codes with which another hub joins (hashes);
/// - `cloud_codes`, `cloud_hubs`: on the cloud, one-time link codes and
///   the hubs it accepts, with their tenant;
/// - `outbox`, `ingest_marks`: telemetry on its way to the cloud, and on
///   the cloud how far each hub's outbox has been taken in.
pub const MIGRATION: &str = "
    CREATE TABLE sync_uplinks (
        url         TEXT PRIMARY KEY NOT NULL,
        token       TEXT NOT NULL,
        fingerprint TEXT,
        peer        TEXT NOT NULL,
        linked      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE sync_grants (
        id         TEXT PRIMARY KEY NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created    INTEGER NOT NULL,
        revoked    INTEGER
    ) STRICT;
    CREATE TABLE sync_pairings (
        code_hash TEXT PRIMARY KEY NOT NULL,
        expires   INTEGER NOT NULL,
        used_by   TEXT
    ) STRICT;
    CREATE TABLE cloud_codes (
        code_hash TEXT PRIMARY KEY NOT NULL,
        expires   INTEGER NOT NULL,
        used_by   TEXT
    ) STRICT;
    CREATE TABLE cloud_hubs (
        hub_id          TEXT PRIMARY KEY NOT NULL,
        tenant_id       TEXT NOT NULL,
        token_hash      TEXT NOT NULL UNIQUE,
        tenant_doc      TEXT NOT NULL,
        credentials_doc TEXT NOT NULL,
        linked          INTEGER NOT NULL,
        revoked         INTEGER
    ) STRICT;
    CREATE TABLE outbox (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        epoch  INTEGER NOT NULL,
        device TEXT NOT NULL,
        pin    TEXT NOT NULL,
        value  TEXT NOT NULL,
        at     INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE ingest_marks (
        hub   TEXT PRIMARY KEY NOT NULL,
        epoch INTEGER NOT NULL,
        seq   INTEGER NOT NULL
    ) STRICT;
";

/// Ids that name files and peers: letters, digits, `-` and `_`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
