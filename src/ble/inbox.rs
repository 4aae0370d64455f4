//! What a BLE bridge reports, and where it goes (DESIGN §4): an advert of
//! an adopted device (a device whose BLE MAC is set) becomes values of its
//! datastreams; any other MAC lands in the adoption inbox, listed with what
//! it reports until someone adopts or dismisses it. Nothing is created or
//! dropped silently. Bind keys of encrypted sensors stay on this hub
//! (`ble_devices`), never in the replicated household document.
//!
//! A report is the JSON of Theengs Gateway / OpenMQTTGateway: already
//! decoded properties (`tempc`, `hum`, `batt`, …), or the raw
//! `servicedata` of a BTHome advert (`servicedatauuid` `fcd2`), which the
//! hub decodes itself (with the device's bind key when encrypted).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};

use super::bthome;

/// Migration 5: the inbox and this hub's per-sensor secrets and mappings.
pub const MIGRATION: &str = "
    CREATE TABLE ble_inbox (
        mac        TEXT PRIMARY KEY NOT NULL,
        bridge     TEXT NOT NULL,
        org        TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        adverts    INTEGER NOT NULL,
        report     TEXT NOT NULL,
        dismissed  INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE ble_devices (
        mac      TEXT PRIMARY KEY NOT NULL,
        bind_key TEXT,
        mapping  TEXT NOT NULL DEFAULT '{}'
    ) STRICT;
";

/// A report parsed from a bridge's JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `AA:BB:CC:DD:EE:FF`.
    pub mac: String,
    pub name: Option<String>,
    pub model: Option<String>,
    pub rssi: Option<i64>,
    /// Reading name → value (`temperature` → 21.5).
    pub readings: BTreeMap<String, f64>,
    /// Why (part of) the advert could not be read, if so.
    pub error: Option<String>,
}

/// Theengs/OMG property names → the reading names BTHome uses.
const ALIASES: [(&str, &str); 12] = [
    ("tempc", "temperature"),
    ("hum", "humidity"),
    ("batt", "battery"),
    ("volt", "voltage"),
    ("pres", "pressure"),
    ("lux", "illuminance"),
    ("co2", "co2"),
    ("pm25", "pm25"),
    ("pm10", "pm10"),
    ("moi", "moisture"),
    ("motion", "motion"),
    ("open", "opening"),
];

/// Fields of a bridge's JSON that are not readings.
const NOT_READINGS: [&str; 12] = [
    "id",
    "mac",
    "name",
    "rssi",
    "brand",
    "model",
    "model_id",
    "type",
    "servicedata",
    "servicedatauuid",
    "manufacturerdata",
    "txpower",
];

/// Parses a bridge's JSON; `key` looks up a MAC's bind key (encrypted
/// BTHome). `topic_mac` is the MAC from the topic (used when `id` lacks).
///
/// # Errors
/// A message for a payload that is not such a report at all.
pub fn parse(
    payload: &[u8],
    topic_mac: &str,
    key: impl Fn(&str) -> Option<[u8; 16]>,
) -> Result<Report, String> {
    let object: serde_json::Map<String, Value> =
        serde_json::from_slice(payload).map_err(|e| format!("not a JSON object: {e}"))?;
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(topic_mac);
    let mac_bytes = bthome::parse_mac(id).ok_or_else(|| format!("{id:?} is not a MAC address"))?;
    let mac = mac_bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let text = |k: &str| object.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut report = Report {
        mac: mac.clone(),
        name: text("name"),
        model: text("model"),
        rssi: object.get("rssi").and_then(Value::as_i64),
        readings: BTreeMap::new(),
        error: None,
    };
    for (k, v) in &object {
        if NOT_READINGS.contains(&k.as_str()) {
            continue;
        }
        let value = match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        };
        if let Some(value) = value.filter(|v| v.is_finite()) {
            let name = ALIASES
                .iter()
                .find(|(a, _)| a == k)
                .map_or(k.as_str(), |(_, n)| n);
            report.readings.insert(name.to_owned(), value);
        }
    }
    let uuid = text("servicedatauuid")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if let Some(data) = text("servicedata")
        && uuid.trim_start_matches("0x") == "fcd2"
    {
        match hex::decode(&data) {
            Ok(bytes) => match bthome::decode_partial(&bytes, mac_bytes, key(&mac).as_ref()) {
                Ok((advert, error)) => {
                    for r in advert.readings {
                        report.readings.insert(r.name.to_owned(), r.value);
                    }
                    report.error = error.map(|e| e.to_string());
                }
                Err(e) => report.error = Some(e.to_string()),
            },
            Err(_) => report.error = Some("servicedata is not hex".into()),
        }
    }
    Ok(report)
}

/// A row of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Waiting {
    pub mac: String,
    pub bridge: String,
    pub org: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub adverts: i64,
    pub report: Value,
}

/// Records `report` of an unadopted MAC heard by `bridge` (of `org`).
pub fn note(
    conn: &Connection,
    report: &Report,
    bridge: &str,
    org: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let text = serde_json::to_string(report).unwrap_or_else(|_| "{}".into());
    conn.execute(
        "INSERT INTO ble_inbox (mac, bridge, org, first_seen, last_seen, adverts, report)
         VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5)
         ON CONFLICT (mac) DO UPDATE SET bridge = excluded.bridge, org = excluded.org,
           last_seen = excluded.last_seen, adverts = adverts + 1,
           report = CASE WHEN dismissed = 1 THEN report ELSE excluded.report END",
        params![report.mac, bridge, org, now, text],
    )?;
    Ok(())
}

const COLUMNS: &str = "mac, bridge, org, first_seen, last_seen, adverts, report";

fn waiting(r: &rusqlite::Row<'_>) -> rusqlite::Result<Waiting> {
    let report: String = r.get(6)?;
    Ok(Waiting {
        mac: r.get(0)?,
        bridge: r.get(1)?,
        org: r.get(2)?,
        first_seen: r.get(3)?,
        last_seen: r.get(4)?,
        adverts: r.get(5)?,
        report: serde_json::from_str(&report).unwrap_or(json!({})),
    })
}

/// The inbox, newest first, without dismissed MACs.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Waiting>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM ble_inbox WHERE dismissed = 0 ORDER BY last_seen DESC"
    ))?;
    let rows = stmt.query_map([], waiting)?;
    rows.collect()
}

/// One waiting (not dismissed) MAC.
pub fn get(conn: &Connection, mac: &str) -> rusqlite::Result<Option<Waiting>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM ble_inbox WHERE mac = ?1 AND dismissed = 0"),
        [mac],
        waiting,
    )
    .optional()
}

/// Marks `mac` dismissed: still counted when heard, no longer listed.
pub fn dismiss(conn: &Connection, mac: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("UPDATE ble_inbox SET dismissed = 1 WHERE mac = ?1", [mac])? > 0)
}

/// After adoption: out of the inbox; its bind key and reading → pin
/// mapping kept on this hub.
pub fn adopted(
    conn: &Connection,
    mac: &str,
    bind_key: Option<&str>,
    mapping: &Value,
) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM ble_inbox WHERE mac = ?1", [mac])?;
    conn.execute(
        "INSERT INTO ble_devices (mac, bind_key, mapping) VALUES (?1, ?2, ?3)
         ON CONFLICT (mac) DO UPDATE SET bind_key = excluded.bind_key, mapping = excluded.mapping",
        params![mac, bind_key, mapping.to_string()],
    )?;
    Ok(())
}

/// Every MAC's bind key and mapping on this hub.
pub fn secrets(conn: &Connection) -> rusqlite::Result<BTreeMap<String, (Option<String>, Value)>> {
    let mut stmt = conn.prepare("SELECT mac, bind_key, mapping FROM ble_devices")?;
    let rows = stmt.query_map([], |r| {
        let mapping: String = r.get(2)?;
        Ok((
            r.get(0)?,
            (
                r.get(1)?,
                serde_json::from_str(&mapping).unwrap_or(json!({})),
            ),
        ))
    })?;
    rows.collect()
}
