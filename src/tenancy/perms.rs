//! Permissions and permission sets, and their text form in the document.
//!
//! A role's permission set is stored as **one scalar** (`"view_org_devices,
//! control_org_devices"`), never as a map of flags: two concurrent edits then
//! leave two conflicting values, and the reader takes their intersection, so a
//! permission removed on one side stays removed (DESIGN §3, revocation wins).

use std::fmt;

/// The permissions a role can hold (Blynk's four device permissions, plus
/// the administrative ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    ViewOrgDevices,
    ControlOrgDevices,
    ViewOwnDevices,
    ControlOwnDevices,
    ManageUsers,
    ManageDevices,
    ManageOrgs,
    ManageRoles,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::ViewOrgDevices,
        Permission::ControlOrgDevices,
        Permission::ViewOwnDevices,
        Permission::ControlOwnDevices,
        Permission::ManageUsers,
        Permission::ManageDevices,
        Permission::ManageOrgs,
        Permission::ManageRoles,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::ViewOrgDevices => "view_org_devices",
            Permission::ControlOrgDevices => "control_org_devices",
            Permission::ViewOwnDevices => "view_own_devices",
            Permission::ControlOwnDevices => "control_own_devices",
            Permission::ManageUsers => "manage_users",
            Permission::ManageDevices => "manage_devices",
            Permission::ManageOrgs => "manage_orgs",
            Permission::ManageRoles => "manage_roles",
        }
    }

    /// The permission as a person reads it ("Control Own Devices").
    pub fn label(self) -> &'static str {
        match self {
            Permission::ViewOrgDevices => "View Org Devices",
            Permission::ControlOrgDevices => "Control Org Devices",
            Permission::ViewOwnDevices => "View Own Devices",
            Permission::ControlOwnDevices => "Control Own Devices",
            Permission::ManageUsers => "Manage Users",
            Permission::ManageDevices => "Manage Devices",
            Permission::ManageOrgs => "Manage Organizations",
            Permission::ManageRoles => "Manage Roles",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions, as a bit mask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermSet(u8);

impl PermSet {
    pub const EMPTY: PermSet = PermSet(0);
    pub const ALL: PermSet = PermSet(u8::MAX);

    pub fn of(perms: &[Permission]) -> Self {
        PermSet(perms.iter().fold(0, |acc, p| acc | p.bit()))
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn union(self, other: PermSet) -> PermSet {
        PermSet(self.0 | other.0)
    }

    pub fn intersection(self, other: PermSet) -> PermSet {
        PermSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Can anyone holding this see any device at all?
    pub fn sees_devices(self) -> bool {
        self.contains(Permission::ViewOrgDevices)
            || self.contains(Permission::ControlOrgDevices)
            || self.contains(Permission::ViewOwnDevices)
            || self.contains(Permission::ControlOwnDevices)
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// The document form: sorted names joined by commas.
    pub fn to_text(self) -> String {
        self.iter()
            .map(Permission::name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The document form of one edit: `@<nonce>,` before the names, so
    /// every edit is a value of its own. Automerge stores a put of the value
    /// a register already shows as no new value, so without it an edit that
    /// rewrites a value that won an earlier conflict would drop out of the
    /// next merge and leave a concurrent edit standing alone (an escalation;
    /// DESIGN §3). Older readers skip the tag as an unknown name.
    pub fn to_text_tagged(self, nonce: &str) -> String {
        let names = self.to_text();
        if names.is_empty() {
            format!("@{nonce}")
        } else {
            format!("@{nonce},{names}")
        }
    }

    /// The tag of one edit's document form (the op that wrote it), if any.
    pub fn tag(text: &str) -> Option<String> {
        text.split(',')
            .find_map(|n| n.trim().strip_prefix('@'))
            .map(str::to_owned)
    }

    /// Reads the document form; unknown names (from a newer schema) are
    /// dropped, which can only ever take permissions away, and an edit's
    /// `@` tag is skipped.
    pub fn from_text(text: &str) -> Self {
        PermSet::of(
            &text
                .split(',')
                .filter(|n| !n.trim_start().starts_with('@'))
                .filter_map(|n| Permission::from_name(n.trim()))
                .collect::<Vec<_>>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_unknown_names_only_remove() {
        let set = PermSet::of(&[Permission::ViewOwnDevices, Permission::ManageRoles]);
        assert_eq!(set.to_text(), "view_own_devices,manage_roles");
        assert_eq!(PermSet::from_text(&set.to_text()), set);
        assert_eq!(
            PermSet::from_text("view_own_devices,launch_rockets"),
            PermSet::of(&[Permission::ViewOwnDevices])
        );
        assert_eq!(PermSet::ALL.iter().count(), 8);
        assert_eq!(PermSet::from_text(&set.to_text_tagged("abc")), set);
        assert_eq!(
            PermSet::from_text(&PermSet::EMPTY.to_text_tagged("abc")),
            PermSet::EMPTY
        );
        assert_ne!(set.to_text_tagged("a"), set.to_text_tagged("b"));
    }
}
