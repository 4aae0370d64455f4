//! Names wherever ids go: a household command's device, organization,
//! template, role or membership may be given by id, by name (any case), or
//! by the start of a name that only one has. The hub's own lists say what
//! the person may see, so nothing is found that they could not name
//! anyway; an ambiguous name lists the choices with their ids.

use serde_json::Value;

use super::{
    DeviceCommand, OrgCommand, Request, RoleCommand, ShareCommand, TemplateCommand, UserCommand,
};
use crate::client::Client;

/// One thing a name may mean: its id, its name, and what tells it apart
/// from others of the same name (its organization, an email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Candidate {
    pub id: String,
    pub name: String,
    pub context: String,
}

/// The id `wanted` means among `candidates` of `kind` ("device", …): an
/// exact id; else every exact name (any case); else every name it starts.
/// One is the answer; none or several say so, the several with their ids.
pub(super) fn pick(kind: &str, wanted: &str, candidates: &[Candidate]) -> Result<String, String> {
    if let Some(c) = candidates.iter().find(|c| c.id == wanted) {
        return Ok(c.id.clone());
    }
    let lower = wanted.to_lowercase();
    let exact: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.name.to_lowercase() == lower)
        .collect();
    let found = if exact.is_empty() {
        candidates
            .iter()
            .filter(|c| !lower.is_empty() && c.name.to_lowercase().starts_with(&lower))
            .collect()
    } else {
        exact
    };
    match found.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(format!(
            "no {kind} \"{wanted}\" among those you may see (`hearth {kind} list` shows them)"
        )),
        several => {
            let width = several.iter().map(|c| c.name.len()).max().unwrap_or(0);
            let lines: Vec<String> = several
                .iter()
                .map(|c| format!("  {:<width$}  {:<24}  {}", c.name, c.context, c.id))
                .collect();
            Err(format!(
                "\"{wanted}\" could be any of these; give its id or its whole name:\n{}",
                lines.join("\n")
            ))
        }
    }
}

/// What the hub lists for the person, fetched once per command.
struct Lists<'a> {
    client: &'a Client,
    orgs: Option<Vec<Value>>,
}

impl Lists<'_> {
    async fn get(&self, path: &str) -> Result<Vec<Value>, String> {
        let reply = self
            .client
            .call("GET", path, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(reply.ok()?.as_array().cloned().unwrap_or_default())
    }

    async fn orgs(&mut self) -> Result<&[Value], String> {
        if self.orgs.is_none() {
            self.orgs = Some(self.get("/orgs").await?);
        }
        Ok(self.orgs.as_deref().unwrap_or_default())
    }

    async fn org_name(&mut self, id: &str) -> String {
        let orgs = self.orgs().await.unwrap_or_default();
        orgs.iter()
            .find(|o| o["id"] == id)
            .and_then(|o| o["name"].as_str())
            .map_or_else(|| id.to_owned(), str::to_owned)
    }

    async fn org(&mut self, wanted: &mut String) -> Result<(), String> {
        let candidates: Vec<Candidate> = self
            .orgs()
            .await?
            .iter()
            .map(|o| Candidate {
                id: text(&o["id"]),
                name: text(&o["name"]),
                context: String::from("organization"),
            })
            .collect();
        *wanted = pick("org", wanted, &candidates)?;
        Ok(())
    }

    async fn device(&mut self, wanted: &mut String) -> Result<(), String> {
        let candidates: Vec<Candidate> = self
            .get("/devices")
            .await?
            .iter()
            .map(|d| Candidate {
                id: text(&d["id"]),
                name: text(&d["name"]),
                context: d["org_path"]
                    .as_array()
                    .map(|p| p.iter().map(text).collect::<Vec<_>>().join(" / "))
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "shared with you".into()),
            })
            .collect();
        *wanted = pick("device", wanted, &candidates)?;
        Ok(())
    }

    async fn in_org(&mut self, path: &str, kind: &str, wanted: &mut String) -> Result<(), String> {
        let mut candidates = Vec::new();
        for item in self.get(path).await? {
            candidates.push(Candidate {
                id: text(&item["id"]),
                name: text(&item["name"]),
                context: self.org_name(&text(&item["org"])).await,
            });
        }
        *wanted = pick(kind, wanted, &candidates)?;
        Ok(())
    }

    /// A role: a built-in one by its id or name (usable everywhere, even
    /// where the root that defines them is out of sight), else one the
    /// person may see.
    async fn role(&mut self, wanted: &mut String) -> Result<(), String> {
        let builtin = crate::tenancy::schema::builtin_roles()
            .into_iter()
            .find(|(id, name, _)| wanted == id || wanted.eq_ignore_ascii_case(name));
        if let Some((id, _, _)) = builtin {
            *wanted = id.to_owned();
            return Ok(());
        }
        self.in_org("/roles", "role", wanted).await
    }

    /// A membership by its id or by the member's email.
    async fn membership(&mut self, wanted: &mut String) -> Result<(), String> {
        let mut candidates = Vec::new();
        for m in self.get("/members").await? {
            candidates.push(Candidate {
                id: text(&m["membership"]),
                name: text(&m["email"]),
                context: self.org_name(&text(&m["org"])).await,
            });
        }
        *wanted = pick("user", wanted, &candidates)?;
        Ok(())
    }
}

/// A name for each id the audit may show: devices, organizations, and
/// people (their emails), as far as the person may see them.
pub(super) async fn directory(client: &Client) -> std::collections::HashMap<String, String> {
    let lists = Lists { client, orgs: None };
    let mut names = std::collections::HashMap::new();
    for (path, id, name) in [
        ("/devices", "id", "name"),
        ("/orgs", "id", "name"),
        ("/members", "user", "email"),
        ("/members", "membership", "email"),
        ("/roles", "id", "name"),
    ] {
        for item in lists.get(path).await.unwrap_or_default() {
            if let (Some(id), Some(name)) = (item[id].as_str(), item[name].as_str()) {
                names.insert(id.to_owned(), name.to_owned());
            }
        }
    }
    names
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Replaces every name in `request` by the id it means.
pub(super) async fn resolve(client: &Client, request: &mut Request) -> Result<(), String> {
    use DeviceCommand as D;
    let mut lists = Lists { client, orgs: None };
    match request {
        Request::Device(D::Add { org, template, .. }) => {
            lists.org(org).await?;
            if let Some(template) = template {
                lists.in_org("/templates", "template", template).await?;
            }
        }
        Request::Device(D::Transfer { device, org, .. }) => {
            lists.device(device).await?;
            if let Some(org) = org {
                lists.org(org).await?;
            }
        }
        Request::Device(D::Move { device, org }) => {
            lists.device(device).await?;
            lists.org(org).await?;
        }
        Request::Device(D::Template { device, template }) => {
            lists.device(device).await?;
            if template != "none" {
                lists.in_org("/templates", "template", template).await?;
            }
        }
        Request::Device(
            D::Rename { device, .. }
            | D::Delete { device }
            | D::Values { device }
            | D::History { device, .. }
            | D::Set { device, .. }
            | D::Token { device },
        ) => {
            lists.device(device).await?;
        }
        Request::Template(TemplateCommand::Add { org, .. }) => lists.org(org).await?,
        Request::Template(
            TemplateCommand::Edit { template, .. } | TemplateCommand::Delete { template },
        ) => lists.in_org("/templates", "template", template).await?,
        Request::Role(RoleCommand::Add { org, .. }) => lists.org(org).await?,
        Request::Role(RoleCommand::Edit { role, .. } | RoleCommand::Delete { role }) => {
            lists.role(role).await?;
        }
        Request::Org(OrgCommand::Add { parent, .. }) => lists.org(parent).await?,
        Request::Org(OrgCommand::Rename { org, .. } | OrgCommand::Delete { org }) => {
            lists.org(org).await?;
        }
        Request::User(UserCommand::Invite { org, role, .. }) => {
            lists.org(org).await?;
            lists.role(role).await?;
        }
        Request::User(UserCommand::Role { membership, role }) => {
            lists.membership(membership).await?;
            lists.role(role).await?;
        }
        Request::User(UserCommand::Remove { membership }) => lists.membership(membership).await?,
        Request::Share(
            ShareCommand::Add { device, .. }
            | ShareCommand::Who { device }
            | ShareCommand::List {
                device: Some(device),
            },
        ) => lists.device(device).await?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, name: &str, context: &str) -> Candidate {
        Candidate {
            id: id.into(),
            name: name.into(),
            context: context.into(),
        }
    }

    #[test]
    fn an_id_a_name_or_an_unambiguous_start_of_one() {
        let all = [
            c("a1", "Home", "organization"),
            c("b2", "Home Upstairs", "organization"),
            c("c3", "Garage", "organization"),
        ];
        assert_eq!(pick("org", "b2", &all).unwrap(), "b2");
        // The whole name wins over a longer one it starts.
        assert_eq!(pick("org", "home", &all).unwrap(), "a1");
        assert_eq!(pick("org", "Home Up", &all).unwrap(), "b2");
        assert_eq!(pick("org", "gar", &all).unwrap(), "c3");
        let none = pick("org", "Cellar", &all).unwrap_err();
        assert!(none.contains("no org \"Cellar\""), "{none}");
        let several = pick("org", "Ho", &all).unwrap_err();
        assert!(
            several.contains("could be any of these")
                && several.contains("a1")
                && several.contains("b2")
                && !several.contains("c3"),
            "{several}"
        );
        assert!(pick("org", "", &all).is_err());
    }

    #[test]
    fn the_same_name_twice_lists_both_with_what_tells_them_apart() {
        let all = [
            c("m1", "kim@example.org", "Home"),
            c("m2", "kim@example.org", "Family"),
        ];
        let err = pick("user", "Kim@example.org", &all).unwrap_err();
        assert!(err.contains("Home") && err.contains("Family"), "{err}");
        assert!(err.contains("m1") && err.contains("m2"), "{err}");
        assert_eq!(pick("user", "m2", &all).unwrap(), "m2");
    }
}
