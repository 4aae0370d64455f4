//! Templates (a kind of device: its datastreams and events) and a device's
//! BLE identity. A template is defined in an organization and usable there
//! and below; its definition is written whole, as one value, so concurrent
//! edits never mix two definitions.

use super::devices::visible_device;
use super::{
    Caller, OpError, Tenant, device_names, new_id, non_empty, put_map, require, require_in_org,
    set_field,
};
use crate::tenancy::access::Access;
use crate::tenancy::perms::Permission;
use crate::tenancy::schema;
use crate::tenancy::state::Id;
use crate::tenancy::template::Definition;

impl Tenant {
    /// Defines a template in `org`; returns its id.
    ///
    /// # Errors
    /// [`OpError::Invalid`] naming the bad datastream or event, else as
    /// [`OpError`] says.
    pub fn create_template(
        &mut self,
        by: &Caller,
        org: &str,
        name: &str,
        definition: &Definition,
        now: i64,
    ) -> Result<Id, OpError> {
        let name = non_empty("template name", name)?;
        definition.validate().map_err(OpError::Invalid)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        require_in_org(&access, by, Permission::ManageDevices, org)?;
        let id = new_id();
        let text = definition_text(definition)?;
        let detail = serde_json::json!({ "name": name, "org": org });
        w.commit(by, "create_template", &id, detail, now, |tx| {
            put_map(
                tx,
                schema::TEMPLATES,
                &id,
                &[
                    ("name", name.as_str().into()),
                    ("org", org.into()),
                    ("definition", text.as_str().into()),
                    ("deleted", false.into()),
                ],
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Replaces a template's whole definition.
    ///
    /// # Errors
    /// As [`Tenant::create_template`].
    pub fn edit_template(
        &mut self,
        by: &Caller,
        template: &str,
        definition: &Definition,
        now: i64,
    ) -> Result<Id, OpError> {
        definition.validate().map_err(OpError::Invalid)?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let org = template_org(&access, by, template)?;
        require(&access, by, Permission::ManageDevices, &org)?;
        let text = definition_text(definition)?;
        let detail = serde_json::json!({ "datastreams": definition.datastreams.len() });
        w.commit(by, "edit_template", template, detail, now, |tx| {
            set_field(tx, schema::TEMPLATES, template, "definition", text.as_str())
        })
    }

    /// Deletes a template; refused while live devices use it (named).
    ///
    /// # Errors
    /// As [`OpError`] says.
    pub fn delete_template(
        &mut self,
        by: &Caller,
        template: &str,
        now: i64,
    ) -> Result<Id, OpError> {
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let org = template_org(&access, by, template)?;
        require(&access, by, Permission::ManageDevices, &org)?;
        let users = device_names(
            &access,
            by,
            state
                .devices()
                .values()
                .filter(|d| !d.deleted && d.template.as_deref() == Some(template)),
        );
        if !users.is_empty() {
            return Err(OpError::Refused(format!(
                "devices still use this template: {}; move them to another template or delete them first",
                users.join(", ")
            )));
        }
        w.commit(
            by,
            "delete_template",
            template,
            serde_json::json!({}),
            now,
            |tx| set_field(tx, schema::TEMPLATES, template, "deleted", true),
        )
    }

    /// Sets (or with `None` clears) the BLE MAC address a bridge reports
    /// `device` by. Refused if another live device already has it.
    ///
    /// # Errors
    /// [`OpError::Invalid`] for a malformed address, else as [`OpError`] says.
    pub fn set_ble_mac(
        &mut self,
        by: &Caller,
        device: &str,
        mac: Option<&str>,
        now: i64,
    ) -> Result<Id, OpError> {
        let mac = mac.map(normalize_mac).transpose()?;
        let (state, w) = self.writable()?;
        let access = Access::new(state, now);
        let d = visible_device(&access, by, device)?;
        let org = access.effective_org(d).unwrap_or_default().to_owned();
        require(&access, by, Permission::ManageDevices, &org)?;
        if let Some(mac) = &mac
            && let Some(other) = state
                .devices()
                .values()
                .find(|o| !o.deleted && o.id != device && o.ble_mac.as_ref() == Some(mac))
        {
            let sees_other = match by {
                Caller::Console => true,
                Caller::User(user) => access.device_level(user, other).is_some(),
            };
            return Err(OpError::Refused(if sees_other {
                format!(
                    "{mac} already identifies the device \"{}\"; clear it there first",
                    other.name
                )
            } else {
                format!(
                    "{mac} already identifies another device, one you cannot see; \
                     ask who manages it to clear it"
                )
            }));
        }
        let value = mac.clone().unwrap_or_default();
        w.commit(
            by,
            "set_ble_mac",
            device,
            serde_json::json!({ "mac": mac }),
            now,
            |tx| set_field(tx, schema::DEVICES, device, "ble_mac", value.as_str()),
        )
    }
}

/// The template's organization, if the caller can see it.
fn template_org(access: &Access<'_>, by: &Caller, template: &str) -> Result<Id, OpError> {
    let found = access
        .state
        .templates()
        .get(template)
        .filter(|t| !t.deleted && access.org_live(&t.org));
    let visible = match (found, by) {
        (Some(t), Caller::Console) => Some(t),
        (Some(t), Caller::User(u)) => access.visible_orgs(u).contains(t.org.as_str()).then_some(t),
        _ => None,
    };
    visible
        .map(|t| t.org.clone())
        .ok_or_else(|| OpError::NotFound(format!("template {template}")))
}

fn definition_text(definition: &Definition) -> Result<String, OpError> {
    serde_json::to_string(definition).map_err(|e| OpError::Internal(e.to_string()))
}

/// `aa-bb-cc-dd-ee-ff`, `AABBCCDDEEFF` or `aa:bb:…` → `AA:BB:CC:DD:EE:FF`.
///
/// # Errors
/// [`OpError::Invalid`] for anything that is not 6 hex bytes.
pub fn normalize_mac(mac: &str) -> Result<String, OpError> {
    let hex: String = mac
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(OpError::Invalid(format!(
            "{mac:?} is not a MAC address (six hex bytes, e.g. A4:C1:38:12:34:56)"
        )));
    }
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = (0..6).map(|i| &upper[i * 2..i * 2 + 2]).collect();
    Ok(pairs.join(":"))
}
