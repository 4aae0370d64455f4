//! Which API request each household command is: method, path and JSON
//! body. It never sends anything; [`request`](super::request) does.

use serde_json::{Value, json};

use super::{
    DeviceCommand, HubCommand, OrgCommand, Request, RoleCommand, ShareCommand, SyncCommand,
    TemplateCommand, UserCommand,
};

/// `id` as one segment of a path: a name that was not resolved (a typo
/// with a space) still makes a valid request, answered "not found".
fn seg(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub(super) fn route(request: &Request) -> (&'static str, String, Option<Value>) {
    use DeviceCommand as D;
    match request {
        Request::Device(D::List) => ("GET", "/devices".into(), None),
        Request::Device(D::Add {
            org,
            name,
            template,
        }) => (
            "POST",
            "/devices".into(),
            Some(json!({ "org": org, "name": name, "template": template })),
        ),
        Request::Device(D::Transfer { device, to, org }) => (
            "POST",
            format!("/devices/{}/transfer", seg(device)),
            Some(json!({ "to": to, "org": org })),
        ),
        Request::Device(D::Move { device, org }) => (
            "POST",
            format!("/devices/{}/move", seg(device)),
            Some(json!({ "org": org })),
        ),
        Request::Device(D::Rename { device, name }) => (
            "PATCH",
            format!("/devices/{}", seg(device)),
            Some(json!({ "name": name })),
        ),
        Request::Device(D::Template { device, template }) => (
            "PUT",
            format!("/devices/{}/template", seg(device)),
            Some(json!({ "template": (template != "none").then_some(template) })),
        ),
        Request::Device(D::Delete { device }) => {
            ("DELETE", format!("/devices/{}", seg(device)), None)
        }
        Request::Device(D::Values { device }) => {
            ("GET", format!("/devices/{}/values", seg(device)), None)
        }
        Request::Device(D::History {
            device,
            pin,
            hours,
            aggregation,
            limit,
        }) => {
            let from = crate::clock::Clock::system().now_ms() - i64::from(*hours) * 3_600_000;
            let mut query = format!(
                "pin={}&from={}&aggregation={}",
                seg(pin),
                from.max(0),
                seg(aggregation)
            );
            if let Some(limit) = limit {
                query.push_str(&format!("&limit={limit}"));
            }
            (
                "GET",
                format!("/devices/{}/history?{query}", seg(device)),
                None,
            )
        }
        Request::Device(D::Set { device, pin, value }) => {
            let value = match value.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            (
                "PUT",
                format!("/devices/{}/values/{}", seg(device), seg(pin)),
                Some(json!({ "value": value })),
            )
        }
        Request::Device(D::Token { device }) => {
            ("POST", format!("/devices/{}/token", seg(device)), None)
        }
        Request::Role(RoleCommand::List) => ("GET", "/roles".into(), None),
        Request::Role(RoleCommand::Add {
            org,
            name,
            permissions,
        }) => (
            "POST",
            "/roles".into(),
            Some(json!({ "org": org, "name": name, "permissions": permissions })),
        ),
        Request::Role(RoleCommand::Edit { role, permissions }) => (
            "PATCH",
            format!("/roles/{}", seg(role)),
            Some(json!({ "permissions": permissions })),
        ),
        Request::Role(RoleCommand::Delete { role }) => {
            ("DELETE", format!("/roles/{}", seg(role)), None)
        }
        Request::Template(TemplateCommand::List) => ("GET", "/templates".into(), None),
        Request::Template(TemplateCommand::Add {
            org,
            name,
            definition,
        }) => (
            "POST",
            "/templates".into(),
            Some(json!({ "org": org, "name": name, "definition": definition })),
        ),
        Request::Template(TemplateCommand::Edit {
            template,
            definition,
        }) => (
            "PATCH",
            format!("/templates/{}", seg(template)),
            Some(json!({ "definition": definition })),
        ),
        Request::Template(TemplateCommand::Delete { template }) => {
            ("DELETE", format!("/templates/{}", seg(template)), None)
        }
        Request::Org(OrgCommand::List) => ("GET", "/orgs".into(), None),
        Request::Org(OrgCommand::Add { parent, name }) => (
            "POST",
            "/orgs".into(),
            Some(json!({ "parent": parent, "name": name })),
        ),
        Request::Org(OrgCommand::Rename { org, name }) => (
            "PATCH",
            format!("/orgs/{}", seg(org)),
            Some(json!({ "name": name })),
        ),
        Request::Org(OrgCommand::Delete { org }) => ("DELETE", format!("/orgs/{}", seg(org)), None),
        Request::User(UserCommand::List) => ("GET", "/members".into(), None),
        Request::User(UserCommand::Invite { email, org, role }) => (
            "POST",
            "/members".into(),
            Some(json!({ "email": email, "org": org, "role": role })),
        ),
        Request::User(UserCommand::Role { membership, role }) => (
            "PATCH",
            format!("/members/{}", seg(membership)),
            Some(json!({ "role": role })),
        ),
        Request::User(UserCommand::Remove { membership }) => {
            ("DELETE", format!("/members/{}", seg(membership)), None)
        }
        Request::Share(ShareCommand::Add {
            device,
            with,
            control,
            hours,
        }) => {
            let expires =
                hours.map(|h| crate::clock::Clock::system().now_ms() + i64::from(h) * 3_600_000);
            let level = if *control { "control" } else { "view" };
            (
                "POST",
                format!("/devices/{}/shares", seg(device)),
                Some(json!({ "with": with, "level": level, "expires": expires })),
            )
        }
        Request::Share(ShareCommand::Who { device }) => {
            ("GET", format!("/devices/{}/access", seg(device)), None)
        }
        // Then each device's access ([`super::shares`]).
        Request::Share(ShareCommand::List { .. }) => ("GET", "/devices".into(), None),
        Request::Share(ShareCommand::Remove { share }) => {
            ("DELETE", format!("/shares/{}", seg(share)), None)
        }
        Request::Audit => ("GET", "/audit".into(), None),
        Request::Sync(SyncCommand::Status) => ("GET", "/sync/status".into(), None),
        Request::Sync(SyncCommand::Grant) => ("POST", "/sync/grants".into(), None),
        Request::Hub(HubCommand::Pair) => ("POST", "/hubs/pairing".into(), None),
        Request::Hub(HubCommand::Join {
            url,
            code,
            fingerprint,
        }) => (
            "POST",
            "/sync/join".into(),
            Some(json!({ "url": url, "code": code, "fingerprint": fingerprint })),
        ),
        Request::Hub(HubCommand::List) => ("GET", "/hubs".into(), None),
        Request::Hub(HubCommand::Revoke { id }) => ("DELETE", format!("/hubs/{}", seg(id)), None),
        Request::CloudLink {
            url,
            code,
            fingerprint,
        } => (
            "POST",
            "/cloud/link".into(),
            Some(json!({ "url": url, "code": code, "fingerprint": fingerprint })),
        ),
    }
}
