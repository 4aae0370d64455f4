//! One login across households on the cloud: two households, each with its
//! own hub, linked to one cloud; a person who is a member of both logs in
//! once and sees all their devices, each with its household, with no
//! switching; a wrong password or an unknown address gets nothing. Every
//! answer is as the cloud's OpenAPI document (`/cloud/v1/openapi.json`,
//! where the app's cloud types come from) describes it.

use crate::{api, cloud};
use api::PASSWORD;
use cloud::{CloudProcess, hub_config, link, wait_in_sync};
use serde_json::{Value, json};

/// Whether `value` is as `schema` says: its types, every property it
/// requires, and no property it does not name.
fn conforms(value: &Value, schema: &Value, at: &str) -> Result<(), String> {
    if let Some(any) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        return any
            .iter()
            .find_map(|s| conforms(value, s, at).ok())
            .ok_or_else(|| format!("{at}: {value} is none of {any:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let documented = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    if !documented {
        return Err(format!("{at}: {kind}, documented as {types:?}"));
    }
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| conforms(item, &schema["items"], &format!("{at}[{i}]"))),
        Value::Object(fields) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !fields.contains_key(name) {
                    return Err(format!("{at}: no {name}, which is required"));
                }
            }
            let properties = &schema["properties"];
            fields
                .iter()
                .try_for_each(|(name, field)| match properties.get(name) {
                    Some(property) => conforms(field, property, &format!("{at}.{name}")),
                    None => Err(format!("{at}.{name} is not documented")),
                })
        }
        _ => Ok(()),
    }
}

/// The documented schema of `method path`'s 200 answer.
fn answer_schema<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    &doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
}

#[test]
fn a_person_in_two_households_logs_in_once_and_sees_both() {
    let tmp = tempfile::tempdir().unwrap();
    let cloud = CloudProcess::start(&tmp.path().join("cloud"));
    let mut tenants = Vec::new();
    let mut homes = Vec::new();
    for (name, device) in [("home", "Garage door"), ("cottage", "Boiler")] {
        let home = api::household_with(&tmp.path().join(name), &hub_config());
        let id = home.device(&home.root, device);
        let (_, _) = home.member("sam@example.org", &home.root, "user");
        let moved = home.api.post(
            &format!("/devices/{id}/transfer"),
            Some(&home.admin),
            json!({ "to": "sam@example.org" }),
        );
        assert_eq!(moved.status, 200, "{}", moved.body);
        home.device(&home.root, &format!("{device}'s neighbour"));
        tenants.push(link(&home, &cloud));
        homes.push(home);
    }
    for (home, tenant) in homes.iter().zip(&tenants) {
        wait_in_sync(home);
        // Each household is recorded on the cloud (its own login works).
        cloud::cloud_login(&cloud, tenant, "sam@example.org");
    }

    let doc = cloud.api.get("/cloud/v1/openapi.json", None);
    assert_eq!(doc.status, 200, "{}", doc.body);
    let doc = doc.body;
    let documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (path.clone(), m.clone()))
        })
        .collect();
    assert_eq!(documented.len(), 5, "{documented:?}");
    for (path, method) in &documented {
        // Without credentials every documented route answers as itself
        // (never "no such route"): 200 for the document, 400 for a login
        // without a body, 401 for the rest.
        let reply = cloud.api.call(
            &method.to_ascii_uppercase(),
            &format!("/cloud/v1{path}"),
            None,
            None,
        );
        let expected = match path.as_str() {
            "/openapi.json" => 200,
            "/login" => 400,
            _ => 401,
        };
        assert_eq!(reply.status, expected, "{method} {path}: {}", reply.body);
    }

    let login = cloud.api.post(
        "/cloud/v1/login",
        None,
        json!({ "email": "Sam@Example.org", "password": PASSWORD }),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    conforms(&login.body, answer_schema(&doc, "/login", "post"), "login").unwrap();
    let households = login.body["households"].as_array().unwrap();
    assert_eq!(households.len(), 2, "{}", login.body);
    for household in households {
        assert!(tenants.contains(&household["api"].as_str().unwrap().to_owned()));
    }
    let combined = login.body["token"].as_str().unwrap();
    let devices = cloud.api.get("/cloud/v1/devices", Some(combined));
    assert_eq!(devices.status, 200, "{}", devices.body);
    conforms(
        &devices.body,
        answer_schema(&doc, "/devices", "get"),
        "devices",
    )
    .unwrap();
    let me = cloud.api.get("/cloud/v1/me", Some(combined));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["households"].as_array().map(Vec::len), Some(2));
    conforms(&me.body, answer_schema(&doc, "/me", "get"), "me").unwrap();
    let mut seen: Vec<(String, String)> = devices
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["tenant"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let tenant_of = |api: &str| api.split('/').nth(2).unwrap().to_owned();
    assert_eq!(
        seen,
        [
            ("Boiler".to_owned(), tenant_of(&tenants[1])),
            ("Garage door".to_owned(), tenant_of(&tenants[0])),
        ],
        "their own devices in both households, nothing else"
    );
    // Each household's own session works on its own API too.
    let home_token = households
        .iter()
        .find(|h| h["api"] == tenants[0].as_str())
        .unwrap()["token"]
        .as_str()
        .unwrap();
    let own = cloud
        .api
        .get(&format!("{}/devices", tenants[0]), Some(home_token));
    assert_eq!(own.status, 200);

    for (email, password) in [
        ("sam@example.org", "not the password"),
        ("nobody@example.org", PASSWORD),
    ] {
        let refused = cloud.api.post(
            "/cloud/v1/login",
            None,
            json!({ "email": email, "password": password }),
        );
        assert_eq!(refused.status, 401, "{email}: {}", refused.body);
    }
    assert_eq!(cloud.api.get("/cloud/v1/devices", None).status, 401);
    assert_eq!(
        cloud.api.get("/cloud/v1/devices", Some("multi.00")).status,
        401
    );
}
