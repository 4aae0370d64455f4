//! What a person reads for each household command's answer (`--json`
//! prints the API's JSON instead). It only formats the hub's reply (and,
//! for the audit, the names the caller fetched); it never asks the hub
//! anything.

use std::collections::HashMap;

use serde_json::Value;

use super::{
    DeviceCommand, OrgCommand, Request, RoleCommand, ShareCommand, SyncCommand, TemplateCommand,
    UserCommand,
};

/// An instant of a replica's clock as UTC, to the second.
pub(in crate::cli) fn utc(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => ms.to_string(),
    }
}

/// The audit log as a person reads it: when (UTC), who, what, about what,
/// and whether it took effect; each id by the name `names` has for it (the
/// devices, organizations and people the reader may see).
pub(super) fn print_audit(value: &Value, names: &HashMap<String, String>) {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let name = |v: &Value| {
        let id = s(v);
        names.get(&id).cloned().unwrap_or(id)
    };
    println!(
        "{:<20} {:<24} {:<18} {:<24} OUTCOME",
        "WHEN (UTC)", "BY", "WHAT", "ABOUT"
    );
    for e in value.as_array().into_iter().flatten() {
        let outcome = match s(&e["outcome"]).as_str() {
            "effective" => "took effect".to_owned(),
            "lost_to" => format!("lost to a concurrent change ({})", s(&e["to"])),
            "superseded_by" => format!("overwritten later ({})", s(&e["by_op"])),
            "inert" => format!("no longer holds: {}", s(&e["reason"])),
            "merged" => format!("merged: {}", s(&e["reason"])),
            other => other.to_owned(),
        };
        let by = if e["by"] == "console" {
            "the hub's console".to_owned()
        } else {
            name(&e["by"])
        };
        println!(
            "{:<20} {:<24} {:<18} {:<24} {outcome}",
            e["at"].as_i64().map_or_else(|| "-".into(), utc),
            by,
            s(&e["kind"]).replace('_', " "),
            about(e, &name),
        );
    }
}

/// What an entry is about: its device when it names one (a share's
/// subject is the share), with whom when it names a person.
fn about(e: &Value, name: &dyn Fn(&Value) -> String) -> String {
    let detail = &e["detail"];
    let what = if detail["device"].is_string() {
        name(&detail["device"])
    } else {
        name(&e["subject"])
    };
    match (&detail["user"], &detail["to"]) {
        (who @ Value::String(_), _) | (_, who @ Value::String(_)) if e["kind"] != "invite" => {
            format!("{what} ({})", name(who))
        }
        _ => what,
    }
}

pub(super) fn print_human(request: &Request, value: &Value) {
    let rows = value.as_array().cloned().unwrap_or_default();
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    match request {
        Request::Device(DeviceCommand::List) => {
            println!("{:<28} {:<8} {:<28} ID", "DEVICE", "LEVEL", "ORGANIZATION");
            for d in &rows {
                let path: Vec<String> = d["org_path"]
                    .as_array()
                    .map(|p| p.iter().map(s).collect())
                    .unwrap_or_default();
                let org = if path.is_empty() {
                    "(shared with you)".to_owned()
                } else {
                    path.join(" / ")
                };
                let owned = if d["owned"] == true { " (yours)" } else { "" };
                println!(
                    "{:<28} {:<8} {:<28} {}",
                    format!("{}{owned}", s(&d["name"])),
                    s(&d["level"]),
                    org,
                    s(&d["id"])
                );
            }
        }
        Request::Org(OrgCommand::List) => {
            for o in &rows {
                println!("{:<28} {}", s(&o["name"]), s(&o["id"]));
            }
        }
        Request::Share(ShareCommand::List { .. }) => {
            if rows.is_empty() {
                println!("no shares");
                return;
            }
            println!(
                "{:<24} {:<28} {:<8} {:<22} SHARE",
                "DEVICE", "WITH", "LEVEL", "UNTIL (UTC)"
            );
            for r in &rows {
                let until = r["expires"]
                    .as_i64()
                    .map_or_else(|| "until revoked".to_owned(), utc);
                println!(
                    "{:<24} {:<28} {:<8} {:<22} {}",
                    s(&r["device_name"]),
                    s(&r["email"]),
                    s(&r["level"]),
                    until,
                    s(&r["share"])
                );
            }
        }
        Request::Share(ShareCommand::Who { .. }) => {
            for h in &rows {
                let level = h["level"].as_str().unwrap_or("nothing now");
                println!("{} ({level})", s(&h["email"]));
                for r in h["reasons"].as_array().into_iter().flatten() {
                    let why = match r["kind"].as_str() {
                        Some("owner") => format!(
                            "owns it, as {} in {}",
                            s(&r["role_name"]),
                            s(&r["org_name"])
                        ),
                        Some("role") => {
                            format!("{} in {}", s(&r["role_name"]), s(&r["org_name"]))
                        }
                        Some("share") => format!(
                            "shared to {} {}",
                            s(&r["level"]),
                            r["expires"].as_i64().map_or_else(
                                || "until revoked".to_owned(),
                                |t| format!("until {}", utc(t))
                            )
                        ),
                        _ => r.to_string(),
                    };
                    println!("    {why}");
                }
            }
        }
        Request::Role(RoleCommand::List) => {
            println!("{:<20} {:<18} PERMISSIONS", "ROLE", "ID");
            for r in &rows {
                let perms: Vec<String> = r["permissions"]
                    .as_array()
                    .map(|p| p.iter().map(s).collect())
                    .unwrap_or_default();
                println!(
                    "{:<20} {:<18} {}",
                    s(&r["name"]),
                    s(&r["id"]),
                    perms.join(", ")
                );
            }
        }
        Request::Template(TemplateCommand::List) => {
            println!("{:<28} {:<18} DATASTREAMS", "TEMPLATE", "ID");
            for t in &rows {
                let streams: Vec<String> = t["definition"]["datastreams"]
                    .as_array()
                    .map(|d| {
                        d.iter()
                            .map(|d| format!("V{} {}", d["pin"], s(&d["name"])))
                            .collect()
                    })
                    .unwrap_or_default();
                println!(
                    "{:<28} {:<18} {}",
                    s(&t["name"]),
                    s(&t["id"]),
                    streams.join(", ")
                );
            }
        }
        Request::User(UserCommand::List) => {
            for m in &rows {
                println!(
                    "{:<32} {:<12} org {} membership {}",
                    s(&m["email"]),
                    s(&m["role_name"]),
                    s(&m["org"]),
                    s(&m["membership"])
                );
            }
        }
        Request::Sync(SyncCommand::Status) => {
            let peers = value["peers"].as_array().cloned().unwrap_or_default();
            if peers.is_empty() {
                println!("no sync peers: link the household with `hearth cloud link URL CODE`");
            }
            for p in &peers {
                let state = if p["connected"] == true {
                    "connected"
                } else {
                    "not connected"
                };
                println!("{:<10} {:<40} {state}", s(&p["peer"]), s(&p["url"]));
                for d in p["docs"].as_array().into_iter().flatten() {
                    println!(
                        "    {:<12} theirs lacking {:<6} ours lacking {}",
                        s(&d["kind"]),
                        d["theirs_lacking"],
                        d["ours_lacking"]
                    );
                }
                if let Some(error) = p["last_error"].as_str() {
                    println!("    last error: {error}");
                }
            }
            let outbox = &value["outbox"];
            if !outbox.is_null() {
                println!(
                    "outbox: {} values waiting, {} dropped when full",
                    outbox["depth"], outbox["dropped"]
                );
            }
            for c in value["conflicts_lost"].as_array().into_iter().flatten() {
                println!(
                    "lost: {} {} by {} ({} {})",
                    s(&c["kind"]),
                    s(&c["subject"]),
                    s(&c["by"]),
                    s(&c["outcome"]),
                    c["to"].as_str().or(c["reason"].as_str()).unwrap_or("-")
                );
            }
        }
        Request::Device(DeviceCommand::Values { .. }) => {
            let online = &value["online"];
            match online["since"].as_i64() {
                Some(since) => println!(
                    "online over {} since {}",
                    s(&online["transport"]),
                    utc(since)
                ),
                None => println!("offline"),
            }
            println!("{:<6} {:<24} {:<21} PENDING", "PIN", "VALUE", "AT (UTC)");
            for (pin, live) in value["values"].as_object().into_iter().flatten() {
                println!(
                    "{pin:<6} {:<24} {:<21} {}",
                    s(&live["value"]),
                    live["at"].as_i64().map_or_else(|| "-".into(), utc),
                    live["pending"].as_str().unwrap_or("")
                );
            }
        }
        Request::Device(DeviceCommand::History { .. }) => {
            let points = value["points"].as_array().cloned().unwrap_or_default();
            if points.first().is_some_and(|p| p.get("value").is_some()) {
                println!("{:<21} VALUE", "AT (UTC)");
                for p in &points {
                    println!(
                        "{:<21} {}",
                        p["at"].as_i64().map_or_else(|| "-".into(), utc),
                        s(&p["value"])
                    );
                }
            } else {
                println!(
                    "{:<21} {:>6} {:>10} {:>10} {:>10}",
                    "FROM (UTC)", "COUNT", "AVERAGE", "MIN", "MAX"
                );
                for p in &points {
                    println!(
                        "{:<21} {:>6} {:>10} {:>10} {:>10}",
                        p["at"].as_i64().map_or_else(|| "-".into(), utc),
                        p["count"],
                        p["avg"],
                        p["min"],
                        p["max"]
                    );
                }
            }
            println!("{} point(s) of {}", points.len(), s(&value["pin"]));
        }
        Request::Device(DeviceCommand::Set { .. }) => match value["outcome"].as_str() {
            Some("sent") => println!("sent to the device"),
            Some("pending") => println!("sent; pending until the device confirms it"),
            Some("queued") => println!("the device is offline: queued, sent when it connects"),
            _ => println!("{value}"),
        },
        Request::Device(DeviceCommand::Token { .. }) => println!(
            "auth token {} (shown this once; the old one no longer works: give this one to the \
             device's firmware)",
            s(&value["token"])
        ),
        Request::User(UserCommand::Invite { email, .. }) => {
            println!("membership {}", s(&value["membership"]));
            if let Some(warning) = value["warning"].as_str() {
                println!("warning: {warning}");
            }
            match value["invite_code"].as_str() {
                Some(code) => println!(
                    "invite code {code} (shown this once): {email} opens /invite#code={code} in \
                     the app, or runs `hearth invite accept` with it, and chooses a password"
                ),
                None => println!("{email} already has an account here: nothing to accept"),
            }
        }
        Request::Template(TemplateCommand::Add { .. }) => println!("template {}", s(&value["id"])),
        Request::Role(RoleCommand::Add { .. }) => println!("role {}", s(&value["id"])),
        Request::Device(DeviceCommand::Add { .. }) => {
            println!("device {}", s(&value["id"]));
            println!(
                "auth token {} (shown this once; give it to the device's firmware)",
                s(&value["token"])
            );
        }
        _ => match value {
            Value::Null => println!("done"),
            Value::Object(map) => {
                for (k, v) in map {
                    if !v.is_null() {
                        println!(
                            "{k}: {}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        );
                    }
                }
            }
            other => println!("{other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_instant_reads_as_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(super::utc(1_796_600_000_123), "2026-12-06 23:33:20Z");
    }
}
