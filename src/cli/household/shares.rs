//! `hearth share list`: the shares of one device, or of every device the
//! person may share, flattened to one row per share (with whom, what they
//! may do, until when), from each device's `GET /devices/{id}/access`.

use serde_json::{Value, json};

use crate::client::Client;

/// The rows of `share list`, oldest device first as the hub lists them.
/// `devices` is the hub's device list; `only` the one device asked for.
pub(super) async fn shares(client: &Client, devices: &Value, only: Option<&str>) -> Vec<Value> {
    let mut rows = Vec::new();
    for device in devices.as_array().into_iter().flatten() {
        let Some(id) = device["id"].as_str() else {
            continue;
        };
        if only.is_some_and(|o| o != id) {
            continue;
        }
        // A device the person may see but not share answers 403: skipped.
        let path = format!("/devices/{id}/access");
        let Ok(Ok(holders)) = client.call("GET", &path, None).await.map(|r| r.ok()) else {
            continue;
        };
        for holder in holders.as_array().into_iter().flatten() {
            for reason in holder["reasons"].as_array().into_iter().flatten() {
                if reason["kind"] == "share" {
                    rows.push(json!({
                        "share": reason["share"],
                        "device": id,
                        "device_name": device["name"],
                        "user": holder["user"],
                        "email": holder["email"],
                        "level": reason["level"],
                        "expires": reason["expires"],
                    }));
                }
            }
        }
    }
    rows
}
