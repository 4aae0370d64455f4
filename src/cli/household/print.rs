//! What a person reads for each household command's answer (`--json`
//! prints the API's JSON instead). It only formats the hub's reply; it
//! never asks the hub anything.

use serde_json::Value;

use super::{
    DeviceCommand, OrgCommand, Request, RoleCommand, SyncCommand, TemplateCommand, UserCommand,
};

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
        Request::Audit => {
            for e in &rows {
                println!(
                    "{} {:<16} {:<18} by {:<18} {}",
                    e["at"],
                    s(&e["kind"]),
                    s(&e["subject"]),
                    s(&e["by"]),
                    s(&e["outcome"])
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
